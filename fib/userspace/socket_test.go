package userspace

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// loopbackPair opens two UDP sockets on 127.0.0.1 (ephemeral ports, not
// 4500) as the fast path opens its own, and a tunnel from one to the other.
func loopbackPair(t *testing.T) (tx, rx *socket, to *tunnelOut) {
	t.Helper()
	open := func() (*socket, netip.AddrPort) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Skipf("no loopback UDP: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := newSocket(c, true, false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return s, c.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	tx, _ = open()
	rx, at := open()
	to = &tunnelOut{remote: at.Addr(), udp: true}
	putSockaddr(&to.dst, at.Addr(), at.Port())
	return tx, rx, to
}

// TestSocketBatchGSO sends a run of equal packets and a shorter last one
// through sendBatch (one sendmmsg message with UDP_SEGMENT when the kernel
// offers GSO) and receives them with recvmmsg (one UDP_GRO run when it
// offers GRO): same bytes, same order, and no allocation either way.
func TestSocketBatchGSO(t *testing.T) {
	tx, rx, to := loopbackPair(t)
	const n = 12
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = bytes.Repeat([]byte{byte(i + 1)}, 1000)
	}
	pkts[n-1] = pkts[n-1][:300]
	send := newSendBatch(batchSize)
	bufs := newBufs(batchSize, inBufSize)
	var m mmsgs
	m.init(batchSize)
	m.setBufs(bufs, inHeadroom)
	if rx.gro {
		m.setControl()
	}
	t.Logf("GSO %v, GRO %v", tx.gso.Load(), rx.gro)

	roundTrip := func() (got [][]byte) {
		send.reset(tx.gso.Load())
		for _, p := range pkts {
			send.add(p, to)
		}
		if lost := tx.sendmmsg(&send.udp); lost != 0 {
			t.Fatalf("lost %d", lost)
		}
		for total := 0; total < n; {
			k, err := rx.recvmmsg(&m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range k {
				size, seg := int(m.hdrs[i].Len), m.groSize(i)
				if seg == 0 {
					seg = size
				}
				for o := 0; o < size; o += seg {
					got = append(got, bufs[i][inHeadroom+o:inHeadroom+min(o+seg, size)])
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
	if tx.gso.Load() && send.udp.n != 1 {
		t.Errorf("GSO: %d messages, want the run coalesced into 1", send.udp.n)
	}
	if raceEnabled {
		return
	}
	if a := testing.AllocsPerRun(50, func() {
		send.reset(tx.gso.Load())
		for _, p := range pkts {
			send.add(p, to)
		}
		tx.sendmmsg(&send.udp)
		for total := 0; total < n; {
			k, _ := rx.recvmmsg(&m)
			for i := range k {
				seg := m.groSize(i)
				if seg == 0 {
					seg = int(m.hdrs[i].Len)
				}
				total += (int(m.hdrs[i].Len) + seg - 1) / seg
			}
		}
	}); a != 0 {
		t.Errorf("sendmmsg and recvmmsg: %v allocations per batch, want 0", a)
	}
}

// TestLoopbackRoundTrip runs a packet through outbound, the real sockets
// (ESP-in-UDP on port 4500, then raw ESP), recvmmsg and inbound, on a
// random 127/8 address: a PE that tunnels to itself.
func TestLoopbackRoundTrip(t *testing.T) {
	local := netip.AddrFrom4([4]byte{127, 66, byte(time.Now().UnixNano() >> 8), byte(time.Now().UnixNano())})
	socks, err := openSockets(local, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Skipf("cannot open the ESP sockets (root needed for raw ESP): %v", err)
	}
	defer socks.close()
	for _, udp := range []bool{true, false} {
		s := &fib.State{
			LocalAddress: local,
			VRFs:         map[string]*fib.VRF{"red": vrfOf("red", 101, remote("10.2.0.0/24", local, 2001))},
			Labels:       map[mpls.Label]fib.LabelAction{2001: {Kind: fib.PopLookup, VRF: "red"}},
			Tunnels:      map[netip.Addr]*fib.Tunnel{local: {Remote: local, UDP: udp, Out: sa(0x1001, 1), In: sa(0x1001, 1)}},
		}
		d := newTestDataplane(t, s)
		inner := ipv4("10.1.0.2", "10.2.0.2", 63, 1000)
		pkt, to, why := d.outbound(d.vrfs["red"], outBuf(inner), outHeadroom, len(inner))
		if why != dropNone {
			t.Fatalf("outbound: drop %d", why)
		}
		send := newSendBatch(1)
		send.reset(true)
		send.add(pkt, to)
		if lost := socks.send(send); lost != 0 {
			t.Fatalf("udp %v: lost %d", udp, lost)
		}
		rx := socks.esp
		if udp {
			rx = socks.udp
		}
		bufs := newBufs(1, inBufSize)
		var m mmsgs
		m.init(1)
		m.setBufs(bufs, inHeadroom)
		if _, err := rx.recvmmsg(&m); err != nil {
			t.Fatal(err)
		}
		size := int(m.hdrs[0].Len)
		var v *vrf
		var io, il int
		switch {
		case udp:
			v, io, il, why = d.inboundUDP(bufs[0], inHeadroom, size, m.names[0].addrPort())
		case rx.hdrIncluded:
			v, io, il, why = d.inboundIP(bufs[0], inHeadroom, size)
		default:
			v, io, il, why = d.inbound(bufs[0], inHeadroom, size)
		}
		if why != dropNone || v == nil || v.name != "red" || !bytes.Equal(bufs[0][io:io+il], inner) {
			t.Errorf("udp %v: inbound drop %d, vrf %v, inner %d bytes", udp, why, v, il)
		}
		if from := m.names[0].addrPort(); from.Addr() != local {
			t.Errorf("udp %v: came from %s, want %s", udp, from, local)
		}
	}
}
