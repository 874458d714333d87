package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

// ceSessions is the speaker's read API of the VRFs' CE sessions
// (bgp.Speaker's CENeighbors, AllCENeighbors and CERoutes). The local API
// and the metrics read CE sessions through it alone, so that their tests
// can hand them CE sessions that bgp.Start does not run yet
// (bgp.ErrCENotRunYet).
type ceSessions interface {
	CENeighbors(ctx context.Context, vrf string) ([]bgp.CENeighborStatus, bool, error)
	AllCENeighbors(ctx context.Context) ([]bgp.CENeighborStatus, error)
	CERoutes(ctx context.Context, vrf, family string) (bgp.CERoutes, bool, error)
}

var _ ceSessions = (*bgp.Speaker)(nil)

func (a *apiServer) routeCE(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/bgp/vrfs/{name}/neighbors", a.ceNeighbors)
	mux.HandleFunc("GET /v1/bgp/vrfs/{name}/paths", a.cePaths)
}

func (a *apiServer) ceNeighbors(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ns, ok, err := a.ce.CENeighbors(r.Context(), name)
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	case !ok:
		writeError(w, http.StatusNotFound, "no vrf %q", name)
		return
	}
	out := []localapi.CENeighbor{}
	for _, n := range ns {
		out = append(out, ceNeighborDoc(n))
	}
	writeJSON(w, http.StatusOK, out)
}

// ceNeighborDoc is the document of one CE session. It names each field
// it copies: a CE's password is in the speaker's configuration, never in
// a CENeighborStatus, and must stay out of the API.
func ceNeighborDoc(n bgp.CENeighborStatus) localapi.CENeighbor {
	return localapi.CENeighbor{VRF: n.VRF, Flaps: n.Flaps, Neighbor: localapi.Neighbor{
		Address: n.Address, ASN: n.ASN, Description: n.Description, State: n.State, Reason: n.Reason,
		Uptime: n.Uptime, Families: families(n.Families)}}
}

func (a *apiServer) cePaths(w http.ResponseWriter, r *http.Request) {
	name, fam := r.PathValue("name"), r.URL.Query().Get("family")
	routes, ok, err := a.ce.CERoutes(r.Context(), name, fam)
	switch {
	case errors.Is(err, bgp.ErrUnknownFamily):
		writeError(w, http.StatusBadRequest, "family %q: want ipv4 or ipv6", fam)
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	case !ok:
		writeError(w, http.StatusNotFound, "no vrf %q", name)
		return
	}
	writeJSON(w, http.StatusOK, localapi.CERoutes{VRF: name, Family: fam,
		Learned: cePathDocs(routes.Learned), Advertised: cePathDocs(routes.Advertised)})
}

func cePathDocs(ps []bgp.CEPath) []localapi.CEPath {
	out := []localapi.CEPath{}
	for _, p := range ps {
		d := localapi.CEPath{Prefix: p.Prefix, NextHop: p.NextHop, Neighbor: p.Neighbor, Origin: p.Origin,
			ASPath: p.ASPath, Communities: append([]string{}, p.Communities...), Best: p.Best}
		if p.HasMED {
			med := p.MED
			d.MED = &med
		}
		out = append(out, d)
	}
	return out
}
