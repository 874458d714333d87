package userspace

import (
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
)

// withTunnel is s with its only tunnel (to pe2) keyed by in and out, at
// tunnels version v.
func withTunnel(s *fib.State, v uint64, in, out *fib.SAParams) *fib.State {
	c := *s
	c.TunnelsVersion = v
	c.Tunnels = map[netip.Addr]*fib.Tunnel{pe2Addr: {Remote: pe2Addr, UDP: true, Out: out, In: in}}
	return &c
}

// TestTunnelLaneNewerWins: tunnels the lane installed (ApplyTunnels, a
// rekey's new SA) stay when an Apply of an older State, built before the
// rekey and still under way, reaches the fast path; the State's routes
// are applied all the same. An equal version is applied again. A child
// deleted on the lane leaves at once, and an older Apply does not bring
// it back (fail closed).
func TestTunnelLaneNewerWins(t *testing.T) {
	base := pe1State()
	d := newTestDataplane(t, withTunnel(base, 1, sa(0x2001, 2), sa(0x1001, 1)))

	// The lane installs version 2: a rekey's new inbound SA beside the old.
	lane := withTunnel(&fib.State{LocalAddress: base.LocalAddress}, 2, sa(0x2002, 4), sa(0x1001, 1))
	lane.Tunnels[pe2Addr].RetiringIn = []*fib.SAParams{sa(0x2001, 2)}
	lane.VRFs, lane.Labels = nil, nil
	if errs := d.installTunnels(lane); len(errs) > 0 {
		t.Fatal(errs)
	}
	if d.spis.Lookup(0x2002) == nil || d.spis.Lookup(0x2001) == nil {
		t.Fatalf("after the lane: want 0x2002 and 0x2001 open")
	}

	// An Apply of version 1 with a new route: the route goes in, the
	// tunnels stay at version 2.
	old := withTunnel(base, 1, sa(0x2001, 2), sa(0x1001, 1))
	red := *old.VRFs["red"]
	red.Routes = map[netip.Prefix]fib.Route{}
	for p, r := range old.VRFs["red"].Routes {
		red.Routes[p] = r
	}
	red.Routes[pfx("10.3.0.0/24")] = remote("10.3.0.0/24", pe2Addr, 2001)
	old.VRFs = map[string]*fib.VRF{"red": &red, "blue": old.VRFs["blue"]}
	if _, _, err := d.update(old, nil); err != nil {
		t.Fatal(err)
	}
	if d.spis.Lookup(0x2002) == nil {
		t.Fatalf("an older Apply closed the lane's newer inbound SA 0x2002")
	}
	if d.vrfs["red"].applied != &red {
		t.Fatalf("the older Apply's routes were not applied")
	}
	if p := d.peers[pe2Addr]; p == nil || p.out.Load() == nil || p.out.Load().sa == nil {
		t.Fatalf("the tunnel to pe2 stopped sealing after an older Apply")
	}

	// The lane deletes the child (version 3: no tunnel): it leaves at
	// once, and an older Apply does not bring it back.
	gone := &fib.State{LocalAddress: base.LocalAddress, TunnelsVersion: 3}
	if errs := d.installTunnels(gone); len(errs) > 0 {
		t.Fatal(errs)
	}
	check := func(when string) {
		t.Helper()
		if d.spis.Lookup(0x2002) != nil || d.spis.Lookup(0x2001) != nil {
			t.Fatalf("%s: a deleted child's inbound SA still opens", when)
		}
		if p := d.peers[pe2Addr]; p != nil && p.out.Load() != nil {
			t.Fatalf("%s: the tunnel to pe2 still seals after its delete", when)
		}
	}
	check("after the lane's delete")
	if _, _, err := d.update(withTunnel(base, 2, sa(0x2002, 4), sa(0x1001, 1)), nil); err != nil {
		t.Fatal(err)
	}
	check("after an older Apply")

	// The same version again (the Apply of the newest State) converges.
	back := withTunnel(base, 3, sa(0x2003, 5), sa(0x1003, 6))
	if _, _, err := d.update(back, nil); err != nil {
		t.Fatal(err)
	}
	if d.spis.Lookup(0x2003) == nil {
		t.Fatalf("an Apply of the installed version was not applied")
	}
}
