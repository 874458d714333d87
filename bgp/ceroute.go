package bgp

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"

	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"

	"github.com/peregrine-net/peregrine/bgp/vpn"
)

// ceRoute is a best path a CE announced in a VRF, reduced to what this PE
// carries into the VPN path it exports (RFC 4364 section 7): origin, the
// customer's AS path, MED, communities, large communities and extended
// communities other than route targets. Its next hop is the CE, which the
// forwarding plane resolves on the VRF's interface; the VPN path's next
// hop is this PE, as for every originated path.
type ceRoute struct {
	prefix  netip.Prefix
	nextHop netip.Addr
	// The carried attributes, shared with the VRF's other routes that
	// carry the same (cecarried.go).
	*ceCarried
}

// ceCarried are the attributes a CE route carries into its VPN path.
type ceCarried struct {
	// carried are the attributes above, in type order; key is their
	// encoding, so that a change of any of them re-advertises the path.
	carried []gobgp.PathAttributeInterface
	key     string
	wire    ceWire // carried as GoBGP API attributes, built at the first advertisement (path.go)
}

// carriedTypes are the attributes a CE's path keeps in the VPN path.
// NEXT_HOP and MP_REACH are replaced by this PE's; LOCAL_PREF is not sent
// by an eBGP CE; ORIGINATOR_ID and CLUSTER_LIST are iBGP's.
var carriedTypes = []gobgp.BGPAttrType{
	gobgp.BGP_ATTR_TYPE_ORIGIN,
	gobgp.BGP_ATTR_TYPE_AS_PATH,
	gobgp.BGP_ATTR_TYPE_MULTI_EXIT_DISC,
	gobgp.BGP_ATTR_TYPE_COMMUNITIES,
	gobgp.BGP_ATTR_TYPE_EXTENDED_COMMUNITIES,
	gobgp.BGP_ATTR_TYPE_LARGE_COMMUNITY,
}

// newCERoute keeps what attrs (a CE path's attributes, as GoBGP decoded
// them) carries into the VPN (newCECarried).
func newCERoute(prefix netip.Prefix, nextHop netip.Addr, attrs []gobgp.PathAttributeInterface, soo vpn.RT) (ceRoute, error) {
	c, err := newCECarried(attrs, soo)
	if err != nil {
		return ceRoute{}, fmt.Errorf("from CE %s: %w", nextHop, err)
	}
	return ceRoute{prefix: prefix.Masked(), nextHop: nextHop.Unmap(), ceCarried: c}, nil
}

// newCECarried keeps what attrs carries into the VPN. Route targets a CE
// sent are dropped: the VRF's export targets alone say where its routes
// go, or a customer could place routes in another customer's VRF. soo,
// when valid, is attached as the Site of Origin (RFC 4360 section 5),
// replacing any the CE sent.
func newCECarried(attrs []gobgp.PathAttributeInterface, soo vpn.RT) (*ceCarried, error) {
	c := &ceCarried{}
	var ecs []gobgp.ExtendedCommunityInterface
	for _, a := range attrs {
		switch t := a.GetType(); {
		case t == gobgp.BGP_ATTR_TYPE_EXTENDED_COMMUNITIES:
			for _, ec := range a.(*gobgp.PathAttributeExtendedCommunities).Value {
				if isTargetOrOrigin(ec) {
					continue
				}
				ecs = append(ecs, ec)
			}
		case slices.Contains(carriedTypes, t):
			c.carried = append(c.carried, a)
		}
	}
	if soo.IsValid() {
		ec, err := siteOfOrigin(soo)
		if err != nil {
			return nil, err
		}
		ecs = append(ecs, ec)
	}
	if len(ecs) > 0 {
		c.carried = append(c.carried, gobgp.NewPathAttributeExtendedCommunities(ecs))
	}
	slices.SortFunc(c.carried, func(a, b gobgp.PathAttributeInterface) int { return int(a.GetType()) - int(b.GetType()) })
	var key bytes.Buffer
	for _, a := range c.carried {
		b, err := a.Serialize()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.GetType(), err)
		}
		key.Write(b)
	}
	c.key = key.String()
	return c, nil
}

// isTargetOrOrigin reports whether ec is a route target or a site of
// origin: subtype 0x02 or 0x03 of the transitive two-octet AS, IPv4
// address and four-octet AS types (RFC 4360, RFC 5668).
func isTargetOrOrigin(ec gobgp.ExtendedCommunityInterface) bool {
	typ, sub := ec.GetTypes()
	switch typ {
	case gobgp.EC_TYPE_TRANSITIVE_TWO_OCTET_AS_SPECIFIC, gobgp.EC_TYPE_TRANSITIVE_IP4_SPECIFIC, gobgp.EC_TYPE_TRANSITIVE_FOUR_OCTET_AS_SPECIFIC:
		return sub == gobgp.EC_SUBTYPE_ROUTE_TARGET || sub == gobgp.EC_SUBTYPE_ROUTE_ORIGIN
	}
	return false
}

// siteOfOrigin is soo as the Site of Origin extended community: a route
// target's encoding with subtype 0x03 instead of 0x02 (RFC 4360 section 5).
func siteOfOrigin(soo vpn.RT) (gobgp.ExtendedCommunityInterface, error) {
	b := soo.Bytes()
	b[1] = byte(gobgp.EC_SUBTYPE_ROUTE_ORIGIN)
	ec, err := gobgp.ParseExtended(b[:])
	if err != nil {
		return nil, fmt.Errorf("site-of-origin %s: %w", soo, err)
	}
	return ec, nil
}

// hasSiteOfOrigin reports whether attrs carry soo as their Site of
// Origin: such a route came from that site and is not sent back to it.
func hasSiteOfOrigin(attrs []gobgp.PathAttributeInterface, soo vpn.RT) bool {
	if !soo.IsValid() {
		return false
	}
	want, err := siteOfOrigin(soo)
	if err != nil {
		return false
	}
	wb, _ := want.Serialize()
	for _, a := range attrs {
		ecs, ok := a.(*gobgp.PathAttributeExtendedCommunities)
		if !ok {
			continue
		}
		for _, ec := range ecs.Value {
			if b, err := ec.Serialize(); err == nil && bytes.Equal(b, wb) {
				return true
			}
		}
	}
	return false
}

// setCE records r, a CE's best path in vrf, for the next sync or syncCE
// to export; a withdrawn path is removed with unsetCE.
func (o *originator) setCE(vrf string, r ceRoute) {
	m := o.ce[vrf]
	if m == nil {
		m = map[netip.Prefix]*ceRoute{}
		o.ce[vrf] = m
	}
	m[r.prefix] = &r
	o.markDirty(vrf, r.prefix)
}

// unsetCE forgets the CE's path to p in vrf. A prefix with no CE path
// is left as it is: it was reconciled when its path went, or it is
// still dirty.
func (o *originator) unsetCE(vrf string, p netip.Prefix) {
	p = p.Masked()
	m := o.ce[vrf]
	if _, ok := m[p]; !ok {
		return
	}
	delete(m, p)
	if len(m) == 0 {
		delete(o.ce, vrf)
	}
	o.markDirty(vrf, p)
}

// markDirty notes that vrf's CE route to p changed, for syncCE.
func (o *originator) markDirty(vrf string, p netip.Prefix) {
	d := o.dirty[vrf]
	if d == nil {
		d = map[netip.Prefix]struct{}{}
		o.dirty[vrf] = d
	}
	d[p] = struct{}{}
}
