package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/peregrine-net/peregrine/labs/internal/stats"
)

// Repeated runs. These machines are shared and their speed drifts from
// one minute to the next; a run's ratio compares P and B under the same
// drift, but a burst of it can still land on one more than the other.
// Each run builds its topology afresh (so each memory figure is a first
// import), and the targets are held against the medians.

// printRuns reports one run as it is, and several as the report of the
// run with the median ratio, a line per run and the medians' verdict.
func printRuns(w io.Writer, o options, rs []*result) {
	if len(rs) == 1 {
		rs[0].print(w, o)
		return
	}
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(rs[a].ratio(), rs[b].ratio()) })
	mid := order[(len(order)-1)/2]
	fmt.Fprintf(w, "\nrun %d of %d, the one with the median ratio:", mid+1, len(rs))
	rs[mid].printReport(w, o)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tperegrine P\tgobgpd B\tratio\tCPU ratio\trss/route\t")
	var ratios, cpuRatios, perRoute, pTimes, bTimes []float64
	for i, r := range rs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%.2f\t%.0fB\t\n", i+1, dur(r.p.elapsed), dur(r.b.elapsed), r.ratio(), r.cpuRatio(), r.pPerRoute())
		ratios, cpuRatios, perRoute = append(ratios, r.ratio()), append(cpuRatios, r.cpuRatio()), append(perRoute, r.pPerRoute())
		pTimes, bTimes = append(pTimes, r.p.elapsed.Seconds()), append(bTimes, r.b.elapsed.Seconds())
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	printDaemonMedians(w, rs)
	printLiveMedians(w, rs)
	fmt.Fprintln(w)
	head := fmt.Sprintf("N=%d runs=%d medians: peregrine=%.2fs gobgpd=%.2fs", rs[0].n, len(rs), stats.Median(pTimes), stats.Median(bTimes))
	verdict(w, o, head, stats.Median(ratios), stats.Median(cpuRatios), stats.Median(perRoute), false)
}

// printDaemonMedians writes, for every receiver, the medians over the
// runs of its import wall and CPU time, of each as a ratio to gobgpd B's
// in the same run, and of its settled RSS per route.
func printDaemonMedians(w io.Writer, rs []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "medians of %d runs\twall\tCPU\twall/B\tCPU/B\tB/route settled\t\n", len(rs))
	for i, d := range rs[0].daemons() {
		var wall, cpu, wallRatio, cpuRatio, perRoute []float64
		for _, r := range rs {
			ds := r.daemons()
			if i >= len(ds) {
				continue
			}
			x, ref := ds[i], ds[0]
			wall, cpu = append(wall, x.wall.Seconds()), append(cpu, x.cpu.Seconds())
			wallRatio = append(wallRatio, x.wall.Seconds()/ref.wall.Seconds())
			if ref.cpu > 0 {
				cpuRatio = append(cpuRatio, x.cpu.Seconds()/ref.cpu.Seconds())
			}
			perRoute = append(perRoute, r.perRoute(x.before, x.settled))
		}
		if d.noUsage {
			fmt.Fprintf(tw, "%s\t%.2fs\t-\t%.2f\t-\t-\t\n", d.name, stats.Median(wall), stats.Median(wallRatio))
			continue
		}
		cr := "-"
		if len(cpuRatio) > 0 {
			cr = fmt.Sprintf("%.2f", stats.Median(cpuRatio))
		}
		fmt.Fprintf(tw, "%s\t%.2fs\t%.2fs\t%.2f\t%s\t%.0f\t\n", d.name, stats.Median(wall), stats.Median(cpu), stats.Median(wallRatio), cr, stats.Median(perRoute))
	}
	_ = tw.Flush()
}

// printLiveMedians writes the medians of P's and B's live Go heap growth
// per route: GoBGP's RIB is in both, so their difference is what
// Peregrine adds, and B's is the floor under P's RSS per route.
func printLiveMedians(w io.Writer, rs []*result) {
	var p, b []float64
	for _, r := range rs {
		p, b = append(p, r.pLivePerRoute()), append(b, r.bLivePerRoute())
	}
	fmt.Fprintf(w, "Go heap live per route settled, medians: peregrine P %.0f B, gobgpd B %.0f B (after a forced GC)\n",
		stats.Median(p), stats.Median(b))
}
