// Package stats holds the little statistics the lab benchmarks share.
package stats

import "slices"

// Median is the middle of xs, or the mean of the two middles; 0 for none.
// Benchmarks on shared machines report medians of repeated runs: one slow
// spell moves a mean, not a median.
func Median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
