package main

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
)

// coreStats are core-side counters as the userspace backend reports them:
// a core host spraying unknown labels and SPIs, and IKE on port 4500.
func coreStats() fib.Stats {
	return fib.Stats{VRFs: map[string]fib.VRFCounters{},
		Inbound:    fib.Drops{UnknownLabel: 3, BadSource: 1, OpenFailed: 5, Malformed: 2},
		UnknownSPI: 4, Truncated: 1, IKE: 7, Keepalives: 2, PlainIn: 11}
}

const coreMetricsText = `
# HELP peregrine_core_drops_total Packets from the core dropped before their label named a VRF, by reason (unknown-label includes a label stack deeper than expected).
# TYPE peregrine_core_drops_total counter
peregrine_core_drops_total{reason="bad-source"} 1
peregrine_core_drops_total{reason="malformed"} 2
peregrine_core_drops_total{reason="no-neighbor"} 0
peregrine_core_drops_total{reason="no-route"} 0
peregrine_core_drops_total{reason="no-sa"} 0
peregrine_core_drops_total{reason="no-tunnel"} 0
peregrine_core_drops_total{reason="not-mpls"} 0
peregrine_core_drops_total{reason="open-failed"} 5
peregrine_core_drops_total{reason="seal-error"} 0
peregrine_core_drops_total{reason="too-big"} 0
peregrine_core_drops_total{reason="ttl-expired"} 0
peregrine_core_drops_total{reason="tx-error"} 0
peregrine_core_drops_total{reason="unknown-label"} 3
# HELP peregrine_core_open_failed_total Core drops of reason open-failed whose cause is known: unknown-spi (no inbound ESP or AH SA has the SPI) or truncated (too short to carry an SPI).
# TYPE peregrine_core_open_failed_total counter
peregrine_core_open_failed_total{cause="truncated"} 1
peregrine_core_open_failed_total{cause="unknown-spi"} 4
# HELP peregrine_core_packets_total Non-ESP datagrams received on UDP port 4500: IKE messages (handed to the IKE runner, or dropped without one) and NAT-keepalives (ignored).
# TYPE peregrine_core_packets_total counter
peregrine_core_packets_total{kind="ike"} 7
peregrine_core_packets_total{kind="keepalive"} 2
`

var coreMetricNames = []string{"peregrine_core_drops_total", "peregrine_core_open_failed_total", "peregrine_core_packets_total"}

// TestCoreMetrics: the counters of what arrives from the core before a
// label names a VRF are exported where the backend counts them itself
// (the userspace fast path, the kernel backend's ESP gateway), and absent
// where it does not (the kernel backend without a gateway: the kernel
// counts), rather than a false zero.
func TestCoreMetrics(t *testing.T) {
	gateway := coreStats()
	gateway.VRFs, gateway.PlainIn = nil, 0
	gateway.Devices = map[string]fib.VRFCounters{"pgesp-in": {}}
	for _, tc := range []struct {
		name  string
		stats fib.Stats
		want  string
	}{
		{"userspace", coreStats(), coreMetricsText},
		{"kernel with ESP gateway", gateway, coreMetricsText},
		{"kernel without gateway", fib.Stats{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := statsBackend{Backend: fake.New(), stats: tc.stats}
			c := &collector{dp: newDataplane(fib.NewReconciler(b, fib.Options{}), b)}
			if err := testutil.CollectAndCompare(c, strings.NewReader(tc.want), coreMetricNames...); err != nil {
				t.Error(err)
			}
			if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
				t.Errorf("metric lint: %v %v", problems, err)
			}
		})
	}
}
