package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// statsBackend is the fake backend with counters (a fib.Counterer).
type statsBackend struct {
	*fake.Backend
	stats fib.Stats
}

func (b statsBackend) Stats() fib.Stats { return b.stats }

// TestDataplaneMetrics feeds the collector's dataplane half a FIB with one
// tunnel and known counters and compares the exposition text.
func TestDataplaneMetrics(t *testing.T) {
	remote := netip.MustParseAddr("192.0.2.2")
	b := statsBackend{Backend: fake.New(), stats: fib.Stats{
		VRFs: map[string]fib.VRFCounters{"red": {OutPackets: 10, OutBytes: 1000, InPackets: 9, InBytes: 900,
			OutDrops: fib.Drops{NoSA: 2}}},
		SAs: []fib.SACounters{
			{Remote: remote, Outbound: true, SPI: 0x1001, Counters: esp.Counters{SealedPackets: 10, SealedBytes: 1300}},
			{Remote: remote, SPI: 0x2001, Counters: esp.Counters{OpenedPackets: 9, OpenedBytes: 1200, AuthFailed: 1}},
		},
	}}
	r := fib.NewReconciler(b, fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	key := make([]byte, 20)
	for i := range key {
		key[i] = 0xa0 + byte(i)
	}
	r.SetConfig(fib.Config{LocalAddress: netip.MustParseAddr("192.0.2.1"),
		VRFs: []fib.VRFConfig{{Name: "red", Interfaces: []string{"ce1"}}},
		Tunnels: []fib.Tunnel{{Remote: remote, UDP: true,
			Out: &fib.SAParams{SPI: 0x1001, Cipher: esp.AES128GCM16, Key: key, NoAntiReplay: true},
			In:  &fib.SAParams{SPI: 0x2001, Cipher: esp.AES128GCM16, Key: key, NoAntiReplay: true}}}})
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c := &collector{dp: newDataplane(r, b)}
	want := `
# HELP peregrine_ipsec_sa_packets_total Packets sealed (out) or opened (in) by an SA.
# TYPE peregrine_ipsec_sa_packets_total counter
peregrine_ipsec_sa_packets_total{direction="in",remote="192.0.2.2",spi="0x00002001"} 9
peregrine_ipsec_sa_packets_total{direction="out",remote="192.0.2.2",spi="0x00001001"} 10
# HELP peregrine_ipsec_sa_drops_total Packets an SA refused, by reason.
# TYPE peregrine_ipsec_sa_drops_total counter
peregrine_ipsec_sa_drops_total{direction="in",reason="auth-failed",remote="192.0.2.2",spi="0x00002001"} 1
# HELP peregrine_vrf_drops_total Packets the fast path dropped for a VRF, by reason.
# TYPE peregrine_vrf_drops_total counter
peregrine_vrf_drops_total{direction="out",reason="no-sa",vrf="red"} 2
# HELP peregrine_vrf_packets_total Packets the fast path forwarded for a VRF: out is CE to core, in is core to CE.
# TYPE peregrine_vrf_packets_total counter
peregrine_vrf_packets_total{direction="in",vrf="red"} 9
peregrine_vrf_packets_total{direction="out",vrf="red"} 10
# HELP peregrine_fib_tunnels Tunnels to remote PEs in the forwarding state.
# TYPE peregrine_fib_tunnels gauge
peregrine_fib_tunnels 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"peregrine_ipsec_sa_packets_total", "peregrine_ipsec_sa_drops_total", "peregrine_vrf_drops_total",
		"peregrine_vrf_packets_total", "peregrine_fib_tunnels"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
	// The key is in the FIB's state; it must not be in any metric.
	// (CollectAndFormat without names formats no metric at all.)
	h, err := metricsHandler(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	text := rec.Body.String()
	if !strings.Contains(text, "peregrine_ipsec_sa_packets_total") {
		t.Fatalf("the exposition lacks the SA metrics:\n%s", text)
	}
	if strings.Contains(strings.ToLower(text), "a0a1a2a3") {
		t.Errorf("key material in the metrics:\n%s", text)
	}
}

// TestMetricsHandlerServesProcessAndRuntime checks that the endpoint
// carries the process's RSS and the Go heap beside the router's metrics,
// and what make soak samples for leaks and restarts (labs/soak/scrape.go):
// goroutines, open file descriptors, the process's start time.
func TestMetricsHandlerServesProcessAndRuntime(t *testing.T) {
	h, err := metricsHandler(&collector{dp: &dataplane{}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_gc_gogc_percent",
		"go_goroutines", "process_open_fds", "process_start_time_seconds"} {
		f, ok := families[name]
		if !ok || len(f.GetMetric()) == 0 {
			t.Errorf("no %s", name)
			continue
		}
		if v := f.GetMetric()[0].GetGauge().GetValue(); v <= 0 {
			t.Errorf("%s = %v", name, v)
		}
	}
}

// TestMetricsHandlerServesMemoryClasses checks that the endpoint carries
// every class of memory the Go runtime accounts for and its OS threads
// (what make soak samples to explain RSS, labs/soak/scrape.go), and that
// the classes add up to their total as runtime/metrics documents.
func TestMetricsHandlerServesMemoryClasses(t *testing.T) {
	h, err := metricsHandler(&collector{dp: &dataplane{}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(name string) float64 {
		f, ok := families[name]
		if !ok || len(f.GetMetric()) == 0 || f.GetMetric()[0].GetGauge() == nil {
			t.Errorf("no gauge %s", name)
			return 0
		}
		return f.GetMetric()[0].GetGauge().GetValue()
	}
	sum := 0.0
	for _, class := range []string{"heap_free", "heap_objects", "heap_released", "heap_stacks", "heap_unused",
		"metadata_mcache_free", "metadata_mcache_inuse", "metadata_mspan_free", "metadata_mspan_inuse",
		"metadata_other", "os_stacks", "other", "profiling_buckets"} {
		sum += gauge("go_memory_classes_" + class + "_bytes")
	}
	// The classes are read at one instant, so they add up exactly.
	if total := gauge("go_memory_classes_total_bytes"); total <= 0 || sum != total {
		t.Errorf("memory classes add up to %v, go_memory_classes_total_bytes = %v", sum, total)
	}
	if n := gauge("go_sched_threads_total_threads"); n < 1 {
		t.Errorf("go_sched_threads_total_threads = %v", n)
	}
	if gauge("go_memstats_heap_alloc_bytes") <= 0 {
		t.Error("the Go collector's defaults are gone")
	}
}
