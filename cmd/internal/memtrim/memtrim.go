// Package memtrim keeps peregrined's heap small: a GOGC default for a
// router's tables, a higher GOGC while a burst of allocation is under way,
// and a Trimmer that hands the heap's garbage back to the kernel once the
// daemon goes quiet after the burst.
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

// BurstGCPercent is the GOGC while a burst is under way (see Trimmer),
// unless the environment sets GOGC: a burst is mostly garbage (GoBGP's
// messages, its protobuf copies of every path), and at 40 collecting it
// was about a sixth of a table import's CPU. It is not higher because the
// routes a burst leaves live sit in spans its garbage shared, and no trim
// gives those back: with 100,000 routes (make bench-bgp, medians of 3;
// docs/ARCHITECTURE.md) a burst at 60 took 1.73x gobgpd's CPU and settled
// at 1475 B/route, at 40 2.09x and 1409, at 100 1.49x and 1746, at 200
// 1.25x and 2013. The heap's peak in a burst is 1.6 times the live
// heap. No GOGC meets both a 1.5x CPU and a 1 KB/route target: gobgpd's
// own RIB is 0.89-0.93 KB a route live and 1.3-1.4 KB in spans, and a
// third of the burst's CPU is GoBGP's protobuf copies of every best path
// and their collection (docs/ARCHITECTURE.md, "What GoBGP itself
// costs"). No memory limit is set for it: peregrined does not know the box's budget, a limit
// taken from the heap at the burst's start would throttle a table that
// legitimately grows, and a heap held at a limit makes the collector run
// back to back. An operator's GOMEMLIMIT bounds the burst, as the runtime
// applies it over any GOGC.
const BurstGCPercent = 60

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
//
// Unless the operator set GOGC, the Trimmer also runs the collector by
// phase: when the allocation rate reaches busy it raises GOGC to
// BurstGCPercent, and when the daemon goes quiet it sets DefaultGCPercent
// back before it trims, so the burst pays for fewer collections and the
// heap between bursts grows by 40% of the live heap at most. What the
// trim cannot give back is the slack in spans that hold live routes,
// which a higher burst GOGC increases (see BurstGCPercent).
type Trimmer struct {
	log *slog.Logger
	// every is how often the heap is sampled; a burst is seen within one
	// sample of its start.
	every time.Duration
	// window is how many samples quiet is judged over: a pause of one
	// sample in a burst (a peer's next message late) is not its end.
	window int
	// quiet is the allocation rate, in bytes per second, below which the
	// daemon counts as idle.
	quiet uint64
	// busy is the allocation rate, in bytes per second, from which a
	// burst is under way; between quiet and busy the phase stays.
	busy uint64
	// minBurst is the least allocation since the last trim worth a trim;
	// the live heap is the bar when it is larger.
	minBurst uint64
	// gc switches GOGC by phase; nil when the operator set GOGC.
	gc *gcPhases
	// read samples the heap; readHeap outside tests.
	read func() heapSample
	// trim does the work; debug.FreeOSMemory outside tests.
	trim func()

	// recent holds the last window+1 samples, oldest first.
	recent []heapSample
	// mark is the sample after the last trim (or the first).
	mark heapSample
}

// gcPhases is the GOGC of each phase and whether a burst is under way.
type gcPhases struct {
	idle, burst int
	// set is debug.SetGCPercent outside tests.
	set     func(int) int
	inBurst bool
}

// New returns a Trimmer that samples every 250 ms and logs its trims to
// log; lookup (os.LookupEnv) finding GOGC turns the GOGC phases off.
func New(log *slog.Logger, lookup func(string) (string, bool)) *Trimmer {
	m := &Trimmer{log: log, every: 250 * time.Millisecond, window: 4,
		quiet: 1 << 20, busy: 16 << 20, minBurst: 32 << 20, trim: debug.FreeOSMemory}
	if _, set := lookup("GOGC"); !set {
		m.gc = &gcPhases{idle: DefaultGCPercent, burst: BurstGCPercent, set: debug.SetGCPercent}
	}
	return m
}

// heapSample is what a trim decision reads from the runtime.
type heapSample struct {
	allocs  uint64 // bytes allocated since the process started
	objects uint64 // bytes in heap objects, live or not yet swept
	free    uint64 // heap memory free and still held from the kernel
}

var heapMetrics = []string{"/gc/heap/allocs:bytes", "/memory/classes/heap/objects:bytes", "/memory/classes/heap/free:bytes"}

// heapReader returns a reader of this process's heap.
func heapReader() func() heapSample {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	return func() heapSample {
		metrics.Read(s)
		return heapSample{allocs: s[0].Value.Uint64(), objects: s[1].Value.Uint64(), free: s[2].Value.Uint64()}
	}
}

// rate is the allocation rate from a to b, samples n intervals apart.
func (m *Trimmer) rate(a, b heapSample, n int) float64 {
	return float64(b.allocs-a.allocs) / (m.every.Seconds() * float64(n))
}

// due reports whether to trim now: enough allocated since the last trim
// (at mark) and the allocation rate from prev to now, n samples apart,
// quiet.
func (m *Trimmer) due(mark, prev, now heapSample, n int) bool {
	burst := now.allocs - mark.allocs
	return burst >= max(m.minBurst, now.objects) && m.rate(prev, now, n) < float64(m.quiet)
}

// Run samples until ctx ends, switching GOGC by phase and trimming when
// due.
func (m *Trimmer) Run(ctx context.Context) {
	if m.read == nil {
		m.read = heapReader()
	}
	m.start()
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.step(m.read())
	}
}

// start takes the first sample: the mark.
func (m *Trimmer) start() {
	m.mark = m.read()
	m.recent = append(m.recent[:0], m.mark)
}

// step takes one sample: a burst starts when the last interval's rate
// reaches busy; the daemon is quiet when the rate over the whole window
// is under quiet, which ends a burst (GOGC back to idle) and trims if
// enough was allocated since the last trim.
func (m *Trimmer) step(now heapSample) {
	prev := m.recent[len(m.recent)-1]
	if len(m.recent) > m.window {
		m.recent = m.recent[1:]
	}
	m.recent = append(m.recent, now)
	if g := m.gc; g != nil && !g.inBurst && m.rate(prev, now, 1) >= float64(m.busy) {
		g.inBurst = true
		g.set(g.burst)
	}
	oldest, n := m.recent[0], len(m.recent)-1
	if n < m.window || m.rate(oldest, now, n) >= float64(m.quiet) {
		return
	}
	burstGOGC := -1 // the operator's GOGC, or no burst seen
	if g := m.gc; g != nil && g.inBurst {
		g.inBurst = false
		burstGOGC = g.set(g.idle)
	}
	if !m.due(m.mark, oldest, now, n) {
		return
	}
	start := time.Now()
	m.trim()
	after := m.read()
	m.log.Info("returned free heap to the kernel after a burst",
		"allocated_mb", (now.allocs-m.mark.allocs)>>20, "heap_before_mb", (now.objects+now.free)>>20,
		"heap_after_mb", after.objects>>20, "burst_gogc", burstGOGC, "took", time.Since(start).Round(time.Millisecond))
	m.mark = after
	m.recent = append(m.recent[:0], after)
}
