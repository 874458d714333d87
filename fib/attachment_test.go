package fib_test

import (
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
)

// TestReconcilerAttachment: an attachment with an outbound SA routes its
// site prefixes in its VRF through it (beating a CE and an imported route,
// beaten by a static one); without one (down) the routes go and nothing
// else takes the prefix but what was there before; a per-prefix label
// for an attachment prefix looks up in the VRF rather than forwarding to
// an interface; the other VRF sees nothing.
func TestReconcilerAttachment(t *testing.T) {
	r, fb := startReconciler(t, fib.Options{})
	att := fib.Attachment{
		Name: "site-red", VRF: "red", Remote: netip.MustParseAddrPort("10.0.9.2:4500"), UDP: true,
		Out: sa(0x1001), In: sa(0x2001),
		SitePrefixes:  []netip.Prefix{pfx("10.9.0.0/24"), pfx("10.9.1.0/24")},
		LocalPrefixes: []netip.Prefix{pfx("0.0.0.0/0")},
	}
	cfg := fib.Config{VRFs: []fib.VRFConfig{{Name: "red"}, {Name: "blue"}}, Attachments: []fib.Attachment{att}}
	r.SetConfig(cfg)
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.9.1.0/24"), Remote: addr("10.0.0.2"), Labels: labels(100)})
	r.UpdateRoute(fib.RouteUpdate{VRF: "blue", Prefix: pfx("10.9.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(200)})
	r.UpdateLabel(fib.LabelUpdate{Label: 1001, VRF: "red", Prefix: pfx("10.9.0.0/24")})
	flush(t, r)
	want := []string{
		"ip route add 10.9.0.0/24 dev pg-blue table 1001 # via 10.0.0.2 label 200",
		"ip route add 10.9.0.0/24 dev pg-red table 1000 # attachment site-red",
		"ip route add 10.9.1.0/24 dev pg-red table 1000 # attachment site-red",
	}
	if d := diffLines(want, grep(fb.Lines(), "route add 10.9.")); d != "" {
		t.Errorf("up:\n%s", d)
	}
	if got := grep(fb.Lines(), "mpls route add 1001"); len(got) != 1 || got[0] != "ip -f mpls route add 1001 dev vrf-red" {
		t.Errorf("per-prefix label of an attachment prefix: %q, want a lookup in red", got)
	}
	if got := grep(fb.Lines(), "# attachment add site-red vrf red remote 10.0.9.2:4500 udp"); len(got) != 1 {
		t.Errorf("attachment line missing: %q", fb.Lines())
	}

	red := r.State().VRFs["red"]
	att.Out, att.In = sa(0x1002), sa(0x2002) // a rekey: same routes
	cfg.Attachments = []fib.Attachment{att}
	r.SetConfig(cfg)
	flush(t, r)
	if r.State().VRFs["red"] != red {
		t.Error("a rekey rebuilt the VRF's routes")
	}
	if a := r.State().Attachments["site-red"]; a == nil || a.Out.SPI != 0x1002 {
		t.Errorf("rekeyed attachment: %+v", a)
	}

	att.Out = nil // down: fail closed
	cfg.Attachments = []fib.Attachment{att}
	r.SetConfig(cfg)
	flush(t, r)
	want = []string{
		"ip route add 10.9.0.0/24 dev pg-blue table 1001 # via 10.0.0.2 label 200",
		"ip route add 10.9.1.0/24 dev pg-red table 1000 # via 10.0.0.2 label 100",
	}
	if d := diffLines(want, grep(fb.Lines(), "route add 10.9.")); d != "" {
		t.Errorf("down:\n%s", d)
	}
}
