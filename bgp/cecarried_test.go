package bgp

import (
	"bytes"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// ceTestPath is a CE's path to prefix as GoBGP's watch hands it over:
// cePathAttrs(50), where extra replaces the attribute of its type or
// joins them.
func ceTestPath(t *testing.T, prefix string, extra ...gobgp.PathAttributeInterface) *api.Path {
	t.Helper()
	attrs := cePathAttrs(50)
	for _, e := range extra {
		i := slices.IndexFunc(attrs, func(a gobgp.PathAttributeInterface) bool { return a.GetType() == e.GetType() })
		if i < 0 {
			attrs = append(attrs, e)
		} else {
			attrs[i] = e
		}
	}
	p := netip.MustParsePrefix(prefix)
	p4 := gobgp.NewIPAddrPrefix(uint8(p.Bits()), p.Addr().String())
	ap, err := apiutil.NewPath(p4, false, attrs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ap.NeighborIp = "10.1.0.2"
	return ap
}

// TestCECarriedTableShares: CE paths whose carried attributes and site of
// origin are equal share one ceCarried, whatever their prefix and the
// attributes not carried (NEXT_HOP, LOCAL_PREF); a difference in any
// carried attribute or in the site of origin makes another; a set no
// route holds any more leaves the table.
func TestCECarriedTableShares(t *testing.T) {
	var tab ceCarriedTable
	soo := vpn.MustParseRT("65101:1")
	get := func(p *api.Path, soo vpn.RT) *ceCarried {
		t.Helper()
		c, err := tab.get(p, soo)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := get(ceTestPath(t, "10.2.0.0/24"), soo)
	if want, _ := newCECarried(cePathAttrs(50), soo); base.key != want.key {
		t.Fatalf("table's set differs from newCECarried's")
	}
	if c := get(ceTestPath(t, "10.3.0.0/24"), soo); c != base {
		t.Error("another prefix with the same attributes got a set of its own")
	}
	uncarried := ceTestPath(t, "10.2.0.0/24")
	for i, a := range uncarried.Pattrs {
		if isType(a, "NextHopAttribute") || isType(a, "LocalPrefAttribute") {
			b, _ := apiutil.MarshalPathAttributes([]gobgp.PathAttributeInterface{
				map[bool]gobgp.PathAttributeInterface{true: gobgp.NewPathAttributeNextHop("10.1.0.3"), false: gobgp.NewPathAttributeLocalPref(200)}[isType(a, "NextHopAttribute")]})
			uncarried.Pattrs[i] = b[0]
		}
	}
	if c := get(uncarried, soo); c != base {
		t.Error("another next hop or local preference made another set")
	}
	if c := get(ceTestPath(t, "10.2.0.0/24"), vpn.RT{}); c == base {
		t.Error("no site of origin: the same set")
	}
	for _, extra := range []gobgp.PathAttributeInterface{
		gobgp.NewPathAttributeCommunities([]uint32{65101<<16 | 8}),
		gobgp.NewPathAttributeExtendedCommunities([]gobgp.ExtendedCommunityInterface{gobgp.NewOpaqueExtended(true, []byte{9, 9, 9, 9, 9, 9, 9})}),
		gobgp.NewPathAttributeLargeCommunities([]*gobgp.LargeCommunity{gobgp.NewLargeCommunity(65101, 1, 2)}),
		gobgp.NewPathAttributeMultiExitDisc(60),
		gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_INCOMPLETE),
		gobgp.NewPathAttributeAsPath([]gobgp.AsPathParamInterface{gobgp.NewAs4PathParam(gobgp.BGP_ASPATH_ATTR_TYPE_SEQ, []uint32{65101})}),
	} {
		c := get(ceTestPath(t, "10.2.0.0/24", extra), soo)
		if c == base || c.key == base.key {
			t.Errorf("with %s: the same set", extra)
		}
	}

	base = nil
	for range 3 {
		runtime.GC()
	}
	tab.sweep()
	if len(tab.m) != 0 {
		t.Errorf("%d sets left in the table with no route holding them", len(tab.m))
	}
}

// TestCECarriedEncodesAsEncodeVPNPath holds the VPN path built from a
// ceCarried's cached API attributes against encodeVPNPath's from the
// same carried attributes, through the route target changes that
// rebuild the extended communities, for IPv4 and IPv6, with and without
// carried extended communities.
func TestCECarriedEncodesAsEncodeVPNPath(t *testing.T) {
	rd := vpn.MustParseRD("65000:1")
	rtsA := []vpn.RT{vpn.MustParseRT("65000:1")}
	rtsB := []vpn.RT{vpn.MustParseRT("65000:1"), vpn.MustParseRT("65000:9")}
	noOrigin := cePathAttrs(50)[1:]
	for _, tc := range []struct {
		name  string
		attrs []gobgp.PathAttributeInterface
		soo   vpn.RT
	}{
		{"with site of origin", cePathAttrs(50), vpn.MustParseRT("65101:1")},
		{"no site of origin", cePathAttrs(70), vpn.RT{}},
		{"no origin, no extended communities", noOrigin[:len(noOrigin)-1], vpn.RT{}},
	} {
		c, err := newCECarried(tc.attrs, tc.soo)
		if err != nil {
			t.Fatal(err)
		}
		for i, step := range []struct {
			prefix   string
			rts      []vpn.RT
			withdraw bool
		}{
			{"10.2.0.0/24", rtsA, false},
			{"10.3.0.0/24", rtsA, false},
			{"2001:db8:2::/48", rtsB, false},
			{"10.2.0.0/24", nil, true},
			{"10.2.0.0/24", rtsA, true},
		} {
			p := netip.MustParsePrefix(step.prefix)
			got, err := c.encode(rd, p, mpls.Label(1000+i), step.rts, step.withdraw)
			if err != nil {
				t.Fatal(err)
			}
			want, err := encodeVPNPath(rd, p, mpls.Label(1000+i), step.rts, c.carried, step.withdraw)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := describePath(t, got), describePath(t, want); g != w {
				t.Errorf("%s, %s %v: encoded\n  %s\nwant\n  %s", tc.name, p, step.rts, g, w)
			}
		}
	}
}

// describePath spells an API path natively: family, withdrawal, NLRI and
// each attribute's wire encoding, in order.
func describePath(t *testing.T, p *api.Path) string {
	t.Helper()
	nlri, err := apiutil.GetNativeNlri(p)
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%v withdraw=%v id=%d %s", p.Family, p.IsWithdraw, p.Identifier, nlri)
	for _, a := range attrs {
		e, err := a.Serialize()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, " %s=%x", a.GetType(), e)
	}
	return b.String()
}
