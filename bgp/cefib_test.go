package bgp

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestOriginatorEmitsCERoutesToTheFIB drives the originator as the CE
// server's best paths and reloads do, and reads the events it emits: a
// CE route is handed to the FIB with the CE as next hop, also when the
// VRF exports a static route of that prefix instead; a new next hop
// replaces it, a withdrawal and the VRF's removal remove it, and each
// per-prefix label of a CE prefix names the prefix (PopForward to the CE
// route in the FIB).
func TestOriginatorEmitsCERoutesToTheFIB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv := server.NewBgpServer()
	go srv.Serve()
	defer func() { _ = stopGoBGP(srv) }()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: 65000, RouterId: "192.0.2.1", ListenPort: -1}}); err != nil {
		t.Fatal(err)
	}
	alloc, err := mpls.NewAllocator(mpls.Range{First: 1000, Last: 1999})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	o := newOriginator(srv, alloc, func(e Event) { events = append(events, e.String()) })
	red := &VRF{Name: "red", RD: vpn.MustParseRD("65000:1"), ExportTargets: []vpn.RT{vpn.MustParseRT("65000:1")},
		StaticRoutes: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/24")}, LabelMode: "per-prefix"}
	ceAt := func(prefix, ce string) {
		r, err := newCERoute(netip.MustParsePrefix(prefix), netip.MustParseAddr(ce), cePathAttrs(50), vpn.RT{})
		if err != nil {
			t.Fatal(err)
		}
		o.setCE("red", r)
	}
	step := func(name string, cfg *VRF, want ...string) {
		t.Helper()
		events = nil
		if err := o.sync(ctx, "red", cfg, nil); err != nil {
			t.Fatal(err)
		}
		slices.Sort(events)
		slices.Sort(want)
		if !slices.Equal(events, want) {
			t.Errorf("%s: events\n  %q\nwant\n  %q", name, events, want)
		}
	}

	ceAt("10.2.0.0/24", "10.1.0.2")
	ceAt("10.9.0.0/24", "10.1.0.2")
	step("CE routes learnt", red,
		"ce-route-add vrf red 10.2.0.0/24 via 10.1.0.2",
		"ce-route-add vrf red 10.9.0.0/24 via 10.1.0.2", // the static wins the export, the FIB ranks them
		"label-add 1000 vrf red prefix 10.9.0.0/24",
		"label-add 1001 vrf red prefix 10.2.0.0/24")
	step("nothing changed", red)
	// show route vrf: the CE's route names its CE, the static one none.
	for _, r := range o.routes("red") {
		want := map[string]string{"10.2.0.0/24": "10.1.0.2", "10.9.0.0/24": "invalid IP"}[r.Prefix.String()]
		if !r.Local || r.NextHop.String() != want {
			t.Errorf("route %+v: want local via %s", r, want)
		}
	}

	ceAt("10.2.0.0/24", "10.1.0.3")
	step("best path moved to another CE", red, "ce-route-add vrf red 10.2.0.0/24 via 10.1.0.3")

	o.unsetCE("red", netip.MustParsePrefix("10.2.0.0/24"))
	step("CE withdrew", red,
		"ce-route-del vrf red 10.2.0.0/24",
		"label-del 1001 vrf red prefix 10.2.0.0/24")

	step("VRF removed", nil,
		"ce-route-del vrf red 10.9.0.0/24",
		"label-del 1000 vrf red prefix 10.9.0.0/24")
	if len(o.ceFIB) != 0 {
		t.Errorf("CE routes still recorded as in the FIB: %v", o.ceFIB)
	}
}
