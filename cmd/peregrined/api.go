package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/config"
)

// apiServer serves the local HTTP/JSON API (see package localapi) on a unix
// socket.
type apiServer struct {
	speaker *bgp.Speaker
	log     *slog.Logger
	srv     *http.Server
	socket  string                    // removed by close
	dp      atomic.Pointer[dataplane] // see setDataplane
}

func startAPI(ctl config.Control, sp *bgp.Speaker, log *slog.Logger) (*apiServer, error) {
	l, err := listenControl(ctl)
	if err != nil {
		return nil, err
	}
	a := &apiServer{speaker: sp, log: log, socket: ctl.Socket}
	a.srv = &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: maxRequestHeader}
	go func() {
		if err := a.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("local API stopped", "error", err)
		}
	}()
	return a, nil
}

// maxRequestHeader bounds a request's header: the API takes no body and
// its longest request is a VRF name in a path.
const maxRequestHeader = 16 << 10

// handler routes the API's requests; every one is a GET without a body.
func (a *apiServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/bgp/neighbors", a.neighbors)
	mux.HandleFunc("GET /v1/vrfs", a.vrfs)
	mux.HandleFunc("GET /v1/vrfs/{name}/routes", a.vrfRoutes)
	a.routeShow(mux)
	return mux
}

func (a *apiServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	_ = os.Remove(a.socket)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, localapi.Error{Error: fmt.Sprintf(format, args...)})
}

var familyNames = map[string]string{"AFI_IP/SAFI_UNICAST": "ipv4", "AFI_IP6/SAFI_UNICAST": "ipv6", "AFI_IP/SAFI_MPLS_VPN": "vpnv4", "AFI_IP6/SAFI_MPLS_VPN": "vpnv6"}

// peerFamilies returns the prefix counts of a peer's families we name.
func peerFamilies(p *api.Peer) []localapi.Family {
	var out []localapi.Family
	for _, af := range p.GetAfiSafis() {
		f := af.GetConfig().GetFamily()
		name := familyNames[f.GetAfi().String()+"/"+f.GetSafi().String()]
		if name == "" {
			continue
		}
		s := af.GetState()
		out = append(out, localapi.Family{Name: name, Received: s.GetReceived(), Accepted: s.GetAccepted(), Sent: s.GetAdvertised()})
	}
	return out
}

func (a *apiServer) neighbors(w http.ResponseWriter, r *http.Request) {
	out := []localapi.Neighbor{}
	err := a.speaker.Server().ListPeer(r.Context(), &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		n := localapi.Neighbor{Description: p.GetConf().GetDescription(), ASN: p.GetConf().GetPeerAsn(), Families: []localapi.Family{}}
		n.Address, _ = netip.ParseAddr(p.GetConf().GetNeighborAddress())
		st := p.GetState().GetSessionState()
		n.State = map[api.PeerState_SessionState]string{
			api.PeerState_IDLE: "idle", api.PeerState_CONNECT: "connect", api.PeerState_ACTIVE: "active",
			api.PeerState_OPENSENT: "opensent", api.PeerState_OPENCONFIRM: "openconfirm", api.PeerState_ESTABLISHED: "established",
		}[st]
		if n.State == "" {
			n.State = "unknown"
		}
		n.Reason = a.speaker.PeerReason(p)
		if up := p.GetTimers().GetState().GetUptime(); st == api.PeerState_ESTABLISHED && up != nil {
			n.Uptime = time.Since(up.AsTime()).Truncate(time.Second)
		}
		n.Families = append(n.Families, peerFamilies(p)...)
		out = append(out, n)
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "list neighbors: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *apiServer) vrfs(w http.ResponseWriter, r *http.Request) {
	cfg := a.speaker.Config()
	out := []localapi.VRF{}
	for _, v := range cfg.VRFs {
		imported, _, _ := a.speaker.VRFRouteCount(v.Name)
		lv := localapi.VRF{Name: v.Name, RD: v.RD.String(), LabelMode: v.LabelMode, Imported: imported,
			Interfaces: append([]string{}, v.Interfaces...), ImportTargets: []string{}, ExportTargets: []string{}}
		for _, rt := range v.ImportTargets {
			lv.ImportTargets = append(lv.ImportTargets, rt.String())
		}
		for _, rt := range v.ExportTargets {
			lv.ExportTargets = append(lv.ExportTargets, rt.String())
		}
		out = append(out, lv)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *apiServer) vrfRoutes(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	imported, ok, err := a.speaker.VRFRoutes(name)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "no vrf %q", name)
		return
	}
	local, err := a.speaker.LocalRoutes(name)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	out := localapi.VRFRoutes{VRF: name, Routes: []localapi.Route{}}
	for _, rt := range append(local, imported...) {
		out.Routes = append(out.Routes, localapi.Route{Prefix: rt.Prefix, NextHop: rt.NextHop, Label: uint32(rt.Label), RD: rt.RD.String(), Local: rt.Local})
	}
	writeJSON(w, http.StatusOK, out)
}
