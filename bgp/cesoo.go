package bgp

import (
	"context"
	"fmt"

	api "github.com/osrg/gobgp/v3/api"
)

// sooPolicy names the CE server's global export policy that holds a
// route back from the CEs of the site it came from (RFC 4364 section 7
// "Site of Origin"). GoBGP has per-peer export policies only for route
// server clients, so it is one global policy whose statements each match
// one CE (a neighbor set, which GoBGP evaluates against the receiving
// peer on export) and its site of origin.
const sooPolicy = "peregrine-site-of-origin"

// setSiteOfOrigin replaces the CE server's site-of-origin policy with one
// for v's neighbors. It runs before their sessions are (re)created, so
// that each session's first table is already filtered.
func (cs *ceServer) setSiteOfOrigin(ctx context.Context, v *VRF) error {
	if cs.sooSets > 0 {
		_ = cs.srv.DeletePolicyAssignment(ctx, &api.DeletePolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: api.PolicyDirection_EXPORT}, All: true})
		_ = cs.srv.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: sooPolicy}, All: true})
		for i := range cs.sooSets {
			_ = cs.srv.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: fmt.Sprintf("soo-ce-%d", i)}, All: true})
			_ = cs.srv.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: api.DefinedType_EXT_COMMUNITY, Name: fmt.Sprintf("soo-%d", i)}, All: true})
		}
		cs.sooSets = 0
	}
	var stmts []*api.Statement
	for _, n := range v.Neighbors {
		if !n.SiteOfOrigin.IsValid() {
			continue
		}
		i := len(stmts)
		ce, soo := fmt.Sprintf("soo-ce-%d", i), fmt.Sprintf("soo-%d", i)
		sets := []*api.DefinedSet{
			{DefinedType: api.DefinedType_NEIGHBOR, Name: ce, List: []string{n.Address.Unmap().String() + "/" + fmt.Sprint(n.Address.Unmap().BitLen())}},
			{DefinedType: api.DefinedType_EXT_COMMUNITY, Name: soo, List: []string{"soo:" + n.SiteOfOrigin.String()}},
		}
		for _, d := range sets {
			if err := cs.srv.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: d}); err != nil {
				return fmt.Errorf("vrf %s CE %s site-of-origin %s: %w", v.Name, n.Address, n.SiteOfOrigin, err)
			}
		}
		cs.sooSets = i + 1
		stmts = append(stmts, &api.Statement{
			Name: fmt.Sprintf("%s-%d", sooPolicy, i),
			Conditions: &api.Conditions{
				NeighborSet:     &api.MatchSet{Type: api.MatchSet_ANY, Name: ce},
				ExtCommunitySet: &api.MatchSet{Type: api.MatchSet_ANY, Name: soo},
			},
			Actions: &api.Actions{RouteAction: api.RouteAction_REJECT},
		})
	}
	if len(stmts) == 0 {
		return nil
	}
	if err := cs.srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: sooPolicy, Statements: stmts}}); err != nil {
		return fmt.Errorf("vrf %s: site-of-origin policy: %w", v.Name, err)
	}
	err := cs.srv.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_EXPORT, Policies: []*api.Policy{{Name: sooPolicy}}, DefaultAction: api.RouteAction_ACCEPT,
	}})
	if err != nil {
		return fmt.Errorf("vrf %s: site-of-origin policy: %w", v.Name, err)
	}
	return nil
}
