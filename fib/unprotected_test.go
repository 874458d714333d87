package fib_test

import (
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestUnprotectedPeersReload: a reload that adds or removes an
// unprotected peer changes which remote PEs get plain MPLS, and leaves
// every VRF as it was (the backends see the same *fib.VRF: no route is
// rebuilt).
func TestUnprotectedPeersReload(t *testing.T) {
	r, _ := startReconciler(t, fib.Options{})
	cfg := fib.Config{
		LocalAddress: addr("10.0.0.1"),
		VRFs:         []fib.VRFConfig{{Name: "red", Interfaces: []string{"ce1"}}},
		Tunnels:      []fib.Tunnel{{Remote: addr("10.0.0.2"), Out: sa(0x1001), In: sa(0x2001)}},
	}
	r.SetConfig(cfg)
	for i, pe := range []string{"10.0.0.2", "10.0.0.3", "10.9.0.4"} {
		r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.2." + string(rune('0'+i)) + ".0/24"), Remote: addr(pe), Labels: labels(100)})
	}
	flush(t, r)
	before := r.State()
	for pe, want := range map[string]string{"10.0.0.2": "protected", "10.0.0.3": "none", "10.9.0.4": "none"} {
		if got := before.Protection(addr(pe)); got != want {
			t.Errorf("before: %s is %s, want %s", pe, got, want)
		}
	}

	cfg.UnprotectedPeers = []netip.Prefix{pfx("10.0.0.3/32"), pfx("::ffff:10.9.0.0/112")}
	cfg.MPLSInterfaces = []string{"core0"}
	cfg.LocalTransportLabels = []mpls.Label{100001}
	r.SetConfig(cfg)
	cfg.LocalTransportLabels[0] = 7 // the reconciler keeps its own copy
	flush(t, r)
	after := r.State()
	for pe, want := range map[string]string{"10.0.0.2": "protected", "10.0.0.3": "unprotected", "10.9.0.4": "unprotected",
		"10.10.0.1": "none", "10.0.0.4": "none"} {
		if got := after.Protection(addr(pe)); got != want {
			t.Errorf("after: %s is %s, want %s", pe, got, want)
		}
	}
	if after.VRFs["red"] != before.VRFs["red"] {
		t.Error("adding unprotected peers rebuilt VRF red")
	}
	if len(after.MPLSInterfaces) != 1 || after.MPLSInterfaces[0] != "core0" {
		t.Errorf("MPLSInterfaces %v", after.MPLSInterfaces)
	}

	if got := after.LocalTransportLabels; len(got) != 1 || got[0] != 100001 {
		t.Errorf("LocalTransportLabels %v, want [100001]", got)
	}

	cfg.UnprotectedPeers, cfg.LocalTransportLabels = nil, nil
	r.SetConfig(cfg)
	flush(t, r)
	if got := r.State().Protection(addr("10.0.0.3")); got != "none" {
		t.Errorf("after removing it, 10.0.0.3 is %s", got)
	}
	if got := r.State().LocalTransportLabels; got != nil {
		t.Errorf("after removing them, LocalTransportLabels %v", got)
	}
	if r.State().VRFs["red"] != before.VRFs["red"] {
		t.Error("removing unprotected peers rebuilt VRF red")
	}
}

// TestTunnelBeatsUnprotected: should a State have both (validation
// refuses it), the tunnel wins: never clear where keys exist.
func TestTunnelBeatsUnprotected(t *testing.T) {
	s := &fib.State{Tunnels: map[netip.Addr]*fib.Tunnel{addr("10.0.0.2"): {Remote: addr("10.0.0.2")}},
		UnprotectedPeers: []netip.Prefix{pfx("10.0.0.0/24")}}
	if s.IsUnprotected(addr("10.0.0.2")) || s.Protection(addr("10.0.0.2")) != "protected" {
		t.Error("a tunnel's remote inside an unprotected prefix is taken as unprotected")
	}
	if !s.IsUnprotected(addr("::ffff:10.0.0.9")) {
		t.Error("an IPv4-mapped remote inside the prefix is not unprotected")
	}
}

// TestProtectionAH: a PE reached through an AH tunnel is integrity-only,
// not "protected": its labels and packets cross the core readable.
func TestProtectionAH(t *testing.T) {
	pe := netip.MustParseAddr("10.0.0.2")
	s := &fib.State{Tunnels: map[netip.Addr]*fib.Tunnel{pe: {Remote: pe, Out: &fib.SAParams{SPI: 0x1001, AH: ah.HMACSHA256128}}}}
	if got := s.Protection(pe); got != "integrity-only" {
		t.Errorf("Protection = %q, want integrity-only", got)
	}
}
