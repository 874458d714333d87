package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
)

// TestDataplaneAPI: GET /v1/dataplane carries the core-side counters the
// backend keeps (drops by reason, zeros left out as in every drops map;
// unknown SPIs, truncated, IKE, keepalives, plain MPLS), no core document
// where the kernel counts instead, and 503 without a dataplane.
func TestDataplaneAPI(t *testing.T) {
	gateway := coreStats()
	gateway.VRFs, gateway.PlainIn = nil, 0
	gateway.Devices = map[string]fib.VRFCounters{"pgesp-in": {}}
	const core = `"drops": {
      "bad-source": 1,
      "malformed": 2,
      "open-failed": 5,
      "unknown-label": 3
    },
    "unknown-spi": 4,
    "truncated": 1,
    "ike": 7,
    "keepalives": 2`
	for _, tc := range []struct {
		name string
		dp   func() *dataplane
		code int
		want string
	}{
		{"userspace", func() *dataplane { return backendDataplane(coreStats()) }, http.StatusOK,
			"{\n  \"core\": {\n    " + core + ",\n    \"plain-mpls\": 11\n  }\n}\n"},
		{"kernel with ESP gateway", func() *dataplane { return backendDataplane(gateway) }, http.StatusOK,
			"{\n  \"core\": {\n    " + core + "\n  }\n}\n"},
		{"kernel without gateway", func() *dataplane { return backendDataplane(fib.Stats{}) }, http.StatusOK, "{}\n"},
		{"no counters", func() *dataplane {
			return &dataplane{fib: fib.NewReconciler(fake.New(), fib.Options{})}
		}, http.StatusOK, "{}\n"},
		{"no dataplane", func() *dataplane { return &dataplane{} }, http.StatusServiceUnavailable,
			"{\n  \"error\": \"no dataplane (dataplane.backend: none)\"\n}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &apiServer{dp: tc.dp()}
			rec := httptest.NewRecorder()
			a.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/dataplane", nil))
			if rec.Code != tc.code || rec.Body.String() != tc.want {
				t.Errorf("GET /v1/dataplane: %d\n%s\nwant %d\n%s", rec.Code, rec.Body, tc.code, tc.want)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// backendDataplane is a dataplane whose backend reports st.
func backendDataplane(st fib.Stats) *dataplane {
	b := statsBackend{Backend: fake.New(), stats: st}
	return newDataplane(fib.NewReconciler(b, fib.Options{}), b)
}
