package main

import (
	"cmp"
	"maps"
	"net/http"
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/fib"
)

// dataplane is what the API and the metrics read of the forwarding side:
// the reconciler's State and, where the backend keeps them, its counters.
type dataplane struct {
	fib      *fib.Reconciler
	counters fib.Counterer // nil if the backend counts nothing
	// trustedCore: a backend that carries no tunnels (the kernel
	// backend without an ESP gateway), which sends every remote PE plain
	// MPLS unless unprotected peers are listed (protection.go).
	trustedCore bool
	// attachments are the configured IPsec attachments (api_attach.go).
	attachments []configuredAttachment
	// readLinks, if set, stands in for readHostLinks (api_links.go):
	// tests count the reads.
	readLinks func() hostLinks
}

func newDataplane(r *fib.Reconciler, b fib.Backend) *dataplane {
	c, _ := b.(fib.Counterer)
	return &dataplane{fib: r, counters: c, trustedCore: dataplaneOf(b).noTunnels}
}

// stats returns the backend's counters; ok is false if it keeps none.
func (dp *dataplane) stats() (s fib.Stats, ok bool) {
	if dp.counters == nil {
		return fib.Stats{}, false
	}
	return dp.counters.Stats(), true
}

func (a *apiServer) routeShow(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/bgp/{family}", a.vpnPaths)
	mux.HandleFunc("GET /v1/mpls", a.mpls)
	mux.HandleFunc("GET /v1/ipsec/sa", a.ipsecSAs)
	mux.HandleFunc("GET /v1/ipsec/attachments", a.ipsecAttachments)
	mux.HandleFunc("GET /v1/interfaces", a.interfaces)
	mux.HandleFunc("GET /v1/dataplane", a.dataplaneDoc)
}

func (a *apiServer) vpnPaths(w http.ResponseWriter, r *http.Request) {
	fam := r.PathValue("family")
	if fam != "vpnv4" && fam != "vpnv6" {
		writeError(w, http.StatusNotFound, "no family %q: want vpnv4 or vpnv6", fam)
		return
	}
	var rd vpn.RD
	var imports []vpn.RT
	vrfName := r.URL.Query().Get("vrf")
	if vrfName != "" {
		found := false
		for _, v := range a.speaker.Config().VRFs {
			if v.Name == vrfName {
				rd, imports, found = v.RD, v.ImportTargets, true
			}
		}
		if !found {
			writeError(w, http.StatusNotFound, "no vrf %q", vrfName)
			return
		}
	}
	paths, err := a.speaker.VPNPaths(r.Context(), fam == "vpnv6")
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	out := []localapi.VPNPath{}
	for _, p := range paths {
		if vrfName != "" && !(p.Local && p.RD == rd) && !slices.ContainsFunc(p.RTs, func(rt vpn.RT) bool { return slices.Contains(imports, rt) }) {
			continue
		}
		lp := localapi.VPNPath{RD: p.RD.String(), Prefix: p.Prefix, NextHop: p.NextHop, Label: uint32(p.Label),
			RTs: []string{}, Best: p.Best, Local: p.Local, Neighbor: p.Neighbor}
		for _, rt := range p.RTs {
			lp.RTs = append(lp.RTs, rt.String())
		}
		out = append(out, lp)
	}
	writeJSON(w, http.StatusOK, out)
}

// withDataplane answers 503 when there is no FIB.
func (a *apiServer) withDataplane(w http.ResponseWriter) *dataplane {
	dp := a.dp
	if dp == nil || dp.fib == nil {
		writeError(w, http.StatusServiceUnavailable, "no dataplane (dataplane.backend: none)")
		return nil
	}
	return dp
}

func (a *apiServer) mpls(w http.ResponseWriter, _ *http.Request) {
	dp := a.withDataplane(w)
	if dp == nil {
		return
	}
	out := []localapi.LabelEntry{}
	if s := dp.fib.State(); s != nil {
		for l, act := range s.Labels {
			e := localapi.LabelEntry{Label: uint32(l), VRF: act.VRF, Action: "pop-lookup"}
			if act.Kind == fib.PopForward {
				e.Action = "pop-forward"
			}
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(x, y localapi.LabelEntry) int { return cmp.Compare(x.Label, y.Label) })
	writeJSON(w, http.StatusOK, out)
}

func (a *apiServer) ipsecSAs(w http.ResponseWriter, _ *http.Request) {
	if dp := a.withDataplane(w); dp != nil {
		writeJSON(w, http.StatusOK, dp.saDocs())
	}
}

// saDocs describes every SA of the FIB's tunnels with its counters.
func (dp *dataplane) saDocs() []localapi.SA {
	// Outbound SPIs may repeat across tunnels (each remote PE picks its
	// own), so an outbound SA is found by its remote PE too.
	type saID struct {
		remote netip.Addr
		out    bool
		spi    uint32
	}
	counters := map[saID]fib.SACounters{}
	if st, ok := dp.stats(); ok {
		for _, c := range st.SAs {
			id := saID{spi: c.SPI, out: c.Outbound}
			if c.Outbound {
				id.remote = c.Remote.Unmap()
			}
			counters[id] = c
		}
	}
	out := []localapi.SA{}
	s := dp.fib.State()
	if s == nil {
		return out
	}
	// PE tunnels and IPsec attachments alike: an attachment's remote is
	// its gateway.
	type pair struct {
		remote  netip.Addr
		out, in *fib.SAParams
	}
	var pairs []pair
	for _, t := range s.Tunnels {
		pairs = append(pairs, pair{t.Remote, t.Out, t.In})
		for _, r := range t.Resources { // RFC 9611 per-resource SAs
			pairs = append(pairs, pair{t.Remote, r.Out, r.In})
		}
	}
	for _, a := range s.Attachments {
		pairs = append(pairs, pair{a.Remote.Addr(), a.Out, a.In})
	}
	for _, t := range pairs {
		for _, dir := range []struct {
			name string
			p    *fib.SAParams
		}{{"out", t.out}, {"in", t.in}} {
			if dir.p == nil {
				continue
			}
			sa := localapi.SA{Remote: t.remote, Direction: dir.name, SPI: dir.p.SPI, Protocol: "esp", Cipher: dir.p.Cipher.String(),
				ESN: dir.p.ESN, AntiReplay: !dir.p.NoAntiReplay, Drops: map[string]uint64{}}
			if dir.p.IsAH() {
				// AH's window is always on (package ipsec/ah).
				sa.Protocol, sa.IntegrityOnly, sa.Cipher, sa.AntiReplay = "ah", true, dir.p.AH.String(), true
			}
			if dir.name == "in" && sa.AntiReplay {
				sa.ReplayWindow = cmp.Or(dir.p.ReplayWindow, 1024)
			}
			id := saID{spi: dir.p.SPI}
			if dir.name == "out" {
				id = saID{remote: t.remote.Unmap(), out: true, spi: dir.p.SPI}
			}
			c := counters[id]
			if dir.name == "out" {
				sa.Packets, sa.Bytes = c.SealedPackets, c.SealedBytes
				addDrop(sa.Drops, "seq-exhausted", c.SeqExhausted)
				addDrop(sa.Drops, "seal-error", c.SealErrors)
			} else {
				sa.Packets, sa.Bytes = c.OpenedPackets, c.OpenedBytes
				addDrop(sa.Drops, "auth-failed", c.AuthFailed)
				addDrop(sa.Drops, "replayed", c.Replayed)
				addDrop(sa.Drops, "too-old", c.TooOld)
				addDrop(sa.Drops, "bad-padding", c.BadPadding)
				addDrop(sa.Drops, "malformed", c.Malformed)
			}
			out = append(out, sa)
		}
	}
	slices.SortFunc(out, func(x, y localapi.SA) int {
		return cmp.Or(x.Remote.Compare(y.Remote), cmp.Compare(y.Direction, x.Direction), cmp.Compare(x.SPI, y.SPI))
	})
	return out
}

// vrfCounters returns each VRF's fast-path counters, or nil if the
// backend has no VRF TUNs (the kernel backend's VRFs are VRF devices).
func vrfCounters(st fib.Stats) map[string]*localapi.VRFCounters {
	if st.VRFs == nil {
		return nil
	}
	return countersOf(st.VRFs)
}

func countersOf(m map[string]fib.VRFCounters) map[string]*localapi.VRFCounters {
	out := map[string]*localapi.VRFCounters{}
	for name, c := range m {
		out[name] = &localapi.VRFCounters{OutPackets: c.OutPackets, OutBytes: c.OutBytes,
			InPackets: c.InPackets, InBytes: c.InBytes, OutDrops: dropMap(c.OutDrops), InDrops: dropMap(c.InDrops)}
	}
	return out
}

// kernelInterfaces are the kernel backend's own devices: each VRF's VRF
// device and the ESP gateway's TUNs (st.Devices), with their counters.
func kernelInterfaces(links hostLinks, st fib.Stats, vrfs []bgp.VRF) []localapi.Interface {
	var out []localapi.Interface
	for _, v := range vrfs {
		out = append(out, links.info(fib.VRFDevice(v.Name), v.Name, "vrf"))
	}
	counters := countersOf(st.Devices)
	for _, name := range slices.Sorted(maps.Keys(counters)) {
		ifc := links.info(name, "", "esp")
		ifc.Counters = counters[name]
		out = append(out, ifc)
	}
	return out
}

func addDrop(m map[string]uint64, reason string, n uint64) {
	if n > 0 {
		m[reason] = n
	}
}

func dropMap(d fib.Drops) map[string]uint64 {
	m := map[string]uint64{}
	d.Each(func(reason string, n uint64) { addDrop(m, reason, n) })
	return m
}

func (a *apiServer) interfaces(w http.ResponseWriter, _ *http.Request) {
	if dp := a.withDataplane(w); dp != nil {
		writeJSON(w, http.StatusOK, dp.interfaceDocs(a.speaker.Config().VRFs))
	}
}

// interfaceDocs describes the VRFs' CE interfaces and the backend's own
// devices: the userspace backend's VRF TUNs, or the kernel backend's VRF
// devices and ESP gateway TUNs (a Counterer whose Stats has no VRFs),
// with their counters.
func (dp *dataplane) interfaceDocs(vrfs []bgp.VRF) []localapi.Interface {
	links := dp.links()
	st, counting := dp.stats()
	counters := vrfCounters(st)
	out := []localapi.Interface{}
	for _, v := range vrfs {
		for _, name := range v.Interfaces {
			out = append(out, links.info(name, v.Name, "ce"))
		}
		if counters != nil {
			ifc := links.info(fib.TUNName(v.Name), v.Name, "tun")
			ifc.Counters = counters[v.Name]
			out = append(out, ifc)
		}
	}
	if counting && st.VRFs == nil { // the kernel backend
		out = append(out, kernelInterfaces(links, st, vrfs)...)
	}
	return out
}
