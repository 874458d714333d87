package soak

import (
	"fmt"
	"math"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/stats"
)

// Sample is one scrape of one daemon's /metrics.
type Sample struct {
	At         time.Duration // since the soak's start
	Goroutines float64       // go_goroutines
	FDs        float64       // process_open_fds
	RSS        float64       // process_resident_memory_bytes
	Heap       float64       // go_memstats_heap_alloc_bytes
	StartTime  float64       // process_start_time_seconds: a restart changes it
	// Not judged, recorded to explain RSS: spans the heap holds free
	// (idle) and those of them returned to the kernel (released).
	HeapIdle     float64 // go_memstats_heap_idle_bytes
	HeapReleased float64 // go_memstats_heap_released_bytes
	// Not judged either: what RSS is made of. The runtime's memory by
	// class (MemClasses' order) and its OS threads from /metrics, the
	// kernel's count of resident pages by kind from /proc.
	Classes   [len(MemClasses)]float64
	GoThreads float64 // go_sched_threads_total_threads
	Proc      ProcMem
}

// Class is s's bytes of memory class name (one of MemClasses).
func (s Sample) Class(name string) float64 { return s.Classes[classIndex(name)] }

// Resource is one sampled quantity whose trend is judged.
type Resource struct {
	Name  string // CSV column suffix and summary name
	Scale float64
	Unit  string // after Scale
	Value func(Sample) float64
}

// Resources are the quantities that must stay flat.
var Resources = []Resource{
	{"goroutines", 1, "", func(s Sample) float64 { return s.Goroutines }},
	{"open_fds", 1, "", func(s Sample) float64 { return s.FDs }},
	{"rss", 1 << 20, "MiB", func(s Sample) float64 { return s.RSS }},
	{"heap", 1 << 20, "MiB", func(s Sample) float64 { return s.Heap }},
}

// Trend is a resource's least-squares line over the second half of a run.
type Trend struct {
	N       int     // samples in the second half
	Mean    float64 // in the resource's unit
	PerHour float64 // the slope, unit per hour
	Drift   float64 // the line's change over the half
	Noise   float64 // standard deviation of the samples about the line
	Flat    bool    // |Drift| <= 2 Noise, or both 0
}

// minTrendSamples is the fewest samples a trend is judged on.
const minTrendSamples = 3

// SecondHalf fits the second half (by time) of samples for r. Why the
// second half: the first holds the start-up (tables filling, the first
// rekeys, the heap finding its size); a leak shows as growth after it.
// Why twice the noise: samples scatter about the line (GC's saw-tooth,
// goroutines that come and go per rekey), and a drift within that scatter
// is not a trend that 10-second samples can show.
func SecondHalf(samples []Sample, r Resource) (Trend, error) {
	if len(samples) == 0 {
		return Trend{}, fmt.Errorf("%s: no samples", r.Name)
	}
	end := samples[len(samples)-1].At
	half := end / 2
	var xs, ys []float64
	for _, s := range samples {
		if s.At >= half {
			xs = append(xs, s.At.Hours())
			ys = append(ys, r.Value(s)/r.Scale)
		}
	}
	if len(xs) < minTrendSamples {
		return Trend{}, fmt.Errorf("%s: %d samples in the second half, need %d", r.Name, len(xs), minTrendSamples)
	}
	slope, icept, noise := stats.Line(xs, ys)
	tr := Trend{N: len(xs), PerHour: slope, Noise: noise, Drift: slope * (xs[len(xs)-1] - xs[0])}
	tr.Mean = icept + slope*(xs[0]+xs[len(xs)-1])/2
	const eps = 1e-9
	tr.Flat = math.Abs(tr.Drift) <= 2*noise+eps
	return tr, nil
}

// String is the summary's form: "+1.2 MiB/h (drift +0.6 MiB, noise 0.9 MiB): flat".
func (t Trend) String(r Resource) string {
	verdict := "flat"
	if !t.Flat {
		verdict = "GROWS"
		if t.Drift < 0 {
			verdict = "falls"
		}
	}
	u := r.Unit
	if u != "" {
		u = " " + u
	}
	return fmt.Sprintf("%+.3g%s/h (drift %+.3g%s, noise %.3g%s, mean %.4g%s): %s", t.PerHour, u, t.Drift, u, t.Noise, u, t.Mean, u, verdict)
}

// Restarts counts how often samples's start time changes.
func Restarts(samples []Sample) int {
	n := 0
	for i := 1; i < len(samples); i++ {
		if samples[i].StartTime != samples[i-1].StartTime {
			n++
		}
	}
	return n
}
