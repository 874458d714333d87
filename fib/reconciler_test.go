package fib_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
)

// pe1Config is the lab's PE1: red on ce1, blue on ce2, the same customer
// addresses in both, and a tunnel to PE2.
func pe1Config() fib.Config {
	statics := []fib.StaticRoute{
		{Prefix: pfx("10.1.0.0/24"), NextHop: addr("10.1.255.2")},
		{Prefix: pfx("2001:db8:1::/64"), NextHop: addr("2001:db8:1:ff::2")},
	}
	return fib.Config{
		LocalAddress: addr("10.0.0.1"),
		VRFs: []fib.VRFConfig{
			{Name: "red", Interfaces: []string{"ce1"}, StaticRoutes: statics},
			{Name: "blue", Interfaces: []string{"ce2"}, StaticRoutes: statics},
		},
		Tunnels: []fib.Tunnel{{Remote: addr("10.0.0.2"), UDP: true, Out: sa(0x1001), In: sa(0x2001)}},
	}
}

func pe1Connected(r *fib.Reconciler) {
	for vrf, ce := range map[string]string{"red": "ce1", "blue": "ce2"} {
		r.SetConnected(vrf, []fib.Connected{
			{Interface: ce, Prefix: pfx("2001:db8:1:ff::1/64")},
			{Interface: ce, Prefix: pfx("10.1.255.1/24")},
		})
	}
}

// TestReconcilerPE1 feeds PE1's inputs the way the daemon will, and
// checks the result against a golden file: same prefixes in red and blue
// stay apart, each with its own PE, label and table.
func TestReconcilerPE1(t *testing.T) {
	r, fb := startReconciler(t, fib.Options{})
	r.SetConfig(pe1Config())
	pe1Connected(r)
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.2.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(100), RD: rd("65000:2")})
	r.UpdateRoute(fib.RouteUpdate{VRF: "blue", Prefix: pfx("10.2.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(200), RD: rd("65000:12")})
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("2001:db8:2::/64"), Remote: addr("::ffff:10.0.0.2"), Labels: labels(100), RD: rd("65000:2")})
	r.UpdateLabel(fib.LabelUpdate{Label: label(1000), VRF: "red"})
	r.UpdateLabel(fib.LabelUpdate{Label: label(1001), VRF: "blue", Prefix: pfx("10.1.0.0/24")})
	r.UpdateLabel(fib.LabelUpdate{Label: label(1002), VRF: "blue", Prefix: pfx("10.1.255.0/24")})
	flush(t, r)

	s := r.State()
	if got := s.VRFs["red"].Routes[pfx("10.2.0.0/24")]; got.Labels[0] != 100 {
		t.Errorf("red 10.2.0.0/24 = %+v, want label 100", got)
	}
	if got := s.VRFs["blue"].Routes[pfx("10.2.0.0/24")]; got.Labels[0] != 200 {
		t.Errorf("blue 10.2.0.0/24 = %+v, want label 200", got)
	}
	if got := s.VRFs["red"].Routes[pfx("2001:db8:2::/64")].Remote; got != addr("10.0.0.2") {
		t.Errorf("IPv4-mapped remote not unmapped: %v", got)
	}
	if d := diffLines(fake.Lines(s), fb.Lines()); d != "" {
		t.Errorf("fake did not apply the latest State:\n%s", d)
	}
	checkGolden(t, "reconciler_pe1", fb.Lines())
}

func TestReconcilerTablesStable(t *testing.T) {
	r, _ := startReconciler(t, fib.Options{})
	tables := func(cfgNames ...string) map[string]uint32 {
		var c fib.Config
		for _, n := range cfgNames {
			c.VRFs = append(c.VRFs, fib.VRFConfig{Name: n})
		}
		r.SetConfig(c)
		flush(t, r)
		out := map[string]uint32{}
		for n, v := range r.State().VRFs {
			out[n] = v.Table
		}
		return out
	}
	want := map[string]uint32{"red": 1000, "blue": 1001}
	if got := tables("red", "blue"); !maps.Equal(got, want) {
		t.Fatalf("tables = %v, want %v", got, want)
	}
	tables("blue")
	want = map[string]uint32{"green": 1002, "red": 1000, "blue": 1001}
	if got := tables("green", "red", "blue"); !maps.Equal(got, want) {
		t.Fatalf("after reloads, tables = %v, want %v", got, want)
	}
}

// TestReconcilerUnknownVRF: BGP inputs for a VRF that is not configured
// wait, out of the State, and appear when the VRF does; a withdrawal
// while it waits is honoured.
func TestReconcilerUnknownVRF(t *testing.T) {
	r, fb := startReconciler(t, fib.Options{})
	r.SetConfig(pe1Config())
	r.UpdateRoute(fib.RouteUpdate{VRF: "green", Prefix: pfx("10.9.0.0/16"), Remote: addr("10.0.0.2"), Labels: labels(300)})
	r.UpdateRoute(fib.RouteUpdate{VRF: "green", Prefix: pfx("10.8.0.0/16"), Remote: addr("10.0.0.2"), Labels: labels(301)})
	r.UpdateLabel(fib.LabelUpdate{Label: label(1010), VRF: "green"})
	flush(t, r)
	if _, ok := r.State().VRFs["green"]; ok || len(grep(fb.Lines(), "10.9.0.0")) != 0 || len(r.State().Labels) != 0 {
		t.Fatalf("unconfigured VRF installed:\n%s", strings.Join(fb.Lines(), "\n"))
	}
	r.UpdateRoute(fib.RouteUpdate{VRF: "green", Prefix: pfx("10.8.0.0/16"), Withdraw: true})
	c := pe1Config()
	c.VRFs = append(c.VRFs, fib.VRFConfig{Name: "green", Interfaces: []string{"ce5"}})
	r.SetConfig(c)
	flush(t, r)
	lines := fb.Lines()
	if len(grep(lines, "10.9.0.0/16 dev pg-green table 1002", "label 300")) != 1 {
		t.Errorf("held route not installed when its VRF appeared:\n%s", strings.Join(lines, "\n"))
	}
	if len(grep(lines, "10.8.0.0")) != 0 {
		t.Errorf("route withdrawn while held was installed")
	}
	if len(grep(lines, "ip -f mpls route add 1010 dev vrf-green")) != 1 {
		t.Errorf("held label not installed:\n%s", strings.Join(lines, "\n"))
	}
}

// TestReconcilerVRFRemoved: a reload without blue removes blue's device,
// rules, routes and labels, and only those; blue coming back finds its
// table number and (since bgp did not withdraw them) its routes.
func TestReconcilerVRFRemoved(t *testing.T) {
	r, fb := startReconciler(t, fib.Options{})
	r.SetConfig(pe1Config())
	pe1Connected(r)
	r.UpdateRoute(fib.RouteUpdate{VRF: "blue", Prefix: pfx("10.2.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(200)})
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.2.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(100)})
	r.UpdateLabel(fib.LabelUpdate{Label: label(1001), VRF: "blue"})
	flush(t, r)
	before := fb.Lines()

	c := pe1Config()
	c.VRFs = c.VRFs[:1]
	r.SetConfig(c)
	flush(t, r)
	diff := fb.LastDiff()
	if len(diff) == 0 {
		t.Fatal("removing blue changed nothing")
	}
	for _, cmd := range diff {
		blue := strings.Contains(cmd, "pg-blue") || strings.Contains(cmd, "table 1001") ||
			strings.Contains(cmd, "vrf-blue") || strings.Contains(cmd, "iif ce2 ")
		if !strings.Contains(cmd, " del ") || !blue {
			t.Errorf("removing blue ran %q", cmd)
		}
	}
	if got := grep(fb.Lines(), "blue"); len(got)+len(grep(fb.Lines(), "table 1001")) != 0 {
		t.Errorf("blue left behind: %q", got)
	}
	if len(grep(fb.Lines(), "pg-red table 1000", "label 100")) != 1 {
		t.Errorf("red lost its route")
	}

	r.SetConfig(pe1Config())
	pe1Connected(r) // the watcher reports again once the interface is back in a VRF
	flush(t, r)
	if d := diffLines(before, fb.Lines()); d != "" {
		t.Errorf("blue did not come back as it was:\n%s", d)
	}
}

// TestReconcilerStatics checks how static routes resolve and what beats
// what: connected over static over BGP.
func TestReconcilerStatics(t *testing.T) {
	r, fb := startReconciler(t, fib.Options{})
	c := fib.Config{VRFs: []fib.VRFConfig{{Name: "red", Interfaces: []string{"ce1", "ce1b"}, StaticRoutes: []fib.StaticRoute{
		{Prefix: pfx("10.1.0.0/24"), NextHop: addr("10.1.255.2")},
		{Prefix: pfx("10.3.0.0/24")}, // no next hop: export only
		{Prefix: pfx("10.4.0.0/24"), NextHop: addr("10.1.255.2")},
	}}}}
	r.SetConfig(c)
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.4.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(100)})
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.5.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(100)})
	r.UpdateLabel(fib.LabelUpdate{Label: label(2000), VRF: "red", Prefix: pfx("10.1.0.0/24")})
	r.UpdateLabel(fib.LabelUpdate{Label: label(2001), VRF: "red", Prefix: pfx("10.3.0.0/24")})
	flush(t, r)
	routes := grep(fb.Lines(), "route add 10.")
	want := []string{
		"ip route add 10.1.0.0/24 via 10.1.255.2 table 1000", // next hop not on any known prefix yet
		"ip route add 10.4.0.0/24 via 10.1.255.2 table 1000", // static beats BGP
		"ip route add 10.5.0.0/24 dev pg-red table 1000 # via 10.0.0.2 label 100",
	}
	if d := diffLines(want, routes); d != "" {
		t.Errorf("before connected:\n%s", d)
	}

	r.SetConnected("red", []fib.Connected{
		{Interface: "ce1", Prefix: pfx("10.1.0.1/16")},
		{Interface: "ce1b", Prefix: pfx("10.1.255.1/24")}, // longer match wins
		{Interface: "ce7", Prefix: pfx("10.5.0.1/24")},    // not red's: ignored
	})
	flush(t, r)
	want = []string{
		"ip route add 10.1.0.0/16 dev ce1 table 1000",
		"ip route add 10.1.0.0/24 via 10.1.255.2 dev ce1b table 1000",
		"ip route add 10.1.255.0/24 dev ce1b table 1000",
		"ip route add 10.4.0.0/24 via 10.1.255.2 dev ce1b table 1000",
		"ip route add 10.5.0.0/24 dev pg-red table 1000 # via 10.0.0.2 label 100",
	}
	if d := diffLines(want, grep(fb.Lines(), "route add 10.")); d != "" {
		t.Errorf("after connected:\n%s", d)
	}
	wantLabels := []string{
		"ip -f mpls route add 2000 via inet 10.1.255.2 dev ce1b",
		"ip -f mpls route add 2001 dev vrf-red", // no local route: look up
	}
	if d := diffLines(wantLabels, grep(fb.Lines(), "mpls")); d != "" {
		t.Errorf("labels:\n%s", d)
	}

	// The static goes: the BGP route it hid comes back.
	c.VRFs[0].StaticRoutes = c.VRFs[0].StaticRoutes[:2]
	r.SetConfig(c)
	flush(t, r)
	wantDiff := []string{
		"ip route del 10.4.0.0/24 via 10.1.255.2 dev ce1b table 1000",
		"ip route add 10.4.0.0/24 dev pg-red table 1000 # via 10.0.0.2 label 100",
	}
	if d := diffLines(wantDiff, fb.LastDiff()); d != "" {
		t.Errorf("removing a static:\n%s", d)
	}
}

// TestReconcilerOneInterface: a watcher that does not name interfaces is
// still usable for a VRF with one interface.
func TestReconcilerOneInterface(t *testing.T) {
	r, fb := startReconciler(t, fib.Options{})
	r.SetConfig(fib.Config{VRFs: []fib.VRFConfig{
		{Name: "red", Interfaces: []string{"ce1"}},
		{Name: "blue", Interfaces: []string{"ce2", "ce3"}},
	}})
	r.SetConnected("red", []fib.Connected{{Prefix: pfx("10.1.255.1/24")}})
	r.SetConnected("blue", []fib.Connected{{Prefix: pfx("10.1.255.1/24")}})
	flush(t, r)
	want := []string{"ip route add 10.1.255.0/24 dev ce1 table 1000"}
	if d := diffLines(want, grep(fb.Lines(), "10.1.255")); d != "" {
		t.Error(d)
	}
}

func TestReconcilerWithdrawMinimal(t *testing.T) {
	r, fb := startReconciler(t, fib.Options{})
	r.SetConfig(pe1Config())
	pe1Connected(r)
	flush(t, r)
	add := fib.RouteUpdate{VRF: "red", Prefix: pfx("10.2.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(100)}
	line := "ip route add 10.2.0.0/24 dev pg-red table 1000 # via 10.0.0.2 label 100"
	line101 := "ip route add 10.2.0.0/24 dev pg-red table 1000 # via 10.0.0.2 label 101"
	for _, step := range []struct {
		u    fib.RouteUpdate
		want []string
	}{
		{add, []string{line}},
		{add, nil}, // the same route again changes nothing
		{fib.RouteUpdate{VRF: "red", Prefix: pfx("10.2.0.1/24"), Remote: addr("10.0.0.2"), Labels: labels(101)},
			[]string{fake.Del(line), line101}},
		{fib.RouteUpdate{VRF: "red", Prefix: pfx("10.2.0.0/24"), Withdraw: true},
			[]string{fake.Del(line101)}},
	} {
		n := fb.Applies()
		r.UpdateRoute(step.u)
		flush(t, r)
		if fb.Applies() != n+1 {
			t.Errorf("%+v: %d Applies, want 1", step.u, fb.Applies()-n)
		}
		if d := diffLines(step.want, fb.LastDiff()); d != "" {
			t.Errorf("%+v:\n%s", step.u, d)
		}
	}
	if _, ok := r.State().VRFs["red"].Routes[pfx("10.2.0.0/24")]; ok {
		t.Error("withdrawn route still in State")
	}
}

// TestReconcilerReapply: Reapply has the backend apply the same State
// again (the kernel dropped some of it), once per burst, and changes
// nothing in it.
func TestReconcilerReapply(t *testing.T) {
	r, fb := startReconciler(t, fib.Options{})
	r.SetConfig(pe1Config())
	pe1Connected(r)
	flush(t, r)
	before, lines := fb.Applies(), fb.Lines()
	r.Reapply()
	flush(t, r)
	if got := fb.Applies(); got != before+1 {
		t.Errorf("after Reapply: %d applies, want %d", got, before+1)
	}
	if d := diffLines(lines, fb.Lines()); d != "" {
		t.Errorf("Reapply changed the State:\n%s", d)
	}
	flush(t, r)
	if got := fb.Applies(); got != before+1 {
		t.Errorf("a Flush after Reapply applied again: %d applies, want %d", got, before+1)
	}
}
