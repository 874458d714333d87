package userspace

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
)

// poolState is pe1State with two hosts of red's pool behind one NAT
// (198.51.100.7, ports 33001 and 33002), each its own attachment with its
// leased /32, as keying makes them: host 1 10.77.0.1 (in 0x7001, out
// 0x8001), host 2 10.77.0.2 (in 0x7002, out 0x8002).
func poolState() *fib.State {
	s := pe1State()
	for i, h := range []struct{ name, leased, remote string }{
		{"ra-red/10.77.0.1", "10.77.0.1/32", "198.51.100.7:33001"},
		{"ra-red/10.77.0.2", "10.77.0.2/32", "198.51.100.7:33002"},
	} {
		s.VRFs["red"].Routes[pfx(h.leased)] = fib.Route{Prefix: pfx(h.leased), Attachment: h.name}
		if s.Attachments == nil {
			s.Attachments = map[string]*fib.Attachment{}
		}
		s.Attachments[h.name] = &fib.Attachment{Name: h.name, VRF: "red", Pool: "ra-red", Client: h.name,
			Remote: netip.MustParseAddrPort(h.remote), UDP: true,
			Out: sa(0x8001+uint32(i), byte(8+2*i)), In: sa(0x7001+uint32(i), byte(7+2*i)),
			SitePrefixes: []netip.Prefix{pfx(h.leased)}, LocalPrefixes: []netip.Prefix{pfx("0.0.0.0/0")}}
	}
	return s
}

// TestPoolHostsInboundExact: a pool host may send from its own leased
// address only; from the other host's address (same pool, same VRF, same
// NAT) the packet is a ts-violation. The VRF's packet to each leased
// address is sealed for that host and sent to its NAT port.
func TestPoolHostsInboundExact(t *testing.T) {
	d := newTestDataplane(t, poolState())
	h1 := newGateway(t, sa(0x7001, 7), sa(0x8001, 8))
	h2 := newGateway(t, sa(0x7002, 9), sa(0x8002, 10))
	for _, tc := range []struct {
		name string
		h    gateway
		src  string
		why  drop
	}{
		{"host 1 from its lease", h1, "10.77.0.1", dropNone},
		{"host 2 from its lease", h2, "10.77.0.2", dropNone},
		{"host 1 as host 2", h1, "10.77.0.2", dropTSViolation},
		{"host 2 from elsewhere in the pool", h2, "10.77.0.3", dropTSViolation},
	} {
		inner := ipv4(tc.src, "10.1.0.2", 64, 100)
		buf, off, n := tc.h.sealed(t, inner, protoIPv4)
		v, _, _, why := d.inbound(buf, off, n)
		if why != tc.why || (why == dropNone) != (v != nil && v.name == "red") {
			t.Errorf("%s: drop %d into %v, want drop %d", tc.name, why, v, tc.why)
		}
	}
	for _, tc := range []struct {
		leased, port string
		h            gateway
	}{{"10.77.0.1", "198.51.100.7:33001", h1}, {"10.77.0.2", "198.51.100.7:33002", h2}} {
		inner := ipv4("10.1.0.2", tc.leased, 63, 200)
		buf := outBuf(inner)
		pkt, to, why := d.outbound(d.vrfs["red"], buf, outHeadroom, len(inner))
		if why != dropNone || to.dst.AddrPort().String() != tc.port {
			t.Fatalf("to %s: drop %d, sent to %v", tc.leased, why, to.dst.AddrPort())
		}
		if payload, _, err := tc.h.open.Open(buf, cap(buf)-cap(pkt), len(pkt)); err != nil || !bytes.Equal(payload, inner) {
			t.Fatalf("to %s: the host opens %x, %v", tc.leased, payload, err)
		}
	}
	st := d.stats()
	if a, b := st.Attachments["ra-red/10.77.0.1"], st.Attachments["ra-red/10.77.0.2"]; a.InPackets != 1 || a.TSViolation != 1 || b.InPackets != 1 || b.TSViolation != 1 {
		t.Errorf("counters: host 1 %+v host 2 %+v", a, b)
	}
}
