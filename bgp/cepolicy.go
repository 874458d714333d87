package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"

	api "github.com/osrg/gobgp/v3/api"
)

// PrefixRule is one rule of a CE's import or export prefix list: a route
// matches when its prefix lies inside Prefix and its length is in
// MinLen..MaxLen. The first matching rule decides; a list that matches
// nothing denies.
type PrefixRule struct {
	Prefix         netip.Prefix
	MinLen, MaxLen uint8
	Accept         bool
}

// A VRF's CE policy is GoBGP's own routing policy on the VRF's CE server,
// the one owner of what a CE is sent and what enters the VRF from it:
// GoBGP alone passes routes between two CEs of the server, so only its
// policy can stop a route between them; a filter in Peregrine's path
// handling would need a twin in GoBGP for that case. GoBGP has per-peer
// policies only for route-server clients, so each policy below is one
// global policy whose statements each name one CE in a neighbor set,
// which GoBGP matches against the sending peer on import and the
// receiving peer on export (table.NeighborCondition).
//
// Import (in order):
//   - cePolicyTag: strips ceDefaultMarker from what a CE sends, and
//     attaches the CE's site of origin, so that the route is held back
//     from the CEs of that site here as it is behind other PEs;
//   - cePolicyImport: the import-prefixes rules.
//
// Export (in order):
//   - cePolicySoO: a route carrying a CE's site of origin is not sent to
//     that CE (RFC 4364 section 7);
//   - cePolicyDefault: the default route of default-originate
//     (cedefault.go) reaches only the CEs that asked for it, without its
//     marker;
//   - cePolicyExport: the export-prefixes rules.
//
// The whole set is replaced in one SetPolicies call, which GoBGP applies
// under its policy lock: no route is ever judged by half a policy.
const (
	cePolicyTag     = "peregrine-ce-tag"
	cePolicyImport  = "peregrine-ce-import"
	cePolicySoO     = "peregrine-site-of-origin"
	cePolicyDefault = "peregrine-ce-default-originate"
	cePolicyExport  = "peregrine-ce-export"
)

// ceMarkerSet names the defined set matching ceDefaultMarker.
const ceMarkerSet = "default-originate-marker"

// cePolicies builds the CE server's defined sets and policies for v's
// neighbors; asn is this PE's AS, which scopes the default route's
// marker.
func cePolicies(v *VRF, asn uint32) ([]*api.DefinedSet, []*api.Policy) {
	marker := ceDefaultMarker(asn)
	sets := []*api.DefinedSet{{DefinedType: api.DefinedType_LARGE_COMMUNITY, Name: ceMarkerSet, List: []string{marker}}}
	pol := map[string]*api.Policy{}
	for _, name := range []string{cePolicyTag, cePolicyImport, cePolicySoO, cePolicyDefault, cePolicyExport} {
		pol[name] = &api.Policy{Name: name}
	}
	add := func(policy string, c *api.Conditions, a *api.Actions) {
		p := pol[policy]
		p.Statements = append(p.Statements, &api.Statement{Name: fmt.Sprintf("%s-%d", policy, len(p.Statements)), Conditions: c, Actions: a})
	}
	removeMarker := &api.Actions{LargeCommunity: &api.CommunityAction{Type: api.CommunityAction_REMOVE, Communities: []string{marker}}}
	markerMatch := &api.MatchSet{Type: api.MatchSet_ANY, Name: ceMarkerSet}

	var all []string
	for i, n := range v.Neighbors {
		a := n.Address.Unmap()
		ce := fmt.Sprintf("ce-%d", i)
		all = append(all, netip.PrefixFrom(a, a.BitLen()).String())
		sets = append(sets, &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: ce, List: []string{netip.PrefixFrom(a, a.BitLen()).String()}})
		from := func() *api.MatchSet { return &api.MatchSet{Type: api.MatchSet_ANY, Name: ce} }

		if n.SiteOfOrigin.IsValid() {
			soo := "soo:" + n.SiteOfOrigin.String()
			sets = append(sets, &api.DefinedSet{DefinedType: api.DefinedType_EXT_COMMUNITY, Name: ce + "-soo", List: []string{soo}})
			add(cePolicyTag, &api.Conditions{NeighborSet: from()},
				&api.Actions{ExtCommunity: &api.CommunityAction{Type: api.CommunityAction_ADD, Communities: []string{soo}}})
			add(cePolicySoO, &api.Conditions{NeighborSet: from(), ExtCommunitySet: &api.MatchSet{Type: api.MatchSet_ANY, Name: ce + "-soo"}},
				&api.Actions{RouteAction: api.RouteAction_REJECT})
		}
		if !n.DefaultOriginate {
			add(cePolicyDefault, &api.Conditions{NeighborSet: from(), LargeCommunitySet: markerMatch},
				&api.Actions{RouteAction: api.RouteAction_REJECT})
		}
		sets = append(sets, prefixRuleStatements(ce, "in", n.ImportPrefixes, from, func(c *api.Conditions, a *api.Actions) { add(cePolicyImport, c, a) })...)
		sets = append(sets, prefixRuleStatements(ce, "out", n.ExportPrefixes, from, func(c *api.Conditions, a *api.Actions) { add(cePolicyExport, c, a) })...)
	}
	if len(all) > 0 {
		sets = append(sets, &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: "ce-all", List: all})
		// First: the marker is this PE's to set, never a CE's.
		tag := pol[cePolicyTag]
		tag.Statements = append([]*api.Statement{{Name: cePolicyTag + "-marker",
			Conditions: &api.Conditions{NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: "ce-all"}, LargeCommunitySet: markerMatch},
			Actions:    removeMarker}}, tag.Statements...)
	}
	// After the per-CE rejections: whoever gets the default gets it
	// without the marker.
	add(cePolicyDefault, &api.Conditions{LargeCommunitySet: markerMatch}, removeMarker)

	var out []*api.Policy
	for _, name := range []string{cePolicyTag, cePolicyImport, cePolicySoO, cePolicyDefault, cePolicyExport} {
		out = append(out, pol[name])
	}
	return sets, out
}

// prefixRuleStatements turns one CE's rule list into statements (handed
// to add) and returns their prefix sets. A nil list adds nothing: accept
// everything. Otherwise each rule is a statement, and a last one rejects
// what none matched.
func prefixRuleStatements(ce, dir string, rules []PrefixRule, from func() *api.MatchSet, add func(*api.Conditions, *api.Actions)) []*api.DefinedSet {
	if rules == nil {
		return nil
	}
	var sets []*api.DefinedSet
	for k, r := range rules {
		name := fmt.Sprintf("%s-%s-%d", ce, dir, k)
		sets = append(sets, &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: name, Prefixes: []*api.Prefix{{
			IpPrefix: r.Prefix.Masked().String(), MaskLengthMin: uint32(r.MinLen), MaskLengthMax: uint32(r.MaxLen),
		}}})
		action := api.RouteAction_REJECT
		if r.Accept {
			action = api.RouteAction_ACCEPT
		}
		add(&api.Conditions{NeighborSet: from(), PrefixSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: name}},
			&api.Actions{RouteAction: action})
	}
	add(&api.Conditions{NeighborSet: from()}, &api.Actions{RouteAction: api.RouteAction_REJECT})
	return sets
}

// setPolicy replaces the CE server's policy with v's. It runs before v's
// sessions are (re)created, so that each session's first table is
// already filtered; a session whose import-prefixes alone changed is
// soft-reset by setPeers (importOnly).
func (cs *ceServer) setPolicy(ctx context.Context, v *VRF) error {
	sets, policies := cePolicies(v, cs.asn)
	if err := cs.srv.SetPolicies(ctx, &api.SetPoliciesRequest{DefinedSets: sets, Policies: policies}); err != nil {
		return fmt.Errorf("vrf %s: CE policy: %w", v.Name, err)
	}
	if cs.policyAssigned {
		return nil
	}
	for dir, names := range map[api.PolicyDirection][]string{
		api.PolicyDirection_IMPORT: {cePolicyTag, cePolicyImport},
		api.PolicyDirection_EXPORT: {cePolicySoO, cePolicyDefault, cePolicyExport},
	} {
		var ps []*api.Policy
		for _, n := range names {
			ps = append(ps, &api.Policy{Name: n})
		}
		err := cs.srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: dir, Policies: ps, DefaultAction: api.RouteAction_ACCEPT,
		}})
		if err != nil {
			return fmt.Errorf("vrf %s: CE policy: %w", v.Name, err)
		}
	}
	cs.policyAssigned = true
	return nil
}

// importOnly reports whether a and b differ in import-prefixes alone,
// which a soft reset inbound applies without closing the session: GoBGP
// runs the CE's kept Adj-RIB-In through the new policy and withdraws what
// it now rejects. A change that touches export (export-prefixes,
// default-originate, site-of-origin) re-creates the session instead:
// GoBGP v3.37.0's soft reset outbound sends what the new policy accepts
// but withdraws nothing it now rejects (softResetOut drops the filtered
// list of getBestFromLocal), which would leave the CE holding routes its
// filter denies.
func importOnly(a, b CENeighbor) bool {
	a.ImportPrefixes, b.ImportPrefixes = nil, nil
	return reflect.DeepEqual(a, b)
}

// softResetIn makes GoBGP judge what the CE sent by the import policy now
// in place.
func (cs *ceServer) softResetIn(ctx context.Context, a netip.Addr) error {
	return cs.srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: a.String(), Soft: true, Direction: api.ResetPeerRequest_IN})
}
