package main

import (
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// maxRoutes is how many distinct prefixes benchPrefix can name: 65,536 /24s
// in 10.0.0.0/8, then /32s in 11.0.0.0/8.
const maxRoutes = 1<<16 + 1<<24

// benchPrefix returns the i-th benchmark prefix: 10.a.b.0/24 for the first
// 65,536 (a realistic VPN mix starts with subnets), then 11.x.y.z/32 host
// routes. Every i in [0, maxRoutes) gives a distinct prefix.
func benchPrefix(i int) netip.Prefix {
	if i < 0 || i >= maxRoutes {
		panic(fmt.Sprintf("benchPrefix(%d): out of range", i))
	}
	if i < 1<<16 {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
	}
	j := i - 1<<16
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{11, byte(j >> 16), byte(j >> 8), byte(j)}), 32)
}

// benchLabel is the i-th route's VPN label: per-prefix labels from 100.
func benchLabel(i int) uint32 { return 100 + uint32(i%1000) }

// routeSpec is what every benchmark route shares.
type routeSpec struct {
	rdAdmin, rdAssigned uint32 // RD type 0, ASN:number
	rtASN, rtValue      uint32 // route target ASN:number
	nextHop             netip.Addr
}

var vpnv4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err) // only for messages of a registered type, which these are
	}
	return a
}

// buildPaths returns N VPNv4 paths as GoBGP's API wants them, in batches of
// batch. The ORIGIN and EXTENDED_COMMUNITIES attributes are shared (proto
// messages are only read when marshalled); the NLRI and MP_REACH_NLRI, which
// carries it, are per path.
func buildPaths(spec routeSpec, n, batch int) [][]*api.Path {
	rd := mustAny(&api.RouteDistinguisherTwoOctetASN{Admin: spec.rdAdmin, Assigned: spec.rdAssigned})
	origin := mustAny(&api.OriginAttribute{Origin: 0})
	ext := mustAny(&api.ExtendedCommunitiesAttribute{Communities: []*anypb.Any{
		mustAny(&api.TwoOctetAsSpecificExtended{IsTransitive: true, SubType: 0x02, Asn: spec.rtASN, LocalAdmin: spec.rtValue}),
	}})
	nh := []string{spec.nextHop.String()}
	var out [][]*api.Path
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		b := make([]*api.Path, 0, end-start)
		for i := start; i < end; i++ {
			p := benchPrefix(i)
			nlri := mustAny(&api.LabeledVPNIPAddressPrefix{
				Labels: []uint32{benchLabel(i)}, Rd: rd,
				PrefixLen: uint32(p.Bits()), Prefix: p.Addr().String(),
			})
			reach := mustAny(&api.MpReachNLRIAttribute{Family: vpnv4, NextHops: nh, Nlris: []*anypb.Any{nlri}})
			b = append(b, &api.Path{Family: vpnv4, Nlri: nlri, Pattrs: []*anypb.Any{origin, reach, ext}})
		}
		out = append(out, b)
	}
	return out
}
