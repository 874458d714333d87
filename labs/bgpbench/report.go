package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// result is one benchmark run.
type result struct {
	n, batch, port int
	inProcess      bool
	stream         bool // -stream: timed from A's first path, not from its dump

	load    time.Duration // A's AddPathStream, first batch to the server's reply
	loadCPU time.Duration // A's CPU for the preload (not -stream)
	p, b    waited        // import into P's VRF and B's RIB (use: at that moment)
	pw, bw  waited        // withdrawal, if withdrawn
	// withdrawn is set when the withdrawal phase ran.
	withdrawn bool

	pBefore, pSettled usage
	pHeapBefore       goHeap // P's Go heap before the import, from its /metrics
	pHeap             goHeap // and when settled
	bBefore, bSettled usage
	// B's Go heap before the import and when settled, each after a
	// forced collection (readLiveGoHeap): what GoBGP's own tables hold,
	// the floor under P's memory per route while P embeds GoBGP.
	bHeapBefore, bHeap goHeap
	// A before the load, once both imported, once both withdrew.
	aBefore, aAfter, aWithdrawn usage

	heapBefore, heapAfter uint64 // -profile: live Go heap after a GC

	field []fieldResult // FRR, BIRD, where installed

	// others and othersWithdraw are the processors' worth of CPU the rest
	// of the host used during each phase (see otherCores).
	others, othersWithdraw float64
}

// fieldResult is what one of the field's receivers (field.go) did.
type fieldResult struct {
	name            string
	w, ww           waited // import, withdrawal (use: at that moment)
	before, settled usage
}

func (r *result) ratio() float64 { return r.p.elapsed.Seconds() / r.b.elapsed.Seconds() }

// cpuRatio is P's import CPU time over B's; NaN in-process, where P's CPU
// is this program's.
func (r *result) cpuRatio() float64 {
	if r.inProcess {
		return math.NaN()
	}
	p, b := r.importCPU()
	return p.Seconds() / b.Seconds()
}

// daemonFigures are one receiver's import figures, for the table that
// sets every receiver against gobgpd B.
type daemonFigures struct {
	name            string
	wall, cpu       time.Duration
	wWall, wCPU     time.Duration // withdrawal
	before, settled usage
	noUsage         bool // P in-process: its CPU and RSS are this program's
}

// daemons returns B, P and the field's receivers, B first: the reference.
func (r *result) daemons() []daemonFigures {
	pCPU, bCPU := r.importCPU()
	ds := []daemonFigures{
		{name: "gobgpd B", wall: r.b.elapsed, cpu: bCPU, before: r.bBefore, settled: r.bSettled,
			wWall: r.bw.elapsed, wCPU: r.bw.use.CPU - r.bSettled.CPU},
		{name: "peregrine P", wall: r.p.elapsed, cpu: pCPU, before: r.pBefore, settled: r.pSettled,
			wWall: r.pw.elapsed, wCPU: r.pw.use.CPU - r.pSettled.CPU, noUsage: r.inProcess},
	}
	for _, f := range r.field {
		ds = append(ds, daemonFigures{name: f.name, wall: f.w.elapsed, cpu: f.w.use.CPU - f.before.CPU,
			before: f.before, settled: f.settled, wWall: f.ww.elapsed, wCPU: f.ww.use.CPU - f.settled.CPU})
	}
	return ds
}

// printDaemons writes every receiver's wall and CPU time for the import
// (and the withdrawal), each as a ratio to gobgpd B's, and its settled RSS
// per route.
func (r *result) printDaemons(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "import of A's routes\twall\tCPU\twall/B\tCPU/B\tRSS settled\tB/route settled\t"
	if r.withdrawn {
		head += "withdraw wall\twall/B\tCPU\tCPU/B\t"
	}
	fmt.Fprintln(tw, head)
	ds := r.daemons()
	ref := ds[0]
	for _, d := range ds {
		cpu, cpuRatio, rss, perRoute := dur(d.cpu), ratioString(d.cpu, ref.cpu), mb(d.settled.RSS), fmt.Sprintf("%.0f", r.perRoute(d.before, d.settled))
		wCPU, wCPURatio := dur(d.wCPU), ratioString(d.wCPU, ref.wCPU)
		if d.noUsage {
			cpu, cpuRatio, rss, perRoute, wCPU, wCPURatio = "-", "-", "-", "-", "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t", d.name, dur(d.wall), cpu, ratioString(d.wall, ref.wall), cpuRatio, rss, perRoute)
		if r.withdrawn {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t", dur(d.wWall), ratioString(d.wWall, ref.wWall), wCPU, wCPURatio)
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

// ratioString is a/b with two decimals, or "-" when b is zero (a CPU time
// below the kernel's 10 ms tick).
func ratioString(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a.Seconds()/b.Seconds())
}

// importCPU is P's and B's own CPU time over the import.
func (r *result) importCPU() (p, b time.Duration) {
	return r.p.use.CPU - r.pBefore.CPU, r.b.use.CPU - r.bBefore.CPU
}

// perRoute is the RSS growth per route from before the load to m.
func (r *result) perRoute(before, m usage) float64 {
	return float64(m.RSS-before.RSS) / float64(r.n)
}

// bLivePerRoute is B's live Go heap growth per route: what GoBGP's own
// RIB costs a route before any allocator slack.
func (r *result) bLivePerRoute() float64 {
	return (r.bHeap.live - r.bHeapBefore.live) / float64(r.n)
}

// pLivePerRoute is P's: B's plus what Peregrine adds (NaN in-process).
func (r *result) pLivePerRoute() float64 {
	if r.inProcess {
		return math.NaN()
	}
	return (r.pHeap.live - r.pHeapBefore.live) / float64(r.n)
}

// pPerRoute is the figure held against the target: P's settled RSS growth
// per route, or its live heap growth when P ran in this process.
func (r *result) pPerRoute() float64 {
	if r.inProcess {
		return (float64(r.heapAfter) - float64(r.heapBefore)) / float64(r.n)
	}
	return r.perRoute(r.pBefore, r.pSettled)
}

func rate(n int, d time.Duration) string {
	return fmt.Sprintf("%.0f/s", float64(n)/d.Seconds())
}

func mb(b int64) string { return fmt.Sprintf("%.1fMB", float64(b)/(1<<20)) }

func dur(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// bracket is the interval between the last poll short of the target and
// the first that showed it.
func bracket(w waited) string {
	return fmt.Sprintf("%.2f-%.2fs", w.below.Seconds(), w.seen.Seconds())
}

// phaseRows prints one phase: A's line, B's, P's and the ratios of wall
// time and of CPU time. CPU is each process's own user+system time over the
// phase, which other load on the host disturbs less than wall time.
func (r *result) phaseRows(tw io.Writer, title string, aLoad time.Duration, aCPU time.Duration, b, p waited, bCPU, pCPU time.Duration) {
	pName := "peregrine P, VRF"
	if r.inProcess {
		pName = "peregrine P (in-process), VRF"
	}
	fmt.Fprintf(tw, "%s\twall\tpolls bracket\troutes/s\tCPU\tpolls\tslowest poll\t\n", title)
	if aLoad > 0 {
		fmt.Fprintf(tw, "A loads (gRPC)\t%s\t\t%s\t%s\t\t\t\n", dur(aLoad), rate(r.n, aLoad), dur(aCPU))
	} else {
		fmt.Fprintf(tw, "A sends\t\t\t\t%s\t\t\t\n", dur(aCPU))
	}
	fmt.Fprintf(tw, "gobgpd B\t%s\t%s\t%s\t%s\t%d\t%s\t\n", dur(b.elapsed), bracket(b), rate(r.n, b.elapsed), dur(bCPU), b.polls, b.pollMax.Round(time.Millisecond))
	fmt.Fprintf(tw, "peregrine P, GoBGP RIB\t%s\t\t%s\t\t\t\t\n", dur(p.rib), rate(r.n, p.rib))
	pc, cratio := dur(pCPU), fmt.Sprintf("%.2f", pCPU.Seconds()/bCPU.Seconds())
	if r.inProcess {
		pc, cratio = "-", "-"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n", pName, dur(p.elapsed), bracket(p), rate(r.n, p.elapsed), pc, p.polls, p.pollMax.Round(time.Millisecond))
	fmt.Fprintf(tw, "ratio P/B\t%.2f\t\t\t%s\t\t\t\n", p.elapsed.Seconds()/b.elapsed.Seconds(), cratio)
}

// print writes the run's report and its verdict on the targets.
func (r *result) print(w io.Writer, o options) {
	r.printReport(w, o)
	head := fmt.Sprintf("N=%d peregrine=%s gobgpd=%s", r.n, dur(r.p.elapsed), dur(r.b.elapsed))
	verdict(w, o, head, r.ratio(), r.cpuRatio(), r.pPerRoute(), r.inProcess)
}

// printReport writes the tables of one run.
func (r *result) printReport(w io.Writer, o options) {
	fmt.Fprintf(w, "\nN=%d VPNv4 routes, %d per AddPathStream message, BGP on 127.0.0.11-13 port %d\n", r.n, r.batch, r.port)
	aLoad := r.load
	if r.stream {
		fmt.Fprintln(w, "import timed from A's first path; A advertises each batch as it loads it")
	} else {
		fmt.Fprintf(w, "A preloaded (not timed): %s, %s, CPU %s; import timed from the release of A's full table\n",
			dur(r.load), rate(r.n, r.load), dur(r.loadCPU))
		aLoad = 0
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	pCPU, bCPU := r.importCPU()
	r.phaseRows(tw, "import", aLoad, r.aAfter.CPU-r.aBefore.CPU, r.b, r.p, bCPU, pCPU)
	if r.withdrawn {
		fmt.Fprintln(tw, "\t\t\t\t\t\t\t")
		r.phaseRows(tw, "withdraw all", 0, r.aWithdrawn.CPU-r.aAfter.CPU, r.bw, r.pw,
			r.bw.use.CPU-r.bSettled.CPU, r.pw.use.CPU-r.pSettled.CPU)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "other processes on this %d-CPU host used %.2f CPUs during the import", runtime.NumCPU(), r.others)
	if r.withdrawn {
		fmt.Fprintf(w, ", %.2f during the withdrawal", r.othersWithdraw)
	}
	fmt.Fprintln(w)
	if max(r.others, r.othersWithdraw) > 0.25 {
		fmt.Fprintln(w, "WARNING: the host was busy with other work: wall times are slowed and noisy; the CPU columns are the steadier comparison")
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RSS\tbefore\tat import\tsettled\tpeak\tB/route at import\tB/route settled\t")
	if !r.inProcess {
		r.memRow(tw, "peregrine P", r.pBefore, r.p.use, r.pSettled)
	}
	r.memRow(tw, "gobgpd B", r.bBefore, r.b.use, r.bSettled)
	_ = tw.Flush()
	if r.inProcess {
		fmt.Fprintf(w, "in-process P: live Go heap %s -> %s after GC (this program's %d prebuilt paths are in both)\n",
			mb(int64(r.heapBefore)), mb(int64(r.heapAfter)), r.n)
	} else {
		fmt.Fprintf(w, "peregrine P settled: Go heap live %s (+%.0f B/route), in spans %s (free slots among live objects %s), GOGC %.0f\n",
			mb(int64(r.pHeap.live)), (r.pHeap.live-r.pHeapBefore.live)/float64(r.n), mb(int64(r.pHeap.inUse)), mb(int64(r.pHeap.inUse-r.pHeap.live)), r.pHeap.gogc)
	}
	fmt.Fprintf(w, "gobgpd B settled, after a forced GC: Go heap live %s (+%.0f B/route), in spans %s (+%.0f B/route)\n",
		mb(int64(r.bHeap.live)), r.bLivePerRoute(), mb(int64(r.bHeap.inUse)), (r.bHeap.inUse-r.bHeapBefore.inUse)/float64(r.n))
	fmt.Fprintf(w, "(settled: %v after import; peak: VmHWM, the RSS high-water mark, read when settled)\n\n", o.settle)
	r.printDaemons(w)
	fmt.Fprintln(w)
}

// verdict writes the figures held against the targets, ratio and memory
// per route, after head, and whether they are met.
func verdict(w io.Writer, o options, head string, ratio, cpuRatio, perRoute float64, inProcess bool) {
	memWhat := "rss/route"
	if inProcess {
		memWhat = "heap/route"
	}
	cpu := "-" // P in-process, or CPU times below the clock tick
	if !math.IsNaN(cpuRatio) {
		cpu = fmt.Sprintf("%.2f", cpuRatio)
	}
	fmt.Fprintf(w, "bench-bgp: %s ratio=%.2f (target <=%g) cpu-ratio=%s (target <=%g) %s=%.0fB (target <=%gB)\n",
		head, ratio, o.targetRatio, cpu, o.targetCPU, memWhat, perRoute, o.targetPerRoute)
	if inProcess {
		fmt.Fprintln(w, "profile run: P shares this process, so targets are not judged")
		return
	}
	var missed []string
	if ratio > o.targetRatio {
		missed = append(missed, fmt.Sprintf("ratio %.2f > %g", ratio, o.targetRatio))
	}
	if cpuRatio > o.targetCPU {
		missed = append(missed, fmt.Sprintf("cpu-ratio %.2f > %g", cpuRatio, o.targetCPU))
	}
	if perRoute > o.targetPerRoute {
		missed = append(missed, fmt.Sprintf("%s %.0fB > %gB", memWhat, perRoute, o.targetPerRoute))
	}
	if len(missed) > 0 {
		fmt.Fprintf(w, "MISSED TARGET: %s\n", strings.Join(missed, "; "))
	} else {
		fmt.Fprintln(w, "targets met")
	}
}

func (r *result) memRow(w io.Writer, name string, before, at, settled usage) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t\n", name, mb(before.RSS), mb(at.RSS), mb(settled.RSS), mb(settled.Peak),
		r.perRoute(before, at), r.perRoute(before, settled))
}
