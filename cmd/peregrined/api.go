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
	"time"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/config"
)

// apiServer serves the local HTTP/JSON API (see package localapi) on a unix
// socket.
type apiServer struct {
	speaker *bgp.Speaker
	ce      ceSessions // the speaker's CE sessions (api_ce.go)
	log     *slog.Logger
	srv     *http.Server
	socket  string     // removed by close
	dp      *dataplane // fib nil with dataplane backend "none"
}

func startAPI(ctl config.Control, sp *bgp.Speaker, dp *dataplane, log *slog.Logger) (*apiServer, error) {
	l, err := listenControl(ctl)
	if err != nil {
		return nil, err
	}
	a := &apiServer{speaker: sp, ce: sp, log: log, socket: ctl.Socket, dp: dp}
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
	a.routeCE(mux)
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

func (a *apiServer) neighbors(w http.ResponseWriter, r *http.Request) {
	ns, err := a.speaker.Neighbors(r.Context(), true)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "list neighbors: %v", err)
		return
	}
	out := []localapi.Neighbor{}
	for _, n := range ns {
		out = append(out, localapi.Neighbor{Address: n.Address, ASN: n.ASN, Description: n.Description,
			State: n.State, Reason: n.Reason, Uptime: n.Uptime, Families: families(n.Families)})
	}
	writeJSON(w, http.StatusOK, out)
}

func families(fs []bgp.FamilyCount) []localapi.Family {
	out := []localapi.Family{}
	for _, f := range fs {
		out = append(out, localapi.Family{Name: f.Name, Received: f.Received, Accepted: f.Accepted, Sent: f.Sent})
	}
	return out
}

func (a *apiServer) vrfs(w http.ResponseWriter, r *http.Request) {
	cfg := a.speaker.Config()
	counts, _, _ := a.speaker.VRFRouteCounts()
	out := make([]localapi.VRF, 0, len(cfg.VRFs))
	for _, v := range cfg.VRFs {
		imported := counts[v.Name]
		lv := localapi.VRF{Name: v.Name, RD: v.RD.String(), LabelMode: v.LabelMode, Imported: imported,
			Interfaces: append([]string{}, v.Interfaces...), ImportTargets: []string{}, ExportTargets: []string{}}
		for _, rt := range v.ImportTargets {
			lv.ImportTargets = append(lv.ImportTargets, rt.String())
		}
		for _, rt := range v.ExportTargets {
			lv.ExportTargets = append(lv.ExportTargets, rt.String())
		}
		for _, pe := range a.dp.remotePEs(v.Name) {
			lv.RemotePEs = append(lv.RemotePEs, localapi.RemotePE{Address: pe.addr, Protection: pe.protection})
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
	protection := map[netip.Addr]string{}
	for _, pe := range a.dp.remotePEs(name) {
		protection[pe.addr] = pe.protection
	}
	for _, rt := range append(local, imported...) {
		lr := localapi.Route{Prefix: rt.Prefix, NextHop: rt.NextHop, Label: uint32(rt.Label), RD: rt.RD.String(), Local: rt.Local}
		if !rt.Local {
			lr.Protection = protection[rt.NextHop.Unmap()]
		}
		out.Routes = append(out.Routes, lr)
	}
	writeJSON(w, http.StatusOK, out)
}
