package esptransport

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

const (
	testBatch    = 128
	testHeadroom = 16
	testBufSize  = testHeadroom + 65535
)

func newBufs(n, size int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs
}

// loopbackPair opens two UDP sockets on 127.0.0.1 (ephemeral ports, not
// 4500) as Open opens its own, and a destination from one to the other.
func loopbackPair(t *testing.T) (tx, rx *Socket, to *Dest) {
	t.Helper()
	open := func() (*Socket, netip.AddrPort) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Skipf("no loopback UDP: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := NewSocket(c, true, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s, c.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	tx, _ = open()
	rx, at := open()
	d := DestUDP(at)
	return tx, rx, &d
}

// TestSocketBatchGSO sends a run of equal packets and a shorter last one
// through SendBatch (one sendmmsg message with UDP_SEGMENT when the kernel
// offers GSO) and receives them with RecvMmsg (one UDP_GRO run when it
// offers GRO): same bytes, same order, and no allocation either way.
func TestSocketBatchGSO(t *testing.T) {
	tx, rx, to := loopbackPair(t)
	const n = 12
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = bytes.Repeat([]byte{byte(i + 1)}, 1000)
	}
	pkts[n-1] = pkts[n-1][:300]
	send := NewSendBatch(testBatch)
	bufs := newBufs(testBatch, testBufSize)
	var m Batch
	m.Init(testBatch)
	m.SetBufs(bufs, testHeadroom)
	if rx.GRO() {
		m.SetControl()
	}
	t.Logf("GSO %v, GRO %v", tx.GSO(), rx.GRO())

	roundTrip := func() (got [][]byte) {
		send.Reset(tx.GSO())
		for _, p := range pkts {
			send.Add(p, to)
		}
		if lost := send.SendUDP(tx); lost != 0 {
			t.Fatalf("lost %d", lost)
		}
		for total := 0; total < n; {
			k, err := rx.RecvMmsg(&m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range k {
				size, seg := m.Len(i), m.GROSize(i)
				if seg == 0 {
					seg = size
				}
				for o := 0; o < size; o += seg {
					got = append(got, bufs[i][testHeadroom+o:testHeadroom+min(o+seg, size)])
					total++
				}
			}
		}
		return got
	}
	got := roundTrip()
	if len(got) != n {
		t.Fatalf("received %d packets, want %d", len(got), n)
	}
	for i := range got {
		if !bytes.Equal(got[i], pkts[i]) {
			t.Errorf("packet %d: %d bytes of %d, want %d of %d", i, len(got[i]), got[i][0], len(pkts[i]), pkts[i][0])
		}
	}
	if udp, _ := send.Messages(); tx.GSO() && udp != 1 {
		t.Errorf("GSO: %d messages, want the run coalesced into 1", udp)
	}
	if raceEnabled {
		return
	}
	if a := testing.AllocsPerRun(50, func() {
		send.Reset(tx.GSO())
		for _, p := range pkts {
			send.Add(p, to)
		}
		send.SendUDP(tx)
		for total := 0; total < n; {
			k, _ := rx.RecvMmsg(&m)
			for i := range k {
				seg := m.GROSize(i)
				if seg == 0 {
					seg = m.Len(i)
				}
				total += (m.Len(i) + seg - 1) / seg
			}
		}
	}); a != 0 {
		t.Errorf("sendmmsg and recvmmsg: %v allocations per batch, want 0", a)
	}
}
