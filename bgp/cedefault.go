package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// What a VRF's CE server holds as its own (local) path for a prefix, and
// so what its CEs are sent beside each other's routes, one prefix at a
// time (ceSend):
//
//  1. the VRF's static or connected prefix, or the site prefix or lease
//     of one of its IPsec attachments while it is up (attached.go): the
//     configuration (or the attachment's SA) says where it is;
//  2. else the route the VRF imported from a remote PE (ceexport.go);
//  3. else, for 0.0.0.0/0 and ::/0, the default of default-originate,
//     while some CE of that family asks for it.
//
// Every such path carries LOCAL_PREF ceLocalPref, below the 100 a CE's
// route has, so that a CE's own route to the prefix stays the server's
// best: it goes on to the VPN and the other CEs, and GoBGP, which sends
// no route back to the peer it came from, does not echo it to that CE
// (a local path would win on local origin, be sent back, and take the
// CE's route out of the VPN). The default of default-originate has
// LOCAL_PREF 0, below any route, and carries ceDefaultMarker, by which
// the CE policy (cepolicy.go) sends it only to the CEs that asked, and
// strips it. GoBGP removes LOCAL_PREF on eBGP export: CEs see neither.
const (
	ceLocalPref   = 90
	ceDefaultPref = 0
)

// ceDefaultMarker is the large community (RFC 8092) that marks the
// default route of default-originate inside the CE server: this PE's AS,
// then 4294967295:0, values no operator assigns by accident.
func ceDefaultMarker(asn uint32) string { return fmt.Sprintf("%d:%d:0", asn, uint32(ceMarkerData1)) }

const ceMarkerData1 = 4294967295

// ceWant is the local path vrf's CE server should hold for p: its
// attributes (without next hop), or ok false for none.
func (s *Speaker) ceWant(vrf string, p netip.Prefix) (attrs []gobgp.PathAttributeInterface, ok bool) {
	v := s.cfg.vrf(vrf)
	if v == nil {
		return nil, false
	}
	if s.ceOwn(v, p) {
		return []gobgp.PathAttributeInterface{gobgp.NewPathAttributeLocalPref(ceLocalPref)}, true
	}
	if key, ok := s.imp.installed(vrf, p); ok {
		if attrs, known := s.ceAttrs[key]; known {
			return append(withoutMarker(attrs, s.cfg.ASN), gobgp.NewPathAttributeLocalPref(ceLocalPref)), true
		}
	}
	if p.Bits() == 0 && ceDefaultOriginate(v, p.Addr().Is4()) {
		return []gobgp.PathAttributeInterface{
			gobgp.NewPathAttributeLocalPref(ceDefaultPref),
			gobgp.NewPathAttributeLargeCommunities([]*gobgp.LargeCommunity{gobgp.NewLargeCommunity(s.cfg.ASN, ceMarkerData1, 0)}),
		}, true
	}
	return nil, false
}

// ceOwn reports whether p is one of v's static or connected prefixes or
// the prefix of one of its up attachments.
func (s *Speaker) ceOwn(v *VRF, p netip.Prefix) bool {
	has := func(ps []netip.Prefix) bool {
		return slices.ContainsFunc(ps, func(q netip.Prefix) bool { return q.Masked() == p })
	}
	return has(v.StaticRoutes) || has(s.connected[v.Name]) || has(s.org.attached[v.Name])
}

// ceOwnPrefixes lists v's static, connected and attached prefixes and the
// defaults of default-originate: the prefixes ceResync sends besides the
// imported.
func (s *Speaker) ceOwnPrefixes(v *VRF) []netip.Prefix {
	var out []netip.Prefix
	own := append(slices.Clone(v.StaticRoutes), s.connected[v.Name]...)
	for _, p := range append(own, s.org.attached[v.Name]...) {
		out = append(out, p.Masked())
	}
	if ceDefaultOriginate(v, true) {
		out = append(out, netip.MustParsePrefix("0.0.0.0/0"))
	}
	if ceDefaultOriginate(v, false) {
		out = append(out, netip.MustParsePrefix("::/0"))
	}
	return out
}

// ceDefaultOriginate reports whether a CE of v carrying IPv4 (or IPv6)
// asks for a default route.
func ceDefaultOriginate(v *VRF, ipv4 bool) bool {
	fam := "ipv6"
	if ipv4 {
		fam = "ipv4"
	}
	return slices.ContainsFunc(v.Neighbors, func(n CENeighbor) bool {
		return n.DefaultOriginate && slices.Contains(n.Families, fam)
	})
}

// ceSendChanged brings vrf's CEs up to date after its connected (or
// attached) prefixes went from old to now: each prefix in either is sent again (or
// withdrawn, or replaced by the imported route it shadowed).
func (s *Speaker) ceSendChanged(ctx context.Context, vrf string, old, now []netip.Prefix) error {
	if s.ces[vrf] == nil {
		return nil
	}
	for _, p := range append(slices.Clone(old), now...) {
		if err := s.ceSend(ctx, vrf, p.Masked()); err != nil {
			return err
		}
	}
	return nil
}

// withoutMarker is a copy of attrs (an imported VPN path's) without
// ceDefaultMarker: a remote PE that is not Peregrine may pass it on from
// its CE, and the imported route would then reach only the CEs with
// default-originate.
func withoutMarker(attrs []gobgp.PathAttributeInterface, asn uint32) []gobgp.PathAttributeInterface {
	out := make([]gobgp.PathAttributeInterface, 0, len(attrs)+1)
	for _, a := range attrs {
		lc, ok := a.(*gobgp.PathAttributeLargeCommunities)
		if !ok {
			out = append(out, a)
			continue
		}
		var keep []*gobgp.LargeCommunity
		for _, c := range lc.Values {
			if c.ASN != asn || c.LocalData1 != ceMarkerData1 || c.LocalData2 != 0 {
				keep = append(keep, c)
			}
		}
		if len(keep) > 0 {
			out = append(out, gobgp.NewPathAttributeLargeCommunities(keep))
		}
	}
	return out
}

// attrsKey is the encoding of attrs, which tells an unchanged path from a
// changed one.
func attrsKey(attrs []gobgp.PathAttributeInterface) (string, error) {
	var b []byte
	for _, a := range attrs {
		e, err := a.Serialize()
		if err != nil {
			return "", fmt.Errorf("%s: %w", a.GetType(), err)
		}
		b = append(b, e...)
	}
	return string(b), nil
}
