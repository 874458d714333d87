package kernel

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestTranslateCERoutes: CE-learned routes, fed to the reconciler as the
// bgp feed does, reach the kernel backend's translation as routes via
// the CE out of its interface in the VRF's table: a CE route beats an
// imported one, a static route beats the CE's, a CE on no connected
// prefix gets no route, and a CE prefix's per-prefix label forwards to
// the CE without a lookup.
func TestTranslateCERoutes(t *testing.T) {
	r := fib.NewReconciler(fake.New(), fib.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	defer r.Close()
	r.SetConfig(fib.Config{VRFs: []fib.VRFConfig{{Name: "red", Interfaces: []string{"ce1"}, StaticRoutes: []fib.StaticRoute{
		{Prefix: pfx("10.9.0.0/24"), NextHop: addr("10.1.0.9")},
	}}}})
	r.SetConnected("red", []fib.Connected{{Interface: "ce1", Prefix: pfx("10.1.0.1/24")}})
	for _, u := range []fib.CERoute{
		{VRF: "red", Prefix: pfx("192.0.2.1/32"), NextHop: addr("10.1.0.2")},
		{VRF: "red", Prefix: pfx("10.2.0.0/24"), NextHop: addr("10.1.0.2")},
		{VRF: "red", Prefix: pfx("10.9.0.0/24"), NextHop: addr("10.1.0.2")},
		{VRF: "red", Prefix: pfx("10.7.0.0/24"), NextHop: addr("203.0.113.9")},
	} {
		r.UpdateCERoute(u)
	}
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.2.0.0/24"), Remote: addr("192.168.2.2"), Labels: []mpls.Label{2001}})
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.3.0.0/24"), Remote: addr("192.168.2.2"), Labels: []mpls.Label{2001}})
	r.UpdateLabel(fib.LabelUpdate{Label: 1001, VRF: "red", Prefix: pfx("192.0.2.1/32")})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	k := newFakePE()
	d := translate(r.State(), coreDevs, k)
	if len(d.errs) > 0 {
		t.Fatal(d.errs)
	}
	want := slices.Concat(unreachables(1000), []string{
		"ip route add 10.1.0.0/24 dev ce1 table 1000",
		"ip route add 10.2.0.0/24 via 10.1.0.2 dev ce1 table 1000",
		"ip route add 10.3.0.0/24 encap mpls 2001 via 192.168.1.2 dev core table 1000",
		"ip route add 10.9.0.0/24 via 10.1.0.9 dev ce1 table 1000",
		"ip route add 192.0.2.1/32 via 10.1.0.2 dev ce1 table 1000",
		"ip -f mpls route add 1001 via inet 10.1.0.2 dev ce1",
	})
	if diff := lineDiff(d.lines(k.names()), want); diff != "" {
		t.Errorf("desired kernel state (- missing, + unexpected):\n%s", diff)
	}
	checkRouteInvariants(t, d)
}
