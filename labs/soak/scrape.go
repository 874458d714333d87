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
	"go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes", "go_sched_threads_total_threads"}

// MemClasses are the Go runtime's memory classes a Sample holds
// (runtime/metrics /memory/classes/..., exported by peregrined as
// go_memory_classes_NAME_bytes): what the runtime has mapped, by use.
// total is the sum of the others; total minus heap_released is what the
// runtime expects to be resident.
var MemClasses = [...]string{"heap_objects", "heap_unused", "heap_free", "heap_released", "heap_stacks",
	"metadata_mspan_inuse", "metadata_mspan_free", "metadata_mcache_inuse", "metadata_mcache_free", "metadata_other",
	"os_stacks", "other", "profiling_buckets", "total"}

// classIndex is MemClasses' index of name.
func classIndex(name string) int {
	for i, c := range MemClasses {
		if c == name {
			return i
		}
	}
	panic("soak: no memory class " + name)
}

func init() {
	for _, c := range MemClasses {
		metricNames = append(metricNames, "go_memory_classes_"+c+"_bytes")
	}
}

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
	s := Sample{At: at, Goroutines: v["go_goroutines"], FDs: v["process_open_fds"],
		RSS: v["process_resident_memory_bytes"], Heap: v["go_memstats_heap_alloc_bytes"],
		StartTime: v["process_start_time_seconds"],
		HeapIdle:  v["go_memstats_heap_idle_bytes"], HeapReleased: v["go_memstats_heap_released_bytes"]}
	s.GoThreads = v["go_sched_threads_total_threads"]
	for i, c := range MemClasses {
		s.Classes[i] = v["go_memory_classes_"+c+"_bytes"]
	}
	return s, nil
}
