// Package memtrim keeps peregrined's heap small: a GOGC default for a
// router's tables, and a Trimmer that hands the heap's garbage back to the
// kernel once the daemon goes quiet after a burst of allocation.
package memtrim

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultGCPercent is peregrined's GOGC unless the environment sets one.
// Go's default of 100 lets the heap grow to twice the live data between
// collections, and what a burst (a full VPN table from a route reflector)
// leaves in the spans it touched stays; 40 trades some import time for a
// lower settled RSS (docs/ARCHITECTURE.md has the make bench-bgp figures).
// The fast path allocates nothing per packet, so it does not pay for the
// extra collections. An operator who prefers speed sets GOGC.
const DefaultGCPercent = 40

// ApplyGCPercent sets DefaultGCPercent unless lookup (os.LookupEnv)
// finds GOGC.
func ApplyGCPercent(lookup func(string) (string, bool)) {
	if _, set := lookup("GOGC"); !set {
		debug.SetGCPercent(DefaultGCPercent)
	}
}

// GCPercent is the GOGC in force, for the start-up log.
func GCPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// Trimmer hands the heap's garbage back to the kernel once the daemon
// goes quiet after a burst of allocation: a full table arriving from a
// route reflector, a session flapping, a reload. Go's own scavenger keeps
// free memory up to the next collection's heap goal, about twice the live
// heap with GOGC=100, so a PE that has just imported a million routes would
// otherwise hold twice what they need until the next burst; on a router
// that shares its memory with other daemons that is memory taken for
// nothing. A trim is a forced collection plus madvise, the price of one GC
// cycle, and comes at most once per live heap's worth of allocation, so
// under steady churn it costs no more than the collections the runtime
// would run anyway.
type Trimmer struct {
	log *slog.Logger
	// every is how often the allocation rate is sampled.
	every time.Duration
	// quiet is the allocation rate, in bytes per second, below which the
	// daemon counts as idle.
	quiet uint64
	// minBurst is the least allocation since the last trim worth a trim;
	// the live heap is the bar when it is larger.
	minBurst uint64
	// trim does the work; debug.FreeOSMemory outside tests.
	trim func()
}

// New returns a Trimmer that samples every second and logs its trims
// to log.
func New(log *slog.Logger) *Trimmer {
	return &Trimmer{log: log, every: time.Second, quiet: 1 << 20, minBurst: 32 << 20, trim: debug.FreeOSMemory}
}

// heapSample is what a trim decision reads from the runtime.
type heapSample struct {
	allocs  uint64 // bytes allocated since the process started
	objects uint64 // bytes in heap objects, live or not yet swept
	free    uint64 // heap memory free and still held from the kernel
}

var heapMetrics = []string{"/gc/heap/allocs:bytes", "/memory/classes/heap/objects:bytes", "/memory/classes/heap/free:bytes"}

func readHeap(s []metrics.Sample) heapSample {
	metrics.Read(s)
	return heapSample{allocs: s[0].Value.Uint64(), objects: s[1].Value.Uint64(), free: s[2].Value.Uint64()}
}

// due reports whether to trim now: enough allocated since the last trim
// (at mark) and the last interval quiet.
func (m *Trimmer) due(mark, prev, now heapSample) bool {
	burst := now.allocs - mark.allocs
	rate := float64(now.allocs-prev.allocs) / m.every.Seconds()
	return burst >= max(m.minBurst, now.objects) && rate < float64(m.quiet)
}

// Run samples until ctx ends, trimming when due.
func (m *Trimmer) Run(ctx context.Context) {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	mark := readHeap(s)
	prev := mark
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := readHeap(s)
		if m.due(mark, prev, now) {
			start := time.Now()
			m.trim()
			after := readHeap(s)
			m.log.Info("returned free heap to the kernel after a burst",
				"allocated_mb", (now.allocs-mark.allocs)>>20, "heap_before_mb", (now.objects+now.free)>>20,
				"heap_after_mb", after.objects>>20, "took", time.Since(start).Round(time.Millisecond))
			now = after
			mark = after
		}
		prev = now
	}
}
