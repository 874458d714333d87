package esptransport

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// recorder is a Handler that remembers what it was handed, in order.
type recorder struct {
	kinds   []wire.Kind
	esp     [][]byte
	ike     [][]byte
	runs    int
	flushes int
}

func (r *recorder) ESP(buf []byte, off, n int, _ netip.AddrPort, inRun bool) {
	r.kinds = append(r.kinds, wire.KindESP)
	r.esp = append(r.esp, append([]byte(nil), buf[off:off+n]...))
	if inRun {
		r.runs++
	}
}

func (r *recorder) Control(d Datagram) {
	r.kinds = append(r.kinds, d.Kind)
	if d.Kind == wire.KindIKE {
		r.ike = append(r.ike, append([]byte(nil), d.Body...))
	}
}

func (r *recorder) Flush() { r.flushes++ }

func espPacket(spi uint32, n int) []byte {
	p := bytes.Repeat([]byte{0xab}, n)
	binary.BigEndian.PutUint32(p, spi)
	return p
}

func ikeDatagram(n int) []byte {
	p := make([]byte, wire.NonESPMarkerLen+n)
	for i := wire.NonESPMarkerLen; i < len(p); i++ {
		p[i] = byte(i)
	}
	return p
}

// TestReceiveDemux sends what port 4500 sees, ESP, IKE behind the
// non-ESP marker, a NAT-keepalive and a runt, to a socket served by
// Receive, and checks that each reached the Handler as what it is, in
// order, with its bytes (the IKE message without the marker).
func TestReceiveDemux(t *testing.T) {
	tx, rx, to := loopbackPair(t)
	sent := [][]byte{espPacket(0x1001, 200), ikeDatagram(40), {wire.KeepaliveByte}, {1, 2}, espPacket(0x1002, 100)}
	want := []wire.Kind{wire.KindESP, wire.KindIKE, wire.KindKeepalive, wire.KindMalformed, wire.KindESP}
	send := NewSendBatch(len(sent))
	send.Reset(false)
	for _, p := range sent {
		send.Add(p, to)
	}
	if lost := send.SendUDP(tx); lost != 0 {
		t.Fatalf("lost %d", lost)
	}
	ikeMsg := ikeDatagram(30)[wire.NonESPMarkerLen:]
	if err := tx.SendIKE(to.AddrPort(), ikeMsg); err != nil {
		t.Fatal(err)
	}
	want = append(want, wire.KindIKE)
	r := &recorder{}
	done := make(chan error, 1)
	// Receive runs until the socket closes; the recorder is read only
	// after that, so there is no race.
	go func() { done <- rx.Receive(newBufs(testBatch, testBufSize), testHeadroom, r) }()
	time.Sleep(200 * time.Millisecond)
	rx.Close()
	if err := <-done; err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(r.kinds) != len(want) {
		t.Fatalf("handed %v, want %v", r.kinds, want)
	}
	for i := range want {
		if r.kinds[i] != want[i] {
			t.Errorf("datagram %d: %v, want %v", i, r.kinds[i], want[i])
		}
	}
	if len(r.esp) != 2 || !bytes.Equal(r.esp[0], sent[0]) || !bytes.Equal(r.esp[1], sent[4]) {
		t.Errorf("ESP packets not handed over whole")
	}
	if len(r.ike) != 2 || !bytes.Equal(r.ike[0], sent[1][wire.NonESPMarkerLen:]) || !bytes.Equal(r.ike[1], ikeMsg) {
		t.Errorf("IKE message: got %x, want it without the marker", r.ike)
	}
	if r.flushes == 0 {
		t.Error("Flush never called")
	}
}

// TestReceiveGRORun: a GSO run comes back as a GRO run where the kernel
// has both, and Receive hands each packet of it over, in order, marked
// inRun.
func TestReceiveGRORun(t *testing.T) {
	tx, rx, to := loopbackPair(t)
	if !tx.GSO() || !rx.GRO() {
		t.Skip("the kernel offers no UDP GSO and GRO on loopback")
	}
	const n = 8
	send := NewSendBatch(n)
	send.Reset(true)
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = espPacket(uint32(0x2000+i), 500)
		send.Add(pkts[i], to)
	}
	if lost := send.SendUDP(tx); lost != 0 {
		t.Fatalf("lost %d", lost)
	}
	r := &recorder{}
	done := make(chan error, 1)
	go func() { done <- rx.Receive(newBufs(testBatch, testBufSize), testHeadroom, r) }()
	time.Sleep(200 * time.Millisecond)
	rx.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(r.esp) != n {
		t.Fatalf("handed %d ESP packets, want %d", len(r.esp), n)
	}
	for i := range pkts {
		if !bytes.Equal(r.esp[i], pkts[i]) {
			t.Errorf("packet %d differs", i)
		}
	}
	if r.runs != n {
		t.Errorf("%d packets marked inRun, want %d (one GRO run)", r.runs, n)
	}
}

// counter is a Handler that allocates nothing.
type counter struct{ esp, control int }

func (c *counter) ESP([]byte, int, int, netip.AddrPort, bool) { c.esp++ }
func (c *counter) Control(Datagram)                           { c.control++ }
func (c *counter) Flush()                                     {}

// TestDeliverAllocs: demultiplexing and handing over a received batch
// allocates nothing.
func TestDeliverAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are counted without the race detector")
	}
	tx, rx, to := loopbackPair(t)
	sent := [][]byte{espPacket(0x1001, 200), ikeDatagram(40), {wire.KeepaliveByte}}
	send := NewSendBatch(len(sent))
	bufs := newBufs(testBatch, testBufSize)
	var m Batch
	m.Init(testBatch)
	m.SetBufs(bufs, testHeadroom)
	c := &counter{}
	a := testing.AllocsPerRun(50, func() {
		send.Reset(false)
		for _, p := range sent {
			send.Add(p, to)
		}
		send.SendUDP(tx)
		for got := 0; got < len(sent); {
			k, err := rx.RecvMmsg(&m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range k {
				rx.deliver(&m, i, bufs[i], testHeadroom, c)
			}
			got += k
		}
	})
	if a != 0 {
		t.Errorf("%v allocations per batch, want 0", a)
	}
	if c.esp == 0 || c.control == 0 {
		t.Errorf("handed %d ESP and %d control datagrams", c.esp, c.control)
	}
}

// TestDemuxIP: a raw IPv4 socket's datagram starts with the IP header;
// DemuxIP finds the ESP packet behind it and the sender.
func TestDemuxIP(t *testing.T) {
	esp := espPacket(0x3003, 64)
	buf := make([]byte, 16+wire.MaxOuterHeaderLen+len(esp))
	off := 16 + wire.MaxOuterHeaderLen
	copy(buf[off:], esp)
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	start, err := wire.Encapsulate(buf, off, len(esp), wire.Path{Src: src, Dst: dst})
	if err != nil {
		t.Fatal(err)
	}
	d := DemuxIP(buf, start, off+len(esp)-start)
	if d.Kind != wire.KindESP || !bytes.Equal(buf[d.ESPOff:d.ESPOff+d.ESPLen], esp) || d.From.Addr() != src {
		t.Errorf("got %v at %d+%d from %v, want the ESP packet at %d from %v", d.Kind, d.ESPOff, d.ESPLen, d.From, off, src)
	}
	if d := DemuxIP(buf[:start+3], start, 3); d.Kind != wire.KindMalformed {
		t.Errorf("a truncated header: %v, want malformed", d.Kind)
	}
}
