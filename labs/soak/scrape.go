package soak

import (
	"bytes"
	"fmt"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricNames are the families a Sample is read from; peregrined's
// /metrics has them from client_golang's Go and process collectors
// (cmd/peregrined/metrics.go).
var metricNames = []string{"go_goroutines", "process_open_fds", "process_resident_memory_bytes", "go_memstats_heap_alloc_bytes", "process_start_time_seconds",
	"go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes"}

// ParseSample reads a Sample, taken at at, from a /metrics exposition
// (Prometheus text format, read by client_golang's own parser). Every
// family of metricNames must be there.
func ParseSample(at time.Duration, exposition []byte) (Sample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		return Sample{}, fmt.Errorf("/metrics: %w", err)
	}
	v := make(map[string]float64, len(metricNames))
	for _, name := range metricNames {
		f, ok := fams[name]
		if !ok || len(f.GetMetric()) == 0 {
			return Sample{}, fmt.Errorf("/metrics: no %s", name)
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			v[name] = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			v[name] = m.GetCounter().GetValue()
		default:
			return Sample{}, fmt.Errorf("/metrics: %s is neither a gauge nor a counter", name)
		}
	}
	return Sample{At: at, Goroutines: v["go_goroutines"], FDs: v["process_open_fds"],
		RSS: v["process_resident_memory_bytes"], Heap: v["go_memstats_heap_alloc_bytes"],
		StartTime: v["process_start_time_seconds"],
		HeapIdle:  v["go_memstats_heap_idle_bytes"], HeapReleased: v["go_memstats_heap_released_bytes"]}, nil
}
