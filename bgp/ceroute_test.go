package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// cePathAttrs is what a CE in AS 65101 announces: origin EGP, its AS
// path, MED, a community, a route target of its own choosing (which must
// not survive) and an opaque extended community (which does), plus what
// eBGP import adds or replaces.
func cePathAttrs(med uint32) []gobgp.PathAttributeInterface {
	return []gobgp.PathAttributeInterface{
		gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_EGP),
		gobgp.NewPathAttributeAsPath([]gobgp.AsPathParamInterface{gobgp.NewAs4PathParam(gobgp.BGP_ASPATH_ATTR_TYPE_SEQ, []uint32{65101, 64999})}),
		gobgp.NewPathAttributeNextHop("10.1.0.2"),
		gobgp.NewPathAttributeMultiExitDisc(med),
		gobgp.NewPathAttributeLocalPref(100),
		gobgp.NewPathAttributeCommunities([]uint32{65101<<16 | 7}),
		gobgp.NewPathAttributeExtendedCommunities([]gobgp.ExtendedCommunityInterface{
			gobgp.NewTwoOctetAsSpecificExtended(gobgp.EC_SUBTYPE_ROUTE_TARGET, 65000, 2, true), // blue's RT: dropped
			gobgp.NewOpaqueExtended(true, []byte{1, 2, 3, 4, 5, 6, 7}),
		}),
	}
}

func TestNewCERouteKeepsWhatRFC4364Carries(t *testing.T) {
	soo := vpn.MustParseRT("65101:1")
	r, err := newCERoute(netip.MustParsePrefix("10.2.0.0/24"), netip.MustParseAddr("10.1.0.2"), cePathAttrs(50), soo)
	if err != nil {
		t.Fatal(err)
	}
	var types []gobgp.BGPAttrType
	for _, a := range r.carried {
		types = append(types, a.GetType())
	}
	want := []gobgp.BGPAttrType{gobgp.BGP_ATTR_TYPE_ORIGIN, gobgp.BGP_ATTR_TYPE_AS_PATH, gobgp.BGP_ATTR_TYPE_MULTI_EXIT_DISC,
		gobgp.BGP_ATTR_TYPE_COMMUNITIES, gobgp.BGP_ATTR_TYPE_EXTENDED_COMMUNITIES}
	if !slices.Equal(types, want) {
		t.Errorf("carried %v, want %v", types, want)
	}
	if !hasSiteOfOrigin(r.carried, soo) {
		t.Errorf("site of origin %s not attached: %v", soo, r.carried)
	}
	if hasSiteOfOrigin(r.carried, vpn.MustParseRT("65101:2")) || hasSiteOfOrigin(r.carried, vpn.RT{}) {
		t.Error("hasSiteOfOrigin matches another site, or none")
	}
	ecs := fmt.Sprint(r.carried[len(r.carried)-1])
	if strings.Contains(ecs, "65000:2") {
		t.Errorf("a route target the CE sent survived: %s", ecs)
	}
	again, _ := newCERoute(netip.MustParsePrefix("10.2.0.0/24"), netip.MustParseAddr("10.1.0.2"), cePathAttrs(50), soo)
	other, _ := newCERoute(netip.MustParsePrefix("10.2.0.0/24"), netip.MustParseAddr("10.1.0.2"), cePathAttrs(60), soo)
	if again.key != r.key || other.key == r.key {
		t.Error("key does not follow the carried attributes")
	}
}

// vpnRIB lists the VPNv4 paths in srv's global RIB as "rd prefix label
// attrs" lines, decoded by GoBGP.
func vpnRIB(t *testing.T, srv *server.BgpServer) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := srv.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL,
		Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN}}, func(d *api.Destination) {
		for _, p := range d.Paths {
			nlri, err := apiutil.GetNativeNlri(p)
			if err != nil {
				t.Fatal(err)
			}
			attrs, err := apiutil.GetNativePathAttributes(p)
			if err != nil {
				t.Fatal(err)
			}
			v := nlri.(*gobgp.LabeledVPNIPAddrPrefix)
			var b strings.Builder
			fmt.Fprintf(&b, "label %v;", v.Labels.Labels)
			for _, a := range attrs {
				switch a := a.(type) {
				case *gobgp.PathAttributeMpReachNLRI:
				case *gobgp.PathAttributeExtendedCommunities:
					for _, ec := range a.Value {
						kind := "ec"
						switch _, sub := ec.GetTypes(); sub {
						case gobgp.EC_SUBTYPE_ROUTE_TARGET:
							kind = "rt"
						case gobgp.EC_SUBTYPE_ROUTE_ORIGIN:
							kind = "soo"
						}
						fmt.Fprintf(&b, " %s:%s;", kind, ec)
					}
				default:
					fmt.Fprintf(&b, " %s;", a)
				}
			}
			out[v.RD.String()+" "+v.IPPrefix()] = b.String()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOriginatorExportsCERoutes: a CE's route is exported as a VPNv4 path
// with the VRF's RD, export targets and label, carrying the customer's AS
// path, MED and community and the site of origin; a changed MED is
// re-advertised; a withdrawn CE route is withdrawn; a static route of the
// same prefix wins over the CE's. GoBGP's RIB is the oracle.
func TestOriginatorExportsCERoutes(t *testing.T) {
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
	var events []Event
	o := newOriginator(srv, alloc, func(e Event) { events = append(events, e) })
	red := &VRF{Name: "red", RD: vpn.MustParseRD("65000:1"), ExportTargets: []vpn.RT{vpn.MustParseRT("65000:1")},
		StaticRoutes: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/24")}, LabelMode: "per-vrf"}
	soo := vpn.MustParseRT("65101:1")
	ceAt := func(prefix string, med uint32) {
		r, err := newCERoute(netip.MustParsePrefix(prefix), netip.MustParseAddr("10.1.0.2"), cePathAttrs(med), soo)
		if err != nil {
			t.Fatal(err)
		}
		o.setCE("red", r)
	}
	ceAt("10.2.0.0/24", 50)
	ceAt("10.9.0.0/24", 50) // the static route's prefix
	if err := o.sync(ctx, "red", red, nil); err != nil {
		t.Fatal(err)
	}
	rib := vpnRIB(t, srv)
	ce := rib["65000:1 10.2.0.0/24"]
	for _, w := range []string{"label [1000]", "{Origin: e}", "65101 64999", "{Med: 50}", "{Communities: 65101:7}", "rt:65000:1;", "soo:65101:1;", "ec:283686952306183;"} {
		if !strings.Contains(ce, w) {
			t.Errorf("CE route exported as %q: no %q", ce, w)
		}
	}
	for _, w := range []string{"65000:2", "LocalPref", "10.1.0.2", "rt:65101"} {
		if strings.Contains(ce, w) {
			t.Errorf("CE route exported as %q: has %q", ce, w)
		}
	}
	if st := rib["65000:1 10.9.0.0/24"]; st == "" || strings.Contains(st, "65101") {
		t.Errorf("static 10.9.0.0/24 exported as %q: want the static route, not the CE's", st)
	}

	ceAt("10.2.0.0/24", 60)
	if err := o.sync(ctx, "red", red, nil); err != nil {
		t.Fatal(err)
	}
	if ce := vpnRIB(t, srv)["65000:1 10.2.0.0/24"]; !strings.Contains(ce, "{Med: 60}") {
		t.Errorf("after the CE changed its MED: %q", ce)
	}

	o.unsetCE("red", netip.MustParsePrefix("10.2.0.0/24"))
	if err := o.sync(ctx, "red", red, nil); err != nil {
		t.Fatal(err)
	}
	rib = vpnRIB(t, srv)
	if ce, ok := rib["65000:1 10.2.0.0/24"]; ok {
		t.Errorf("withdrawn CE route still exported: %q", ce)
	}
	if _, ok := rib["65000:1 10.9.0.0/24"]; !ok {
		t.Error("static route gone with the CE's withdrawal")
	}
}
