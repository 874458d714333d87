// Package stats holds the little statistics the lab benchmarks share.
package stats

import (
	"math"
	"slices"
)

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

// Line is the least-squares line through the points (xs[i], ys[i]): its
// slope, its intercept, and the standard deviation of the points about it
// (the noise a slope is judged against). With fewer than two distinct xs
// the slope is 0 and the intercept the mean.
func Line(xs, ys []float64) (slope, intercept, resid float64) {
	n := float64(len(xs))
	if len(xs) == 0 || len(xs) != len(ys) {
		return 0, 0, 0
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx > 0 {
		slope = sxy / sxx
	}
	intercept = my - slope*mx
	var ss float64
	for i := range xs {
		d := ys[i] - (intercept + slope*xs[i])
		ss += d * d
	}
	if len(xs) > 2 {
		resid = math.Sqrt(ss / (n - 2)) // two parameters fitted
	}
	return slope, intercept, resid
}
