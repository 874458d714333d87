package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// pathKey names one VPN destination: RD plus prefix. It is what BGP selects
// a best path for, and what makes red's 10.0.0.0/24 differ from blue's.
type pathKey struct {
	rd     vpn.RD
	prefix netip.Prefix
}

// vpnPath is a best VPN path reduced to what import needs.
type vpnPath struct {
	key      pathKey
	nextHop  netip.Addr
	label    mpls.Label
	rts      []vpn.RT
	withdraw bool
	local    bool // originated by this PE
}

var errNotVPN = errors.New("not a VPN path")

// encodePath builds the GoBGP path that originates prefix from a VRF.
// The next hop is left unspecified: GoBGP sets a locally originated path's
// next hop to the session's local address when it advertises it, which is
// next-hop-self, the address remote PEs tunnel to.
func encodePath(rd vpn.RD, prefix netip.Prefix, label mpls.Label, rts []vpn.RT, withdraw bool) (*api.Path, error) {
	return encodeVPNPath(rd, prefix, label, rts, nil, withdraw)
}

// encodeVPNPath is encodePath with the attributes a CE's route carries
// (ceRoute.carried): its origin replaces IGP, and its extended
// communities join the route targets in one attribute.
func encodeVPNPath(rd vpn.RD, prefix netip.Prefix, label mpls.Label, rts []vpn.RT, carried []gobgp.PathAttributeInterface, withdraw bool) (*api.Path, error) {
	nlri, nextHop := vpnNLRI(rd, prefix, label)
	origin, others, carriedECs := splitCarried(carried)
	ecs, err := routeTargets(rts, len(carriedECs))
	if err != nil {
		return nil, err
	}
	ecs = append(ecs, carriedECs...)
	attrs := []gobgp.PathAttributeInterface{
		origin,
		gobgp.NewPathAttributeMpReachNLRI(nextHop, []gobgp.AddrPrefixInterface{nlri}),
	}
	attrs = append(attrs, others...)
	if len(ecs) > 0 {
		attrs = append(attrs, gobgp.NewPathAttributeExtendedCommunities(ecs))
	}
	return apiutil.NewPath(nlri, withdraw, attrs, time.Now())
}

// vpnNLRI is the labeled VPN prefix of prefix in rd, and the unspecified
// next hop of its family.
func vpnNLRI(rd vpn.RD, prefix netip.Prefix, label mpls.Label) (gobgp.AddrPrefixInterface, string) {
	rdb := rd.Bytes()
	grd := gobgp.GetRouteDistinguisher(rdb[:])
	stack := gobgp.NewMPLSLabelStack(uint32(label))
	if prefix.Addr().Is4() {
		return gobgp.NewLabeledVPNIPAddrPrefix(uint8(prefix.Bits()), prefix.Addr().String(), *stack, grd), "0.0.0.0"
	}
	return gobgp.NewLabeledVPNIPv6AddrPrefix(uint8(prefix.Bits()), prefix.Addr().String(), *stack, grd), "::"
}

// splitCarried sorts a CE route's carried attributes into the origin
// (IGP if it carries none), its extended communities, and the others.
func splitCarried(carried []gobgp.PathAttributeInterface) (origin gobgp.PathAttributeInterface, others []gobgp.PathAttributeInterface, ecs []gobgp.ExtendedCommunityInterface) {
	origin = gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_IGP)
	for _, a := range carried {
		switch a := a.(type) {
		case *gobgp.PathAttributeOrigin:
			origin = a
		case *gobgp.PathAttributeExtendedCommunities:
			ecs = append(ecs, a.Value...)
		default:
			others = append(others, a)
		}
	}
	return origin, others, ecs
}

// routeTargets are rts as extended communities, with room for more.
func routeTargets(rts []vpn.RT, more int) ([]gobgp.ExtendedCommunityInterface, error) {
	ecs := make([]gobgp.ExtendedCommunityInterface, 0, len(rts)+more)
	for _, rt := range rts {
		b := rt.Bytes()
		ec, err := gobgp.ParseExtended(b[:])
		if err != nil {
			return nil, fmt.Errorf("route target %s: %w", rt, err)
		}
		ecs = append(ecs, ec)
	}
	return ecs, nil
}

// ceWire is a ceCarried's attributes as GoBGP API attributes, built once
// and shared by the VPN paths of every route that carries them, so that
// advertising a CE's route marshals only its NLRI: what encodeVPNPath
// builds, attribute for attribute and in the same order. GoBGP reads the
// attributes of an AddPath into its own types and keeps none of them.
type ceWire struct {
	built  bool
	origin *anypb.Any
	others []*anypb.Any
	ecs    []gobgp.ExtendedCommunityInterface // the carried ones
	// ext is the extended communities attribute for route targets
	// extRTs (the VRF's export targets) and ecs; nil for none.
	extRTs []vpn.RT
	ext    *anypb.Any
}

// encode is encodeVPNPath for a CE route that carries c.
func (c *ceCarried) encode(rd vpn.RD, prefix netip.Prefix, label mpls.Label, rts []vpn.RT, withdraw bool) (*api.Path, error) {
	w := &c.wire
	if !w.built {
		origin, others, ecs := splitCarried(c.carried)
		as, err := apiutil.MarshalPathAttributes(append([]gobgp.PathAttributeInterface{origin}, others...))
		if err != nil {
			return nil, err
		}
		w.origin, w.others, w.ecs, w.built = as[0], as[1:], ecs, true
	}
	if w.ext == nil || !slices.Equal(w.extRTs, rts) {
		ecs, err := routeTargets(rts, len(w.ecs))
		if err != nil {
			return nil, err
		}
		ecs = append(ecs, w.ecs...)
		w.ext, w.extRTs = nil, slices.Clone(rts)
		if len(ecs) > 0 {
			as, err := apiutil.MarshalPathAttributes([]gobgp.PathAttributeInterface{gobgp.NewPathAttributeExtendedCommunities(ecs)})
			if err != nil {
				return nil, err
			}
			w.ext = as[0]
		}
	}
	nlri, nextHop := vpnNLRI(rd, prefix, label)
	n, err := apiutil.MarshalNLRI(nlri)
	if err != nil {
		return nil, err
	}
	mp, err := apiutil.MarshalPathAttributes([]gobgp.PathAttributeInterface{gobgp.NewPathAttributeMpReachNLRI(nextHop, []gobgp.AddrPrefixInterface{nlri})})
	if err != nil {
		return nil, err
	}
	attrs := make([]*anypb.Any, 0, 3+len(w.others))
	attrs = append(append(append(attrs, w.origin), mp...), w.others...)
	if w.ext != nil {
		attrs = append(attrs, w.ext)
	}
	return &api.Path{
		Nlri:       n,
		Pattrs:     attrs,
		Age:        timestamppb.Now(),
		IsWithdraw: withdraw,
		Family:     apiutil.ToApiFamily(nlri.AFI(), nlri.SAFI()),
		Identifier: nlri.PathIdentifier(),
	}, nil
}

// VPNPath is one path of the VPN RIB, as `show bgp vpnv4` lists it.
type VPNPath struct {
	RD       vpn.RD
	Prefix   netip.Prefix
	NextHop  netip.Addr
	Label    mpls.Label
	RTs      []vpn.RT
	Best     bool
	Local    bool       // originated by this PE
	Neighbor netip.Addr // who sent it; invalid for a local path
}

// VPNPaths lists every path of the VPNv4 (v6 false) or VPNv6 RIB, best and
// not, in GoBGP's order.
func (s *Speaker) VPNPaths(ctx context.Context, v6 bool) ([]VPNPath, error) {
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN}
	if v6 {
		fam.Afi = api.Family_AFI_IP6
	}
	var out []VPNPath
	var decodeErr error
	err := s.srv.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: fam}, func(d *api.Destination) {
		for _, p := range d.Paths {
			vp, err := decodePath(p, nil)
			if err != nil {
				decodeErr = err
				continue
			}
			nb, _ := netip.ParseAddr(p.NeighborIp)
			out = append(out, VPNPath{RD: vp.key.rd, Prefix: vp.key.prefix, NextHop: vp.nextHop, Label: vp.label,
				RTs: vp.rts, Best: p.Best, Local: vp.local, Neighbor: nb.Unmap()})
		}
	})
	if err == nil && decodeErr != nil && len(out) == 0 {
		err = decodeErr
	}
	return out, err
}
