package fib_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
)

// ceVRF is red with two CE interfaces, a static route and a per-prefix
// label for a CE prefix; ceConnected are their addresses.
func ceVRF() fib.Config {
	return fib.Config{VRFs: []fib.VRFConfig{{Name: "red", Interfaces: []string{"ce1", "ce1b"}, StaticRoutes: []fib.StaticRoute{
		{Prefix: pfx("10.9.0.0/24"), NextHop: addr("10.1.255.9")},
	}}}}
}

var ceConnected = []fib.Connected{
	{Interface: "ce1", Prefix: pfx("10.1.255.1/24")},
	{Interface: "ce1b", Prefix: pfx("10.1.254.1/24")},
	{Interface: "ce1", Prefix: pfx("2001:db8:1:ff::1/64")},
}

// TestReconcilerCERoutes feeds CE routes as the bgp feed does, in the
// orders that matter, and checks the VRF's routes and labels after each
// step: the CE route is installed via the CE on the interface whose
// connected prefix holds it, ranks between static (1) and imported BGP
// (200), comes back when the route that beat it goes, and is neither
// installed nor guessed when its next hop is on no connected prefix.
func TestReconcilerCERoutes(t *testing.T) {
	type step struct {
		do     func(r *fib.Reconciler)
		routes []string // grep "route add 10." and "route add 2001"
		labels []string // grep "mpls"
	}
	ceAdd := func(p, nh string) func(r *fib.Reconciler) {
		return func(r *fib.Reconciler) {
			r.UpdateCERoute(fib.CERoute{VRF: "red", Prefix: pfx(p), NextHop: addr(nh)})
		}
	}
	ceDel := func(p string) func(r *fib.Reconciler) {
		return func(r *fib.Reconciler) { r.UpdateCERoute(fib.CERoute{VRF: "red", Prefix: pfx(p), Withdraw: true}) }
	}
	imported := func(p string) func(r *fib.Reconciler) {
		return func(r *fib.Reconciler) {
			r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx(p), Remote: addr("10.0.0.2"), Labels: labels(100)})
		}
	}
	setup := func(r *fib.Reconciler) { r.SetConfig(ceVRF()); r.SetConnected("red", ceConnected) }
	const (
		connected    = "ip route add 10.1.254.0/24 dev ce1b table 1000"
		connected1   = "ip route add 10.1.255.0/24 dev ce1 table 1000"
		connected6   = "ip -6 route add 2001:db8:1:ff::/64 dev ce1 table 1000"
		static       = "ip route add 10.9.0.0/24 via 10.1.255.9 dev ce1 table 1000"
		ceRoute      = "ip route add 10.2.0.0/24 via 10.1.254.2 dev ce1b table 1000"
		ceRouteMoved = "ip route add 10.2.0.0/24 via 10.1.255.2 dev ce1 table 1000"
		importedLine = "ip route add 10.2.0.0/24 dev pg-red table 1000 # via 10.0.0.2 label 100"
	)
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"add and withdraw", []step{
			{do: func(r *fib.Reconciler) { setup(r); ceAdd("10.2.0.0/24", "10.1.254.2")(r) },
				routes: []string{connected, connected1, ceRoute, static}},
			{do: ceAdd("10.2.0.0/24", "10.1.255.2"), routes: []string{connected, connected1, ceRouteMoved, static}},
			{do: ceAdd("2001:db8:2::/64", "2001:db8:1:ff::2"), routes: []string{connected, connected1, ceRouteMoved, static,
				"ip -6 route add 2001:db8:2::/64 via 2001:db8:1:ff::2 dev ce1 table 1000"}},
			{do: func(r *fib.Reconciler) { ceDel("10.2.0.0/24")(r); ceDel("2001:db8:2::/64")(r) },
				routes: []string{connected, connected1, static}},
		}},
		{"CE beats imported, imported comes back", []step{
			{do: func(r *fib.Reconciler) { setup(r); imported("10.2.0.0/24")(r) }, routes: []string{connected, connected1, importedLine, static}},
			{do: ceAdd("10.2.0.0/24", "10.1.254.2"), routes: []string{connected, connected1, ceRoute, static}},
			{do: ceDel("10.2.0.0/24"), routes: []string{connected, connected1, importedLine, static}},
		}},
		{"imported after CE still loses", []step{
			{do: func(r *fib.Reconciler) { setup(r); ceAdd("10.2.0.0/24", "10.1.254.2")(r); imported("10.2.0.0/24")(r) },
				routes: []string{connected, connected1, ceRoute, static}},
		}},
		{"static and connected beat CE, CE comes back", []step{
			{do: func(r *fib.Reconciler) {
				setup(r)
				ceAdd("10.9.0.0/24", "10.1.254.2")(r)
				ceAdd("10.1.255.0/24", "10.1.254.2")(r)
			}, routes: []string{connected, connected1, static}},
			{do: func(r *fib.Reconciler) {
				c := ceVRF()
				c.VRFs[0].StaticRoutes = nil
				r.SetConfig(c)
				r.SetConnected("red", ceConnected[1:])
			}, routes: []string{connected,
				"ip route add 10.1.255.0/24 via 10.1.254.2 dev ce1b table 1000",
				"ip route add 10.9.0.0/24 via 10.1.254.2 dev ce1b table 1000"}},
		}},
		{"next hop on no connected prefix", []step{
			{do: func(r *fib.Reconciler) { setup(r); ceAdd("10.2.0.0/24", "192.0.2.7")(r) }, routes: []string{connected, connected1, static}},
			{do: func(r *fib.Reconciler) {
				r.SetConnected("red", append([]fib.Connected{{Interface: "ce1b", Prefix: pfx("192.0.2.1/24")}}, ceConnected...))
			}, routes: []string{connected, connected1, static, "ip route add 192.0.2.0/24 dev ce1b table 1000",
				"ip route add 10.2.0.0/24 via 192.0.2.7 dev ce1b table 1000"}},
		}},
		{"per-prefix label forwards to the CE route", []step{
			{do: func(r *fib.Reconciler) {
				setup(r)
				r.UpdateLabel(fib.LabelUpdate{Label: label(2000), VRF: "red", Prefix: pfx("10.2.0.0/24")})
				ceAdd("10.2.0.0/24", "10.1.254.2")(r)
			}, routes: []string{connected, connected1, ceRoute, static},
				labels: []string{"ip -f mpls route add 2000 via inet 10.1.254.2 dev ce1b"}},
			{do: ceAdd("10.2.0.0/24", "10.1.255.2"), routes: []string{connected, connected1, ceRouteMoved, static},
				labels: []string{"ip -f mpls route add 2000 via inet 10.1.255.2 dev ce1"}},
			{do: ceDel("10.2.0.0/24"), routes: []string{connected, connected1, static},
				labels: []string{"ip -f mpls route add 2000 dev vrf-red"}}, // nothing to forward to: look up
		}},
		{"VRF not configured yet", []step{
			{do: func(r *fib.Reconciler) {
				r.SetConnected("red", ceConnected)
				ceAdd("10.2.0.0/24", "10.1.254.2")(r)
				ceAdd("10.3.0.0/24", "10.1.254.3")(r)
				ceDel("10.3.0.0/24")(r)
			}},
			{do: func(r *fib.Reconciler) { r.SetConfig(ceVRF()) }, routes: []string{connected, connected1, ceRoute, static}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, fb := startReconciler(t, fib.Options{})
			for i, st := range tc.steps {
				st.do(r)
				flush(t, r)
				lines := fb.Lines()
				got := append(grep(lines, "route add 10."), grep(lines, "route add 192.")...)
				got = append(got, grep(lines, "route add 2001")...)
				// The IPv6 connected route is in every step but one.
				got = slices.DeleteFunc(got, func(l string) bool { return l == connected6 })
				if d := diffLines(sortedCopy(st.routes), sortedCopy(got)); d != "" {
					t.Errorf("step %d routes:\n%s\nall lines:\n%s", i, d, strings.Join(lines, "\n"))
				}
				if d := diffLines(st.labels, grep(lines, "mpls")); d != "" {
					t.Errorf("step %d labels:\n%s", i, d)
				}
			}
		})
	}
}

// TestReconcilerCERouteUnresolvedCounted: a CE route whose next hop is on
// no connected prefix is kept out of the routes and listed in the VRF's
// Unresolved, and leaves it once it is installed.
func TestReconcilerCERouteUnresolvedCounted(t *testing.T) {
	r, _ := startReconciler(t, fib.Options{})
	r.SetConfig(ceVRF())
	r.SetConnected("red", ceConnected)
	r.UpdateCERoute(fib.CERoute{VRF: "red", Prefix: pfx("10.2.0.0/24"), NextHop: addr("192.0.2.7")})
	flush(t, r)
	v := r.State().VRFs["red"]
	if _, ok := v.Routes[pfx("10.2.0.0/24")]; ok || v.Unresolved[pfx("10.2.0.0/24")] != addr("192.0.2.7") || len(v.Unresolved) != 1 {
		t.Fatalf("route %+v, unresolved %v; want none installed and 10.2.0.0/24 via 192.0.2.7 unresolved", v.Routes[pfx("10.2.0.0/24")], v.Unresolved)
	}
	r.SetConnected("red", append([]fib.Connected{{Interface: "ce1", Prefix: pfx("192.0.2.1/24")}}, ceConnected...))
	flush(t, r)
	if v := r.State().VRFs["red"]; len(v.Unresolved) != 0 {
		t.Errorf("unresolved after the next hop became connected: %v", v.Unresolved)
	}
}

// TestReconcilerCEGolden is the state of a PE with CE routes beside the
// other kinds, as a golden file both backends' translations are read
// against.
func TestReconcilerCEGolden(t *testing.T) {
	r, fb := startReconciler(t, fib.Options{})
	r.SetConfig(ceVRF())
	r.SetConnected("red", ceConnected)
	r.UpdateCERoute(fib.CERoute{VRF: "red", Prefix: pfx("192.0.2.1/32"), NextHop: addr("10.1.255.2")})
	r.UpdateCERoute(fib.CERoute{VRF: "red", Prefix: pfx("2001:db8:c1::/48"), NextHop: addr("::ffff:10.1.254.2")})
	r.UpdateCERoute(fib.CERoute{VRF: "red", Prefix: pfx("10.9.0.0/24"), NextHop: addr("10.1.254.2")})  // static wins
	r.UpdateCERoute(fib.CERoute{VRF: "red", Prefix: pfx("10.7.0.0/24"), NextHop: addr("203.0.113.9")}) // off-link
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("198.51.100.1/32"), Remote: addr("10.0.0.2"), Labels: labels(100)})
	r.UpdateLabel(fib.LabelUpdate{Label: label(2000), VRF: "red", Prefix: pfx("192.0.2.1/32")})
	r.UpdateLabel(fib.LabelUpdate{Label: label(2001), VRF: "red", Prefix: pfx("2001:db8:c1::/48")})
	flush(t, r)
	checkGolden(t, "ce_routes", fb.Lines())
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
