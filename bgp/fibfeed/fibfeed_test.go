package fibfeed_test

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/fibfeed"
	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestFeedInstallsBGPEvents runs bgp's events, as the speaker emits them
// for a VRF with a CE and an imported route, through Run into a
// reconciler over the fake backend, and reads the ip lines: every kind of
// event reaches the FIB, in order (the CE route is replaced, then
// withdrawn), and the CE prefix's per-prefix label forwards to the CE.
func TestFeedInstallsBGPEvents(t *testing.T) {
	fb := fake.New()
	r := fib.NewReconciler(fb, fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	defer r.Close()
	r.SetConfig(fib.Config{VRFs: []fib.VRFConfig{{Name: "red", Interfaces: []string{"ce1"}}}})
	r.SetConnected("red", []fib.Connected{{Interface: "ce1", Prefix: netip.MustParsePrefix("10.1.0.1/24")}})

	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	events := make(chan bgp.Event, 16)
	for _, e := range []bgp.Event{
		{Kind: bgp.CERouteAdd, VRF: "red", Prefix: p("192.0.2.1/32"), NextHop: a("10.1.0.3")},
		{Kind: bgp.CERouteAdd, VRF: "red", Prefix: p("192.0.2.1/32"), NextHop: a("10.1.0.2")},
		{Kind: bgp.CERouteAdd, VRF: "red", Prefix: p("192.0.2.9/32"), NextHop: a("10.1.0.2")},
		{Kind: bgp.CERouteDel, VRF: "red", Prefix: p("192.0.2.9/32")},
		{Kind: bgp.LabelAdd, VRF: "red", Prefix: p("192.0.2.1/32"), Label: mpls.MustLabel(1001)},
		{Kind: bgp.LabelAdd, VRF: "red", Label: mpls.MustLabel(1000)},
		{Kind: bgp.LabelAdd, VRF: "red", Label: mpls.MustLabel(1002)},
		{Kind: bgp.LabelDel, VRF: "red", Label: mpls.MustLabel(1002)},
		{Kind: bgp.RouteAdd, VRF: "red", Prefix: p("198.51.100.1/32"), NextHop: a("10.0.0.2"), Label: mpls.MustLabel(100), RD: vpn.MustParseRD("65000:2")},
		{Kind: bgp.RouteAdd, VRF: "red", Prefix: p("198.51.100.9/32"), NextHop: a("10.0.0.2"), Label: mpls.MustLabel(100)},
		{Kind: bgp.RouteDel, VRF: "red", Prefix: p("198.51.100.9/32")},
	} {
		events <- e
	}
	close(events)
	fibfeed.Run(events, r, slog.New(slog.DiscardHandler))
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	defer fcancel()
	if err := r.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range fb.Lines() {
		if strings.Contains(l, "192.") || strings.Contains(l, "198.") || strings.Contains(l, "mpls") {
			got = append(got, l)
		}
	}
	want := []string{
		"ip route add 192.0.2.1/32 via 10.1.0.2 dev ce1 table 1000",
		"ip route add 198.51.100.1/32 dev pg-red table 1000 # via 10.0.0.2 label 100 rd 65000:2",
		"ip -f mpls route add 1000 dev vrf-red",
		"ip -f mpls route add 1001 via inet 10.1.0.2 dev ce1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("FIB lines:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestRunDrainsWithoutSink: with no FIB (backend "none") Run still
// drains, so that the speaker never blocks on its events.
func TestRunDrainsWithoutSink(t *testing.T) {
	events := make(chan bgp.Event)
	done := make(chan struct{})
	go func() { fibfeed.Run(events, nil, slog.New(slog.DiscardHandler)); close(done) }()
	for range 3 {
		select {
		case events <- bgp.Event{Kind: bgp.CERouteAdd}:
		case <-time.After(5 * time.Second):
			t.Fatal("Run does not drain without a sink")
		}
	}
	close(events)
	<-done
}
