package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/stats"
)

// The before/after comparison: the older binary (peregrine-before), the
// tree's with one SA pair (peregrine) and with one pair per CPU
// (peregrine-resources), all AES-128-GCM over the same topology and
// alternating in every round. For each stream count the lines give each
// one's median throughput and the median CPU time of both PEs'
// peregrined over the iperf3 run, each as a ratio to before. With no
// before variant the ratios are to peregrine.

// beforeAfterVariants are the variants compared, baseline first.
var beforeAfterVariants = []string{variantBefore, "peregrine", variantResources}

// medianCPU returns the median CPU time of v's runs with the given
// stream count and whether every run has one.
func (v *variantResult) medianCPU(streams int) (time.Duration, bool) {
	if v == nil || len(v.runs[streams]) == 0 {
		return 0, false
	}
	var s []float64
	for _, m := range v.runs[streams] {
		if !m.hasCPU {
			return 0, false
		}
		s = append(s, m.cpu.Seconds())
	}
	return time.Duration(stats.Median(s) * float64(time.Second)), true
}

// beforeAfter returns the comparison's lines, none unless the report has
// at least two of its variants.
func (r *report) beforeAfter() []string {
	var names []string
	for _, n := range beforeAfterVariants {
		if r.get(n) != nil {
			names = append(names, n)
		}
	}
	if len(names) < 2 {
		return nil
	}
	base := r.get(names[0])
	var lines []string
	for _, p := range r.o.streams {
		parts := []string{fmt.Sprintf("bench-lab: before/after -P %d:", p)}
		bBPS, okB := base.median(p)
		bCPU, okBC := base.medianCPU(p)
		for _, n := range names {
			v := r.get(n)
			cell := n + "=n/a"
			if m, ok := v.median(p); ok {
				cell = fmt.Sprintf("%s=%s Gbit/s", n, gbit(m))
				if okB && bBPS > 0 && v != base {
					cell += fmt.Sprintf(" (%.2fx)", m/bBPS)
				}
			}
			if c, ok := v.medianCPU(p); ok {
				cell += fmt.Sprintf(" cpu=%.2fs", c.Seconds())
				if okBC && bCPU > 0 && v != base {
					cell += fmt.Sprintf(" (%.2fx)", c.Seconds()/bCPU.Seconds())
				}
			}
			parts = append(parts, cell)
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	return append(lines, fmt.Sprintf("bench-lab: before/after: ratios to %s; cpu = median user+sys of both PEs' peregrined over the iperf3 run (%d+%d s)",
		names[0], r.o.iperf.omit, r.o.iperf.seconds))
}
