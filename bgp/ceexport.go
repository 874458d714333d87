package bgp

import (
	"context"
	"fmt"
	"github.com/peregrine-net/peregrine/bgp/vpn"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// What a VRF's CEs are sent: each route the VRF imported from a remote PE,
// with the attributes of the VPN path it came from that a CE may see
// (origin, AS path, MED, communities, large communities), injected into
// the VRF's CE server as a local unicast path. GoBGP's eBGP export then
// prepends the provider AS, sets next-hop self and, for an as-override
// CE, replaces the CE's AS (cePeer). Route targets and other extended
// communities stay in the provider's network. The VRF's own prefixes and
// the default of default-originate are sent the same way, and ceWant
// (cedefault.go) picks one of them per prefix.

// ceSentTypes are the attributes of an imported VPN path a CE is sent.
var ceSentTypes = map[gobgp.BGPAttrType]bool{
	gobgp.BGP_ATTR_TYPE_ORIGIN:          true,
	gobgp.BGP_ATTR_TYPE_AS_PATH:         true,
	gobgp.BGP_ATTR_TYPE_MULTI_EXIT_DISC: true,
	gobgp.BGP_ATTR_TYPE_COMMUNITIES:     true,
	gobgp.BGP_ATTR_TYPE_LARGE_COMMUNITY: true,
}

// installed is the path key of vrf's imported route to p, if it has one.
func (im *importer) installed(vrf string, p netip.Prefix) (pathKey, bool) {
	t := im.table(vrf)
	if t == nil {
		return pathKey{}, false
	}
	c, ok := best(t.candidates(packPrefix(p), im.scratch[:0]))
	if !ok {
		return pathKey{}, false
	}
	return pathKey{rd: c.rd, prefix: p}, true
}

// ceWanted reports whether some VRF with CE sessions imports a path
// carrying rts: only those paths' attributes are kept (ceAttrs).
func (s *Speaker) ceWanted(rts []vpn.RT) bool {
	for name := range s.ces {
		if v := s.cfg.vrf(name); v != nil && matches(v.ImportTargets, rts) {
			return true
		}
	}
	return false
}

// ceNote keeps (or, for a withdrawal, forgets) the sendable attributes of
// best VPN path p, decoded as vp, for the CE VRFs that import it.
func (s *Speaker) ceNote(p *api.Path, vp vpnPath) {
	if vp.withdraw || vp.local || !s.ceWanted(vp.rts) {
		delete(s.ceAttrs, vp.key)
		return
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		s.log.Warn("VPN path not sent to CEs", "rd", vp.key.rd, "prefix", vp.key.prefix, "error", err)
		delete(s.ceAttrs, vp.key)
		return
	}
	keep := attrs[:0:0]
	for _, a := range attrs {
		if ceSentTypes[a.GetType()] {
			keep = append(keep, a)
		}
		// The site of origin travels on, for siteOfOriginPolicy to hold
		// the route back from its own site's CEs.
		if ecs, ok := a.(*gobgp.PathAttributeExtendedCommunities); ok {
			var soos []gobgp.ExtendedCommunityInterface
			for _, ec := range ecs.Value {
				if _, sub := ec.GetTypes(); sub == gobgp.EC_SUBTYPE_ROUTE_ORIGIN && isTargetOrOrigin(ec) {
					soos = append(soos, ec)
				}
			}
			if len(soos) > 0 {
				keep = append(keep, gobgp.NewPathAttributeExtendedCommunities(soos))
			}
		}
	}
	s.ceAttrs[vp.key] = keep
}

// ceSend makes vrf's CE server's own path for prefix p what ceWant says:
// the VRF's own prefix, its imported route, or a default to originate.
func (s *Speaker) ceSend(ctx context.Context, vrf string, p netip.Prefix) error {
	cs := s.ces[vrf]
	if cs == nil {
		return nil
	}
	if attrs, ok := s.ceWant(vrf, p); ok {
		key, err := attrsKey(attrs)
		if err != nil {
			return fmt.Errorf("vrf %s: send %s to CEs: %w", vrf, p, err)
		}
		if have, sent := cs.sent[p]; sent && have == key {
			return nil // unchanged: GoBGP would send the CEs the same UPDATE again
		}
		path, err := ceUnicastPath(p, attrs, false)
		if err != nil {
			return err
		}
		if _, err := cs.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path}); err != nil {
			return fmt.Errorf("vrf %s: send %s to CEs: %w", vrf, p, err)
		}
		cs.sent[p] = key
		return nil
	}
	if _, sent := cs.sent[p]; !sent {
		return nil
	}
	path, err := ceUnicastPath(p, nil, true)
	if err != nil {
		return err
	}
	if err := cs.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Path: path}); err != nil {
		return fmt.Errorf("vrf %s: withdraw %s from CEs: %w", vrf, p, err)
	}
	delete(cs.sent, p)
	return nil
}

// ceResync sends vrf's CEs every route it imported, its own prefixes and
// defaults (cedefault.go), and withdraws what it no longer has, reading the attributes from GoBGP's RIB: for a CE server
// just started, and after a reload that may have changed the import
// targets.
func (s *Speaker) ceResync(ctx context.Context, vrf string) error {
	cs := s.ces[vrf]
	if cs == nil {
		return nil
	}
	for _, fam := range []*api.Family{families["vpnv4"], families["vpnv6"]} {
		err := s.srv.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: fam, EnableOnlyBinary: false}, func(d *api.Destination) {
			for _, p := range d.Paths {
				if !p.Best {
					continue
				}
				vp, err := decodePath(p, nil)
				if err != nil {
					continue
				}
				s.ceNote(p, vp)
			}
		})
		if err != nil {
			return fmt.Errorf("vrf %s: list VPN paths for CEs: %w", vrf, err)
		}
	}
	routes, _ := s.imp.routes(vrf)
	var prefixes []netip.Prefix
	for _, r := range routes {
		if !r.Local {
			prefixes = append(prefixes, r.Prefix)
		}
	}
	if v := s.cfg.vrf(vrf); v != nil {
		prefixes = append(prefixes, s.ceOwnPrefixes(v)...)
	}
	want := map[netip.Prefix]bool{}
	for _, p := range prefixes {
		if want[p] {
			continue
		}
		want[p] = true
		if err := s.ceSend(ctx, vrf, p); err != nil {
			return err
		}
	}
	for p := range cs.sent {
		if !want[p] {
			if err := s.ceSend(ctx, vrf, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// ceUnicastPath is the local unicast path that sends prefix to the CEs.
// Its next hop is left unspecified: GoBGP sets the session's local address
// on eBGP export.
func ceUnicastPath(prefix netip.Prefix, attrs []gobgp.PathAttributeInterface, withdraw bool) (*api.Path, error) {
	var nlri gobgp.AddrPrefixInterface
	hasOrigin := false
	for _, a := range attrs {
		hasOrigin = hasOrigin || a.GetType() == gobgp.BGP_ATTR_TYPE_ORIGIN
	}
	out := make([]gobgp.PathAttributeInterface, 0, len(attrs)+2)
	if !hasOrigin {
		out = append(out, gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_IGP))
	}
	out = append(out, attrs...)
	if prefix.Addr().Is4() {
		nlri = gobgp.NewIPAddrPrefix(uint8(prefix.Bits()), prefix.Addr().String())
		out = append(out, gobgp.NewPathAttributeNextHop("0.0.0.0"))
	} else {
		nlri = gobgp.NewIPv6AddrPrefix(uint8(prefix.Bits()), prefix.Addr().String())
		out = append(out, gobgp.NewPathAttributeMpReachNLRI("::", []gobgp.AddrPrefixInterface{nlri}))
	}
	return apiutil.NewPath(nlri, withdraw, out, time.Now())
}
