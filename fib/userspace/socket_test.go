package userspace

import (
	"bytes"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestLoopbackRoundTrip runs a packet through outbound, the real sockets
// (ESP-in-UDP on port 4500, then raw ESP), recvmmsg and inbound, on a
// random 127/8 address: a PE that tunnels to itself.
func TestLoopbackRoundTrip(t *testing.T) {
	local := netip.AddrFrom4([4]byte{127, 66, byte(time.Now().UnixNano() >> 8), byte(time.Now().UnixNano())})
	socks, err := esptransport.Open(local, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Skipf("cannot open the ESP sockets (root needed for raw ESP): %v", err)
	}
	defer socks.Close()
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
		send := esptransport.NewSendBatch(1)
		send.Reset(true)
		send.Add(pkt, &to.dst)
		if lost := socks.Send(send); lost != 0 {
			t.Fatalf("udp %v: lost %d", udp, lost)
		}
		rx := socks.ESP
		if udp {
			rx = socks.UDP
		}
		bufs := newBufs(1, inBufSize)
		var m esptransport.Batch
		m.Init(1)
		m.SetBufs(bufs, inHeadroom)
		if _, err := rx.RecvMmsg(&m); err != nil {
			t.Fatal(err)
		}
		size := m.Len(0)
		var v *vrf
		var io, il int
		switch {
		case udp:
			v, io, il, why = d.inboundUDP(bufs[0], inHeadroom, size, m.From(0))
		case rx.HeaderIncluded():
			v, io, il, why = d.inboundIP(bufs[0], inHeadroom, size)
		default:
			v, io, il, why = d.inbound(bufs[0], inHeadroom, size)
		}
		if why != dropNone || v == nil || v.name != "red" || !bytes.Equal(bufs[0][io:io+il], inner) {
			t.Errorf("udp %v: inbound drop %d, vrf %v, inner %d bytes", udp, why, v, il)
		}
		if from := m.From(0); from.Addr() != local {
			t.Errorf("udp %v: came from %s, want %s", udp, from, local)
		}
	}
}
