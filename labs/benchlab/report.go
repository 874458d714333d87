package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/peregrine-net/peregrine/labs/internal/stats"
)

// report collects every variant's runs and prints a table per stream
// count and the summary lines.
type report struct {
	o       options
	results []*variantResult // in the order each round runs them
}

// variantResult is one variant's runs, one per round and stream count, or
// why it has none.
type variantResult struct {
	name        string
	info        string                // what carried the traffic (cipher, TUN, MTU)
	runs        map[int][]measurement // by stream count, one per round measured
	unavailable string                // set when the variant cannot be measured
}

func newReport(o options) *report {
	r := &report{o: o}
	for _, name := range variantNames() {
		if slices.Contains(o.variants, name) {
			r.results = append(r.results, &variantResult{name: name, runs: map[int][]measurement{}})
		}
	}
	return r
}

func (r *report) get(name string) *variantResult {
	for _, v := range r.results {
		if v.name == name {
			return v
		}
	}
	return nil
}

// add records one round's measurement with the given stream count.
func (v *variantResult) add(streams int, m measurement) {
	v.runs[streams] = append(v.runs[streams], m)
}

// median returns the median throughput in bit/s with the given stream
// count and whether there is one.
func (v *variantResult) median(streams int) (float64, bool) {
	if v == nil || len(v.runs[streams]) == 0 {
		return 0, false
	}
	runs := v.runs[streams]
	bps := make([]float64, len(runs))
	for i, m := range runs {
		bps[i] = m.bps
	}
	return stats.Median(bps), true
}

func gbit(bps float64) string { return fmt.Sprintf("%.2f", bps/1e9) }

// print writes the settings, for each stream count a table with one row
// per round and the medians, what carried each variant, the verdicts and
// the summary lines.
func (r *report) print(w io.Writer) {
	o := r.o.iperf
	fmt.Fprintf(w, "bench-lab: iperf3 TCP ce1 -> ce2, %d s measured after %d s warm-up, -P %s stream(s), %d round(s), %d CPUs\n",
		o.seconds, o.omit, joinInts(r.o.streams, ","), r.o.rounds, runtime.NumCPU())
	fmt.Fprintf(w, "bench-lab: veths MTU %d with the kernel's default offloads in every variant\n", vethMTU)
	for _, p := range r.o.streams {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "Gbit/s -P %d\t", p)
		for _, v := range r.results {
			fmt.Fprintf(tw, "%s\t", v.name)
		}
		fmt.Fprintln(tw)
		for i := range r.o.rounds {
			fmt.Fprintf(tw, "round %d\t", i+1)
			for _, v := range r.results {
				cell := "n/a"
				if i < len(v.runs[p]) {
					cell = gbit(v.runs[p][i].bps)
				}
				fmt.Fprintf(tw, "%s\t", cell)
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprint(tw, "median\t")
		for _, v := range r.results {
			cell := "n/a"
			if m, ok := v.median(p); ok {
				cell = gbit(m)
			}
			fmt.Fprintf(tw, "%s\t", cell)
		}
		fmt.Fprintln(tw)
		_ = tw.Flush()
	}
	for _, v := range r.results {
		switch {
		case v.unavailable != "":
			fmt.Fprintf(w, "%s: %s\n", v.name, v.unavailable)
		case v.info != "":
			fmt.Fprintf(w, "%s: %s\n", v.name, v.info)
		}
	}
	for _, verdict := range r.verdicts() {
		fmt.Fprintln(w, verdict)
	}
	for _, line := range r.summary() {
		fmt.Fprintln(w, line)
	}
	for _, line := range r.beforeAfter() {
		fmt.Fprintln(w, line)
	}
}

func joinInts(ns []int, sep string) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, fmt.Sprint(n))
	}
	return strings.Join(parts, sep)
}

// ratio returns a/b of two variants' medians with p streams, formatted,
// or "n/a".
func (r *report) ratio(a, b string, p int) string {
	ma, okA := r.get(a).median(p)
	mb, okB := r.get(b).median(p)
	if !okA || !okB || mb == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", ma/mb)
}

// peregrines returns the peregrine variants in the report, in run order.
func (r *report) peregrines() []string {
	var names []string
	for _, v := range r.results {
		if isPeregrine(v.name) {
			names = append(names, v.name)
		}
	}
	return names
}

// verdicts say, for each peregrine variant and stream count with both
// figures, whether it met the target against wireguard-go.
func (r *report) verdicts() []string {
	var lines []string
	for _, p := range r.o.streams {
		for _, name := range r.peregrines() {
			pm, okP := r.get(name).median(p)
			wg, okW := r.get("wireguard-go").median(p)
			if !okP || !okW || wg == 0 {
				continue
			}
			if pm/wg >= r.o.target {
				lines = append(lines, fmt.Sprintf("bench-lab: -P %d: target met: %s/wireguard-go %.2f >= %.2f", p, name, pm/wg, r.o.target))
			} else {
				lines = append(lines, fmt.Sprintf("bench-lab: -P %d: MISSED TARGET: %s/wireguard-go %.2f < %.2f", p, name, pm/wg, r.o.target))
			}
		}
	}
	return lines
}

// summary is the lines to quote: for each stream count, each variant's
// median and the ratios of each peregrine cipher against wireguard-go
// and kernel forwarding; then, with more than one stream count, each
// variant's throughput with every other count over its first.
func (r *report) summary() []string {
	has := func(name string) bool { return r.get(name) != nil }
	var lines []string
	for _, p := range r.o.streams {
		parts := []string{fmt.Sprintf("bench-lab: -P %d:", p)}
		for _, v := range r.results {
			if m, ok := v.median(p); ok {
				parts = append(parts, fmt.Sprintf("%s=%s Gbit/s", v.name, gbit(m)))
			} else {
				parts = append(parts, v.name+"=n/a")
			}
		}
		for _, name := range r.peregrines() {
			if has("wireguard-go") {
				parts = append(parts, fmt.Sprintf("%s/wireguard-go=%s (target >=%.1f)", name, r.ratio(name, "wireguard-go", p), r.o.target))
			}
			if has("kernel") {
				parts = append(parts, fmt.Sprintf("%s/kernel=%s", name, r.ratio(name, "kernel", p)))
			}
		}
		if has("wireguard-go") && has("kernel") {
			parts = append(parts, "wireguard-go/kernel="+r.ratio("wireguard-go", "kernel", p))
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	if len(r.o.streams) > 1 {
		base := r.o.streams[0]
		for _, p := range r.o.streams[1:] {
			parts := []string{fmt.Sprintf("bench-lab: -P %d / -P %d:", p, base)}
			for _, v := range r.results {
				cell := "n/a"
				m, okP := v.median(p)
				b, okB := v.median(base)
				if okP && okB && b != 0 {
					cell = fmt.Sprintf("%.2f", m/b)
				}
				parts = append(parts, v.name+"="+cell)
			}
			lines = append(lines, strings.Join(parts, " "))
		}
	}
	return lines
}
