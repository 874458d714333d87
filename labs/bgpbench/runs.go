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
	var ratios, perRoute, pTimes, bTimes []float64
	for i, r := range rs {
		pCPU, bCPU := r.importCPU()
		cpu := pCPU.Seconds() / bCPU.Seconds()
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%.2f\t%.0fB\t\n", i+1, dur(r.p.elapsed), dur(r.b.elapsed), r.ratio(), cpu, r.pPerRoute())
		ratios, perRoute = append(ratios, r.ratio()), append(perRoute, r.pPerRoute())
		pTimes, bTimes = append(pTimes, r.p.elapsed.Seconds()), append(bTimes, r.b.elapsed.Seconds())
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	head := fmt.Sprintf("N=%d runs=%d medians: peregrine=%.2fs gobgpd=%.2fs", rs[0].n, len(rs), stats.Median(pTimes), stats.Median(bTimes))
	verdict(w, o, head, stats.Median(ratios), stats.Median(perRoute), false)
}
