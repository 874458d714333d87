package bgp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// CEPath is one unicast path of a VRF's CE sessions, as `show bgp vrf
// NAME ipv4` lists it.
type CEPath struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
	// Neighbor is the CE that sent a learned path, or the CE a path is
	// advertised to.
	Neighbor netip.Addr
	Origin   string // "i", "e" or "?"
	// ASPath is as received or sent: an AS_SEQUENCE is numbers apart, an
	// AS_SET is in braces, confederation segments in ( ) and [ ].
	ASPath      string
	MED         uint32
	HasMED      bool
	Communities []string // "65101:7", well-known ones by name, large ones "65101:1:2"
	Best        bool     // a learned path that is the VRF's best to its prefix
}

// CERoutes is what a VRF's CE sessions carry in one or both unicast
// families.
type CERoutes struct {
	// Learned are the paths the CEs sent that GoBGP accepted, by prefix,
	// the best first.
	Learned []CEPath
	// Advertised are the paths sent to each CE (its Adj-RIB-Out, after
	// as-override and the site-of-origin policy), by CE and prefix.
	Advertised []CEPath
}

// ErrUnknownFamily is returned by CERoutes for a family other than ipv4,
// ipv6 or "" (both): the caller names one of those.
var ErrUnknownFamily = errors.New("unknown address family: want ipv4 or ipv6")

// CERoutes returns what vrf's CE sessions carry in family (ipv4, ipv6,
// or "" for both); ok is false for an unknown VRF.
func (s *Speaker) CERoutes(ctx context.Context, vrf, family string) (r CERoutes, ok bool, err error) {
	fams := []string{"ipv4", "ipv6"}
	switch family {
	case "":
	case "ipv4", "ipv6":
		fams = []string{family}
	default:
		return CERoutes{}, false, fmt.Errorf("%q: %w", family, ErrUnknownFamily)
	}
	err = s.do(func() error {
		if s.cfg.vrf(vrf) == nil {
			return nil
		}
		ok = true
		cs := s.ces[vrf]
		if cs == nil {
			return nil
		}
		r, err = cs.routes(ctx, fams)
		if err != nil {
			return fmt.Errorf("bgp: vrf %s: %w", vrf, err)
		}
		return nil
	})
	return r, ok, err
}

// routes lists the CE server's learned and advertised paths. It runs on
// the owner goroutine.
func (cs *ceServer) routes(ctx context.Context, fams []string) (CERoutes, error) {
	var r CERoutes
	var errs []error
	collect := func(into *[]CEPath, to netip.Addr) func(*api.Destination) {
		return func(d *api.Destination) {
			for _, p := range d.Paths {
				from, _ := netip.ParseAddr(p.NeighborIp)
				if _, fromCE := cs.peers[from.Unmap()]; !to.IsValid() && !fromCE {
					continue // a route the VRF imported, for the CEs
				}
				cp, err := newCEPath(p)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				cp.Neighbor = cmp.Or(to, from.Unmap())
				cp.Best = cp.Best && !to.IsValid()
				*into = append(*into, cp)
			}
		}
	}
	ces := slices.SortedFunc(maps.Keys(cs.peers), netip.Addr.Compare)
	for _, f := range fams {
		if err := cs.srv.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: families[f]}, collect(&r.Learned, netip.Addr{})); err != nil {
			return CERoutes{}, fmt.Errorf("list %s paths: %w", f, err)
		}
		for _, ce := range ces {
			if !slices.Contains(cs.peers[ce].Families, f) {
				continue
			}
			err := cs.srv.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_ADJ_OUT, Name: ce.String(), Family: families[f]}, collect(&r.Advertised, ce))
			if err != nil {
				return CERoutes{}, fmt.Errorf("list %s paths sent to %s: %w", f, ce, err)
			}
		}
	}
	if len(errs) > 0 && len(r.Learned)+len(r.Advertised) == 0 {
		return CERoutes{}, errors.Join(errs...)
	}
	slices.SortStableFunc(r.Learned, func(a, b CEPath) int {
		return cmp.Or(comparePrefixes(a.Prefix, b.Prefix), boolFirst(a.Best, b.Best), a.Neighbor.Compare(b.Neighbor))
	})
	slices.SortStableFunc(r.Advertised, func(a, b CEPath) int {
		return cmp.Or(a.Neighbor.Compare(b.Neighbor), comparePrefixes(a.Prefix, b.Prefix))
	})
	return r, nil
}

func comparePrefixes(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// boolFirst orders true before false.
func boolFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// newCEPath reduces a unicast path GoBGP lists to a CEPath.
func newCEPath(p *api.Path) (CEPath, error) {
	nlri, err := apiutil.GetNativeNlri(p)
	if err != nil {
		return CEPath{}, err
	}
	prefix, err := netip.ParsePrefix(nlri.String())
	if err != nil {
		return CEPath{}, fmt.Errorf("not a unicast path: %s", nlri)
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return CEPath{}, fmt.Errorf("%s: %w", prefix, err)
	}
	cp := CEPath{Prefix: prefix, Best: p.Best}
	for _, a := range attrs {
		switch a := a.(type) {
		case *gobgp.PathAttributeOrigin:
			cp.Origin = originCode(a.Value)
		case *gobgp.PathAttributeNextHop:
			cp.NextHop, _ = netip.AddrFromSlice(a.Value.To4())
		case *gobgp.PathAttributeMpReachNLRI:
			cp.NextHop, _ = netip.AddrFromSlice(a.Nexthop)
		case *gobgp.PathAttributeAsPath:
			cp.ASPath = formatASPath(a)
		case *gobgp.PathAttributeMultiExitDisc:
			cp.MED, cp.HasMED = a.Value, true
		case *gobgp.PathAttributeCommunities:
			for _, c := range a.Value {
				cp.Communities = append(cp.Communities, formatCommunity(c))
			}
		case *gobgp.PathAttributeLargeCommunities:
			for _, c := range a.Values {
				cp.Communities = append(cp.Communities, fmt.Sprintf("%d:%d:%d", c.ASN, c.LocalData1, c.LocalData2))
			}
		}
	}
	cp.NextHop = cp.NextHop.Unmap()
	return cp, nil
}

func originCode(v uint8) string {
	switch v {
	case gobgp.BGP_ORIGIN_ATTR_TYPE_IGP:
		return "i"
	case gobgp.BGP_ORIGIN_ATTR_TYPE_EGP:
		return "e"
	}
	return "?"
}

// formatASPath spells an AS path as routers print it: "65101 65102
// {65103,65104}".
func formatASPath(a *gobgp.PathAttributeAsPath) string {
	var segs []string
	for _, seg := range a.Value {
		var asns []string
		for _, asn := range seg.GetAS() {
			asns = append(asns, fmt.Sprint(asn))
		}
		switch seg.GetType() {
		case gobgp.BGP_ASPATH_ATTR_TYPE_SET:
			segs = append(segs, "{"+strings.Join(asns, ",")+"}")
		case gobgp.BGP_ASPATH_ATTR_TYPE_CONFED_SEQ:
			segs = append(segs, "("+strings.Join(asns, " ")+")")
		case gobgp.BGP_ASPATH_ATTR_TYPE_CONFED_SET:
			segs = append(segs, "["+strings.Join(asns, ",")+"]")
		default:
			segs = append(segs, strings.Join(asns, " "))
		}
	}
	return strings.Join(segs, " ")
}

// wellKnownCommunities are RFC 1997's, RFC 3765's, RFC 7999's and RFC
// 8326's communities, printed by name.
var wellKnownCommunities = map[uint32]string{
	0xFFFFFF01: "no-export",
	0xFFFFFF02: "no-advertise",
	0xFFFFFF03: "no-export-subconfed",
	0xFFFFFF04: "no-peer",
	0xFFFF029A: "blackhole",
	0xFFFF0000: "graceful-shutdown",
}

func formatCommunity(c uint32) string {
	if name, ok := wellKnownCommunities[c]; ok {
		return name
	}
	return fmt.Sprintf("%d:%d", c>>16, c&0xffff)
}
