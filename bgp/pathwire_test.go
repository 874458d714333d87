package bgp

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// decodePathAPIUtil is the decoder decodePath replaced, through GoBGP's
// apiutil: the oracle the fast one is held against.
func decodePathAPIUtil(p *api.Path) (vpnPath, error) {
	nlri, err := apiutil.GetNativeNlri(p)
	if err != nil {
		return vpnPath{}, err
	}
	var vp vpnPath
	var rd gobgp.RouteDistinguisherInterface
	var labels []uint32
	switch n := nlri.(type) {
	case *gobgp.LabeledVPNIPAddrPrefix:
		a, ok := netip.AddrFromSlice(n.Prefix.To4())
		if !ok {
			return vpnPath{}, fmt.Errorf("VPNv4 prefix %v", n.Prefix)
		}
		vp.key.prefix = netip.PrefixFrom(a, int(n.IPPrefixLen()))
		rd, labels = n.RD, n.Labels.Labels
	case *gobgp.LabeledVPNIPv6AddrPrefix:
		a, ok := netip.AddrFromSlice(n.Prefix.To16())
		if !ok {
			return vpnPath{}, fmt.Errorf("VPNv6 prefix %v", n.Prefix)
		}
		vp.key.prefix = netip.PrefixFrom(a, int(n.IPPrefixLen()))
		rd, labels = n.RD, n.Labels.Labels
	default:
		return vpnPath{}, errNotVPN
	}
	if vp.key.prefix, err = vp.key.prefix.Addr().Prefix(vp.key.prefix.Bits()); err != nil {
		return vpnPath{}, err
	}
	rdb, err := rd.Serialize()
	if err != nil || len(rdb) != 8 {
		return vpnPath{}, fmt.Errorf("route distinguisher: %v", err)
	}
	if vp.key.rd, err = vpn.RDFromBytes([8]byte(rdb)); err != nil {
		return vpnPath{}, err
	}
	if len(labels) > 0 {
		vp.label = mpls.Label(labels[0] & uint32(mpls.MaxLabel))
	}
	vp.withdraw = p.IsWithdraw
	if _, err := netip.ParseAddr(p.NeighborIp); err != nil {
		vp.local = true // GoBGP gives locally originated paths no neighbor address
	}
	if vp.withdraw {
		return vp, nil
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return vpnPath{}, err
	}
	for _, a := range attrs {
		switch a := a.(type) {
		case *gobgp.PathAttributeMpReachNLRI:
			if nh, ok := netip.AddrFromSlice(a.Nexthop); ok {
				vp.nextHop = nh.Unmap()
			}
		case *gobgp.PathAttributeExtendedCommunities:
			for _, c := range a.Value {
				b, err := c.Serialize()
				if err != nil || len(b) != 8 {
					continue
				}
				if rt, err := vpn.RTFromBytes([8]byte(b)); err == nil {
					vp.rts = append(vp.rts, rt)
				}
			}
		}
	}
	return vp, nil
}

// apiPath is a path as GoBGP's API hands it over, built by apiutil from
// native values, from neighbor (empty: originated locally).
func apiPath(t testing.TB, nlri gobgp.AddrPrefixInterface, withdraw bool, neighbor string, attrs ...gobgp.PathAttributeInterface) *api.Path {
	t.Helper()
	p, err := apiutil.NewPath(nlri, withdraw, attrs, time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	p.NeighborIp = neighbor
	if neighbor == "" {
		p.NeighborIp = "<nil>" // what GoBGP's toPathAPI prints for a local path's nil address
	}
	return p
}

func vpnv4(prefix string, bits uint8, rd gobgp.RouteDistinguisherInterface, labels ...uint32) gobgp.AddrPrefixInterface {
	return gobgp.NewLabeledVPNIPAddrPrefix(bits, prefix, *gobgp.NewMPLSLabelStack(labels...), rd)
}

func vpnv6(prefix string, bits uint8, rd gobgp.RouteDistinguisherInterface, labels ...uint32) gobgp.AddrPrefixInterface {
	return gobgp.NewLabeledVPNIPv6AddrPrefix(bits, prefix, *gobgp.NewMPLSLabelStack(labels...), rd)
}

func reach(nh string, nlri gobgp.AddrPrefixInterface) gobgp.PathAttributeInterface {
	return gobgp.NewPathAttributeMpReachNLRI(nh, []gobgp.AddrPrefixInterface{nlri})
}

func extComms(cs ...gobgp.ExtendedCommunityInterface) gobgp.PathAttributeInterface {
	return gobgp.NewPathAttributeExtendedCommunities(cs)
}

// decoderCases covers what import reads from GoBGP's best paths: each RD
// and route-target form, communities that are not route targets, label
// stacks, both families and next-hop forms, withdrawals, local paths and
// another family.
func decoderCases(t testing.TB) map[string]*api.Path {
	rd2 := gobgp.NewRouteDistinguisherTwoOctetAS(65000, 100)
	rdIP := gobgp.NewRouteDistinguisherIPAddressAS("192.0.2.1", 5)
	rd4 := gobgp.NewRouteDistinguisherFourOctetAS(4200000000, 7)
	rt2 := gobgp.NewTwoOctetAsSpecificExtended(gobgp.EC_SUBTYPE_ROUTE_TARGET, 65000, 100, true)
	rtIP := gobgp.NewIPv4AddressSpecificExtended(gobgp.EC_SUBTYPE_ROUTE_TARGET, "198.51.100.7", 9, true)
	rt4 := gobgp.NewFourOctetAsSpecificExtended(gobgp.EC_SUBTYPE_ROUTE_TARGET, 4200000001, 3, true)
	nonTransitive := gobgp.NewTwoOctetAsSpecificExtended(gobgp.EC_SUBTYPE_ROUTE_TARGET, 65000, 200, false)
	origin := gobgp.NewTwoOctetAsSpecificExtended(gobgp.EC_SUBTYPE_ROUTE_ORIGIN, 65000, 300, true)
	encap := gobgp.NewEncapExtended(gobgp.TUNNEL_TYPE_MPLS)
	base := []gobgp.PathAttributeInterface{gobgp.NewPathAttributeOrigin(0), gobgp.NewPathAttributeLocalPref(100)}
	with := func(a ...gobgp.PathAttributeInterface) []gobgp.PathAttributeInterface {
		return append(slices.Clone(base), a...)
	}

	n := vpnv4("10.1.0.0", 16, rd2, 16001)
	cases := map[string]*api.Path{
		"vpnv4 rd2 rt2": apiPath(t, n, false, "192.0.2.2", with(reach("192.0.2.2", n), extComms(rt2))...),
		"vpnv4 every rt form and others": apiPath(t, n, false, "192.0.2.2",
			with(reach("192.0.2.2", n), extComms(origin, rt2, encap, rtIP, nonTransitive, rt4))...),
		"vpnv4 no communities": apiPath(t, n, false, "192.0.2.2", with(reach("192.0.2.2", n))...),
		"vpnv4 withdraw":       apiPath(t, n, true, "192.0.2.2", with(reach("192.0.2.2", n), extComms(rt2))...),
		"vpnv4 local":          apiPath(t, n, false, "", with(reach("0.0.0.0", n), extComms(rt2))...),
	}
	for name, nlri := range map[string]gobgp.AddrPrefixInterface{
		"vpnv4 rd ip":          vpnv4("172.16.5.0", 24, rdIP, 20),
		"vpnv4 rd as4":         vpnv4("172.16.5.1", 32, rd4, 1048575),
		"vpnv4 host bits":      vpnv4("10.9.8.7", 8, rd2, 300),
		"vpnv4 label stack":    vpnv4("10.2.0.0", 16, rd2, 100, 200, 300),
		"vpnv4 default route":  vpnv4("0.0.0.0", 0, rd2, 17),
		"vpnv4 explicit null":  vpnv4("10.3.0.0", 16, rd4, 0),
		"vpnv6 rd2":            vpnv6("2001:db8:1::", 48, rd2, 16002),
		"vpnv6 rd ip host":     vpnv6("2001:db8::1", 128, rdIP, 99),
		"vpnv6 host bits":      vpnv6("2001:db8:1:2::5", 32, rd4, 5),
		"vpnv6 mapped v4 text": vpnv6("10.0.0.0", 104, rd2, 5),
	} {
		nh := "192.0.2.3"
		if nlri.AFI() == gobgp.AFI_IP6 {
			nh = "::ffff:192.0.2.3"
		}
		cases[name] = apiPath(t, nlri, false, "192.0.2.3", with(reach(nh, nlri), extComms(rt2, rt4))...)
	}
	n6 := vpnv6("2001:db8:2::", 64, rd2, 7)
	cases["vpnv6 global next hop"] = apiPath(t, n6, false, "2001:db8::2", with(reach("2001:db8::2", n6), extComms(rtIP))...)
	twoNH := reach("2001:db8::3", n6).(*gobgp.PathAttributeMpReachNLRI)
	twoNH.LinkLocalNexthop = netip.MustParseAddr("fe80::3").AsSlice()
	cases["vpnv6 global and link-local next hops"] = apiPath(t, n6, false, "2001:db8::3", with(twoNH, extComms(rt2))...)
	// FRR 8.4 over an IPv4 session: the global next hop set to its
	// IPv4-mapped address, its link-local one after it (48 bytes).
	frrNH := reach("::ffff:192.0.2.4", n6).(*gobgp.PathAttributeMpReachNLRI)
	frrNH.LinkLocalNexthop = netip.MustParseAddr("fe80::4").AsSlice()
	cases["vpnv6 mapped global and link-local next hops"] = apiPath(t, n6, false, "192.0.2.4", with(frrNH, extComms(rt2))...)
	u := gobgp.NewIPAddrPrefix(24, "10.7.0.0")
	cases["ipv4 unicast"] = apiPath(t, u, false, "192.0.2.2", with(gobgp.NewPathAttributeNextHop("192.0.2.2"))...)
	return cases
}

func sameVPNPath(a, b vpnPath) bool {
	return a.key == b.key && a.nextHop == b.nextHop && a.label == b.label && a.withdraw == b.withdraw &&
		a.local == b.local && slices.Equal(a.rts, b.rts)
}

func (vp vpnPath) String() string {
	return fmt.Sprintf("{%s %s nh %s label %d rts %v withdraw %v local %v}", vp.key.rd, vp.key.prefix, vp.nextHop, vp.label, vp.rts, vp.withdraw, vp.local)
}

// TestDecodePathMatchesAPIUtil holds decodePath against GoBGP's own
// decoding (apiutil, then native types) on the same API paths.
func TestDecodePathMatchesAPIUtil(t *testing.T) {
	var scratch []vpn.RT
	for name, p := range decoderCases(t) {
		t.Run(name, func(t *testing.T) {
			want, wantErr := decodePathAPIUtil(p)
			got, err := decodePath(p, scratch)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, apiutil's %v", err, wantErr)
			}
			if err != nil {
				if (wantErr == errNotVPN) != (err == errNotVPN) {
					t.Fatalf("error %v, apiutil's %v", err, wantErr)
				}
				return
			}
			if !sameVPNPath(got, want) {
				t.Fatalf("decoded\n %v\napiutil\n %v", got, want)
			}
			if got.rts != nil {
				scratch = got.rts[:0]
			}
		})
	}
}

// TestDecodePathReadsTheFields checks a few results against values written
// here, so that a bug shared with the oracle would still show.
func TestDecodePathReadsTheFields(t *testing.T) {
	cases := decoderCases(t)
	got, err := decodePath(cases["vpnv4 every rt form and others"], nil)
	if err != nil {
		t.Fatal(err)
	}
	wantRTs := []vpn.RT{vpn.MustParseRT("65000:100"), vpn.MustParseRT("198.51.100.7:9"), vpn.MustParseRT("4200000001:3")}
	if got.key.rd != vpn.MustParseRD("65000:100") || got.key.prefix != netip.MustParsePrefix("10.1.0.0/16") ||
		got.nextHop != netip.MustParseAddr("192.0.2.2") || got.label != 16001 || !slices.Equal(got.rts, wantRTs) || got.local || got.withdraw {
		t.Errorf("got %v", got)
	}
	got, err = decodePath(cases["vpnv6 global and link-local next hops"], nil)
	if err != nil || got.nextHop != netip.MustParseAddr("2001:db8::3") || got.key.prefix != netip.MustParsePrefix("2001:db8:2::/64") {
		t.Errorf("got %v, %v", got, err)
	}
	got, err = decodePath(cases["vpnv6 mapped global and link-local next hops"], nil)
	if err != nil || got.nextHop != netip.MustParseAddr("192.0.2.4") {
		t.Errorf("FRR's 6VPE next hops: got %v, %v; want the IPv4 remote PE 192.0.2.4", got, err)
	}
	got, err = decodePath(cases["vpnv4 rd as4"], nil)
	if err != nil || got.key.rd != vpn.MustParseRD("4200000000:7") || got.label != mpls.Label(1048575) {
		t.Errorf("got %v, %v", got, err)
	}
	if got, err := decodePath(cases["vpnv4 local"], nil); err != nil || !got.local {
		t.Errorf("local path: got %v, %v", got, err)
	}
}

// TestDecodePathAllocations: the import of a full table decodes every
// path, and what it allocates is garbage the moment the path is imported.
// A VPNv4 path, all of whose addresses are dotted quads, allocates nothing.
func TestDecodePathAllocations(t *testing.T) {
	p := decoderCases(t)["vpnv4 every rt form and others"]
	scratch := make([]vpn.RT, 0, 8)
	allocs := testing.AllocsPerRun(1000, func() {
		vp, err := decodePath(p, scratch)
		if err != nil || len(vp.rts) != 3 {
			t.Fatal(vp, err)
		}
	})
	if allocs != 0 {
		t.Errorf("decodePath: %.1f allocations a VPNv4 path, want 0", allocs)
	}
}

// TestParseIPv4 holds the in-place dotted-quad reader against netip.
func TestParseIPv4(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "192.0.2.1", "255.255.255.255", "10.0.0.01", "256.1.1.1", "1.2.3",
		"1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "", "1.2.3.4 ", "::1", "::ffff:1.2.3.4", "1.2.3.4%eth0", "99999999999.1.1.1"} {
		got, ok := parseIPv4([]byte(s))
		want, err := netip.ParseAddr(s)
		if wantOK := err == nil && want.Is4(); ok != wantOK || (ok && got != want) {
			t.Errorf("parseIPv4(%q) = %v, %v; netip: %v, %v", s, got, ok, want, err)
		}
	}
}

func BenchmarkDecodePath(b *testing.B) {
	p := decoderCases(b)["vpnv4 rd2 rt2"]
	b.Run("protowire", func(b *testing.B) {
		b.ReportAllocs()
		var scratch []vpn.RT
		for b.Loop() {
			vp, _ := decodePath(p, scratch)
			scratch = vp.rts[:0]
		}
	})
	b.Run("apiutil", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = decodePathAPIUtil(p)
		}
	})
}

// FuzzDecodePath feeds arbitrary protobuf as the NLRI, MP_REACH_NLRI and
// extended communities of a VPN path: decodePath must not panic, and where
// apiutil also decodes the input the two must agree.
func FuzzDecodePath(f *testing.F) {
	for _, p := range decoderCases(f) {
		if p.GetFamily().GetSafi() != api.Family_SAFI_MPLS_VPN {
			continue
		}
		var reach, ext []byte
		for _, a := range p.Pattrs {
			switch {
			case isType(a, "MpReachNLRIAttribute"):
				reach = a.Value
			case isType(a, "ExtendedCommunitiesAttribute"):
				ext = a.Value
			}
		}
		f.Add(p.Nlri.Value, reach, ext, p.Family.Afi == api.Family_AFI_IP6)
	}
	f.Fuzz(func(t *testing.T, nlri, reach, ext []byte, v6 bool) {
		fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN}
		if v6 {
			fam.Afi = api.Family_AFI_IP6
		}
		p := &api.Path{Family: fam, NeighborIp: "192.0.2.2",
			Nlri: &anypb.Any{TypeUrl: "type.googleapis.com/apipb.LabeledVPNIPAddressPrefix", Value: nlri},
			Pattrs: []*anypb.Any{
				{TypeUrl: "type.googleapis.com/apipb.MpReachNLRIAttribute", Value: reach},
				{TypeUrl: "type.googleapis.com/apipb.ExtendedCommunitiesAttribute", Value: ext},
			}}
		got, err := decodePath(proto.Clone(p).(*api.Path), nil)
		want, wantErr, panicked := func() (vp vpnPath, err error, panicked bool) {
			defer func() { panicked = recover() != nil }()
			vp, err = decodePathAPIUtil(p)
			return vp, err, false
		}()
		if err != nil || wantErr != nil || panicked {
			return
		}
		if !sameVPNPath(got, want) {
			t.Fatalf("decoded\n %v\napiutil\n %v", got, want)
		}
	})
}
