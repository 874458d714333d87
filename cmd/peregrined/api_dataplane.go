package main

import (
	"net/http"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

// dataplaneDoc serves GET /v1/dataplane: the backend's counters that
// belong to no VRF, SA or attachment. The metrics export the same
// counters (metrics_core.go).
func (a *apiServer) dataplaneDoc(w http.ResponseWriter, _ *http.Request) {
	dp := a.withDataplane(w)
	if dp == nil {
		return
	}
	var doc localapi.Dataplane
	if st, ok := dp.stats(); ok && countsCore(st) {
		doc.Core = &localapi.CoreCounters{Drops: dropMap(st.Inbound), UnknownSPI: st.UnknownSPI, Truncated: st.Truncated,
			IKE: st.IKE, Keepalives: st.Keepalives, PlainMPLS: st.PlainIn}
	}
	writeJSON(w, http.StatusOK, doc)
}
