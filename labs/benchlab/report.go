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

// report collects every variant's runs and prints the table and the
// summary line.
type report struct {
	o       options
	results []*variantResult // in the order each round runs them
}

// variantResult is one variant's runs, one per round, or why it has none.
type variantResult struct {
	name        string
	info        string        // what carried the traffic (cipher, TUN, MTU)
	runs        []measurement // one per round measured
	unavailable string        // set when the variant cannot be measured
}

func newReport(o options) *report {
	r := &report{o: o}
	for _, name := range variantNames() {
		if slices.Contains(o.variants, name) {
			r.results = append(r.results, &variantResult{name: name})
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

// median returns the median throughput in bit/s and whether there is one.
func (v *variantResult) median() (float64, bool) {
	if v == nil || len(v.runs) == 0 {
		return 0, false
	}
	bps := make([]float64, len(v.runs))
	for i, m := range v.runs {
		bps[i] = m.bps
	}
	return stats.Median(bps), true
}

func gbit(bps float64) string { return fmt.Sprintf("%.2f", bps/1e9) }

// print writes the settings, one row per round, the medians, what carried
// each variant, and the summary line.
func (r *report) print(w io.Writer) {
	o := r.o.iperf
	fmt.Fprintf(w, "bench-lab: iperf3 TCP ce1 -> ce2, %d s measured after %d s warm-up, %d stream(s), %d round(s), %d CPUs\n",
		o.seconds, o.omit, o.streams, r.o.rounds, runtime.NumCPU())
	fmt.Fprintf(w, "bench-lab: veths MTU %d with the kernel's default offloads in every variant\n", vethMTU)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "Gbit/s\t")
	for _, v := range r.results {
		fmt.Fprintf(tw, "%s\t", v.name)
	}
	fmt.Fprintln(tw)
	for i := range r.o.rounds {
		fmt.Fprintf(tw, "round %d\t", i+1)
		for _, v := range r.results {
			cell := "n/a"
			if i < len(v.runs) {
				cell = gbit(v.runs[i].bps)
			}
			fmt.Fprintf(tw, "%s\t", cell)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "median\t")
	for _, v := range r.results {
		cell := "n/a"
		if m, ok := v.median(); ok {
			cell = gbit(m)
		}
		fmt.Fprintf(tw, "%s\t", cell)
	}
	fmt.Fprintln(tw)
	_ = tw.Flush()
	for _, v := range r.results {
		switch {
		case v.unavailable != "":
			fmt.Fprintf(w, "%s: %s\n", v.name, v.unavailable)
		case v.info != "":
			fmt.Fprintf(w, "%s: %s\n", v.name, v.info)
		}
	}
	if verdict := r.verdict(); verdict != "" {
		fmt.Fprintln(w, verdict)
	}
	fmt.Fprintln(w, r.summary())
}

// ratio returns a/b of two variants' medians, formatted, or "n/a".
func (r *report) ratio(a, b string) string {
	ma, okA := r.get(a).median()
	mb, okB := r.get(b).median()
	if !okA || !okB || mb == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", ma/mb)
}

// verdict says whether Peregrine met the target, when both figures exist.
func (r *report) verdict() string {
	p, okP := r.get("peregrine").median()
	wg, okW := r.get("wireguard-go").median()
	if !okP || !okW || wg == 0 {
		return ""
	}
	if p/wg >= r.o.target {
		return fmt.Sprintf("bench-lab: target met: peregrine/wireguard-go %.2f >= %.2f", p/wg, r.o.target)
	}
	return fmt.Sprintf("bench-lab: MISSED TARGET: peregrine/wireguard-go %.2f < %.2f", p/wg, r.o.target)
}

// summary is the one line to quote: each variant's median and the ratios.
func (r *report) summary() string {
	parts := []string{"bench-lab:"}
	for _, v := range r.results {
		if m, ok := v.median(); ok {
			parts = append(parts, fmt.Sprintf("%s=%s Gbit/s", v.name, gbit(m)))
		} else {
			parts = append(parts, v.name+"=n/a")
		}
	}
	has := func(name string) bool { return r.get(name) != nil }
	if has("peregrine") && has("wireguard-go") {
		parts = append(parts, fmt.Sprintf("peregrine/wireguard-go=%s (target >=%.1f)", r.ratio("peregrine", "wireguard-go"), r.o.target))
	}
	if has("peregrine") && has("kernel") {
		parts = append(parts, "peregrine/kernel="+r.ratio("peregrine", "kernel"))
	}
	if has("wireguard-go") && has("kernel") {
		parts = append(parts, "wireguard-go/kernel="+r.ratio("wireguard-go", "kernel"))
	}
	return strings.Join(parts, " ")
}
