package userspace

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// newTestGateway is a Gateway's dataplane (labeled) with s's tunnels.
func newTestGateway(t testing.TB, local netip.Addr, tunnels map[netip.Addr]*fib.Tunnel) *dataplane {
	t.Helper()
	d := newDataplane(mpls.Uniform, nil, 0)
	d.labeled = &vrf{name: GatewayInbound}
	if _, _, err := d.update(&fib.State{LocalAddress: local, Tunnels: tunnels}, nil); err != nil {
		t.Fatalf("update: %v", err)
	}
	return d
}

// labeledBuf returns a buffer as mplsTUN.Read leaves it: the packet
// information header (EtherType etherType) and an MPLS packet, label over
// an IPv4 packet, at outHeadroom.
func labeledBuf(label mpls.Label, etherType uint16) (buf []byte, n int) {
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 1000)
	buf = make([]byte, outBufSize(1500))
	binary.BigEndian.PutUint16(buf[outHeadroom-2:], etherType)
	binary.BigEndian.PutUint32(buf[outHeadroom:], uint32(label)<<12|1<<8|63)
	copy(buf[outHeadroom+4:], inner)
	return buf, 4 + len(inner)
}

// TestGatewayCarriesLabelStacks: what the kernel labelled on PE1 is sealed
// with PE1's SA and, opened on PE2, handed to the kernel whole, label
// included, through the inbound TUN.
func TestGatewayCarriesLabelStacks(t *testing.T) {
	gw1 := newTestGateway(t, pe1Addr, pe1State().Tunnels)
	gw2 := newTestGateway(t, pe2Addr, pe2State().Tunnels)
	buf, n := labeledBuf(2001, etherTypeMPLS)
	want := bytes.Clone(buf[outHeadroom : outHeadroom+n])
	out := &vrf{name: "pgesp-0"}
	pkt, to, why := gw1.outboundLabeled(out, gw1.peer(pe2Addr), buf, outHeadroom, n)
	if why != dropNone {
		t.Fatalf("outboundLabeled: drop %d", why)
	}
	if to.remote != pe2Addr || !to.udp || binary.BigEndian.Uint32(pkt) != 0x1001 {
		t.Fatalf("sealed for %v udp=%v SPI %#x, want %v udp SPI 0x1001", to.remote, to.udp, binary.BigEndian.Uint32(pkt), pe2Addr)
	}
	if bytes.Contains(pkt, want[4:40]) {
		t.Fatal("the inner packet is in clear in the ESP packet")
	}
	rbuf := make([]byte, inBufSize)
	copy(rbuf[inHeadroom:], pkt)
	v, io, il, why := gw2.inbound(rbuf, inHeadroom, len(pkt))
	if why != dropNone || v != gw2.labeled {
		t.Fatalf("inbound: drop %d, vrf %v; want the inbound TUN", why, v)
	}
	if got := rbuf[io : io+il]; !bytes.Equal(got, want) {
		t.Errorf("delivered % x..., want the MPLS packet % x...", got[:8], want[:8])
	}
	if io-tunOffset < 0 || io < piLen {
		t.Errorf("no room for the packet information in front of the delivered packet (offset %d)", io)
	}
	if c := out.stats(); c.OutPackets != 1 || c.OutBytes != uint64(n) {
		t.Errorf("outbound counters %+v", c)
	}
	if c := gw2.labeled.stats(); c.InPackets != 1 || c.InBytes != uint64(n) {
		t.Errorf("inbound counters %+v", c)
	}
}

// TestGatewayFailsClosed: a remote PE with no tunnel or no outbound SA
// gets nothing sent, and what is not MPLS is not sealed; each drop is
// counted, and none allocates.
func TestGatewayFailsClosed(t *testing.T) {
	pe3, pe4 := addr("192.0.2.3"), addr("192.0.2.4")
	tunnels := pe1State().Tunnels
	tunnels[pe4] = &fib.Tunnel{Remote: pe4} // no SA
	gw := newTestGateway(t, pe1Addr, tunnels)
	for _, tc := range []struct {
		name      string
		remote    netip.Addr
		etherType uint16
		want      drop
	}{
		{"sealed", pe2Addr, etherTypeMPLS, dropNone},
		{"no tunnel", pe3, etherTypeMPLS, dropNoTunnel},
		{"no SA", pe4, etherTypeMPLS, dropNoSA},
		{"IPv4, not MPLS", pe2Addr, 0x0800, dropMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, p := &vrf{name: "pgesp-0"}, gw.peer(tc.remote)
			buf, n := labeledBuf(2001, tc.etherType)
			head := bytes.Clone(buf[outHeadroom-piLen : outHeadroom+40])
			assertNoAllocs(t, tc.name, func() {
				copy(buf[outHeadroom-piLen:], head) // Seal encrypted the last one
				if _, _, why := gw.outboundLabeled(v, p, buf, outHeadroom, n); why != tc.want {
					t.Fatalf("drop %d, want %d", why, tc.want)
				}
			})
			if tc.want != dropNone && v.cnt.outDrops[tc.want].Load() == 0 {
				t.Errorf("drop %d not counted", tc.want)
			}
		})
	}
}

// TestGatewayInboundAllocs: opening and handing over allocates nothing.
func TestGatewayInboundAllocs(t *testing.T) {
	gw1 := newTestGateway(t, pe1Addr, pe1State().Tunnels)
	gw2 := newTestGateway(t, pe2Addr, pe2State().Tunnels)
	type sealed struct {
		buf []byte
		n   int
	}
	pkts := make([]sealed, allocRuns+1)
	for i := range pkts {
		buf, n := labeledBuf(2001, etherTypeMPLS)
		pkt, _, why := gw1.outboundLabeled(&vrf{}, gw1.peer(pe2Addr), buf, outHeadroom, n)
		if why != dropNone {
			t.Fatalf("outboundLabeled: drop %d", why)
		}
		rbuf := make([]byte, inBufSize)
		copy(rbuf[inHeadroom:], pkt)
		pkts[i] = sealed{rbuf, len(pkt)}
	}
	i := 0
	assertNoAllocs(t, "inbound", func() {
		p := pkts[i]
		i++
		if v, _, _, why := gw2.inbound(p.buf, inHeadroom, p.n); why != dropNone || v != gw2.labeled {
			t.Fatalf("inbound: drop %d", why)
		}
	})
}

// TestGatewaySealsByLane: with two resources toward PE2, what the
// Gateway reads from its TUN's queues 0 and 1 is sealed with SAs 0x1001
// and 0x1002, each counting its own sequence from 1, and PE2 opens both;
// sealing on either lane allocates nothing.
func TestGatewaySealsByLane(t *testing.T) {
	gw1 := newTestGateway(t, pe1Addr, pe1Resources().Tunnels)
	gw2 := newTestGateway(t, pe2Addr, pe2Resources().Tunnels)
	p := gw1.peer(pe2Addr)
	out := &vrf{name: "pgesp-0"}
	want := []uint32{0x1001, 0x1002, 0x1001, 0x1002}
	for lane, w := range want {
		buf, n := labeledBuf(2001, etherTypeMPLS)
		pkt, _, why := gw1.outboundLabeledLane(out, p, lane, buf, outHeadroom, n)
		if why != dropNone {
			t.Fatalf("lane %d: drop %d", lane, why)
		}
		if spi, seq := binary.BigEndian.Uint32(pkt), binary.BigEndian.Uint32(pkt[4:]); spi != w || seq != uint32(lane/2+1) {
			t.Errorf("lane %d sealed with SPI %#x sequence %d, want SPI %#x sequence %d", lane, spi, seq, w, lane/2+1)
		}
		rbuf := make([]byte, inBufSize)
		copy(rbuf[inHeadroom:], pkt)
		if v, _, _, why := gw2.inbound(rbuf, inHeadroom, len(pkt)); why != dropNone || v != gw2.labeled {
			t.Errorf("lane %d: PE2 inbound drop %d", lane, why)
		}
	}
	sealed := map[uint32]uint64{}
	for _, c := range gw1.stats().SAs {
		if c.Outbound {
			sealed[c.SPI] = c.SealedPackets
		}
	}
	if sealed[0x1001] != 2 || sealed[0x1002] != 2 {
		t.Errorf("sealed per SA = %v, want 2 each on 0x1001 and 0x1002", sealed)
	}
	buf, n := labeledBuf(2001, etherTypeMPLS)
	head := bytes.Clone(buf[outHeadroom-piLen : outHeadroom+40])
	lane := 0
	assertNoAllocs(t, "outboundLabeledLane", func() {
		copy(buf[outHeadroom-piLen:], head) // Seal encrypted the last one
		if _, _, why := gw1.outboundLabeledLane(out, p, lane, buf, outHeadroom, n); why != dropNone {
			t.Fatalf("drop %d", why)
		}
		lane++
	})
}
