package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/bgpconfig"
	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/mpls"
)

// showVRFsAPI is the local API of a speaker and a FIB with vrfs VRFs,
// each with one remote route, as `peregrine show vrf` reads them.
func showVRFsAPI(tb testing.TB, vrfs int) http.Handler {
	tb.Helper()
	dir := tb.TempDir()
	var y strings.Builder
	fmt.Fprintf(&y, "router: {id: 192.0.2.1, asn: 65000}\ndataplane: {backend: none}\nstate: {directory: %s}\nbgp: {listen-port: 0}\nvrfs:\n", filepath.Join(dir, "state"))
	for i := range vrfs {
		fmt.Fprintf(&y, "  - {name: v%d, rd: '65000:%d', import-targets: ['65000:%d'], export-targets: ['65000:%d'], static-routes: [{prefix: 10.%d.%d.0/24}]}\n",
			i, i+1, i+1, i+1, i/256, i%256)
	}
	path := filepath.Join(dir, "pe.yml")
	if err := os.WriteFile(path, []byte(y.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	events := make(chan bgp.Event, 64)
	go func() {
		for range events {
		}
	}()
	sp, err := bgp.Start(context.Background(), bgpconfig.Translate(cfg), slog.New(slog.DiscardHandler), events)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sp.Stop)
	b := fake.New()
	r := fib.NewReconciler(b, fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	go func() { _ = r.Run(ctx) }()
	r.SetConfig(fibConfig(cfg))
	for i := range vrfs {
		r.UpdateRoute(fib.RouteUpdate{VRF: fmt.Sprintf("v%d", i), Prefix: netip.MustParsePrefix("10.255.0.0/24"),
			Remote: netip.AddrFrom4([4]byte{10, 0, byte(i % 4), 2}), Labels: []mpls.Label{mpls.Label(1000 + i)}})
	}
	if err := r.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	return (&apiServer{speaker: sp, ce: sp, log: slog.New(slog.DiscardHandler), dp: newDataplane(r, b)}).handler()
}

// BenchmarkShowVRFs2000 is `peregrine show vrf` of 2,000 VRFs (issue 23:
// well under a second): GET /v1/vrfs, every VRF with its import count
// and remote PEs.
func BenchmarkShowVRFs2000(b *testing.B) {
	h := showVRFsAPI(b, 2000)
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/vrfs", nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"name": "v1999"`) {
			b.Fatalf("GET /v1/vrfs: %d %.200s", rec.Code, rec.Body.String())
		}
	}
}
