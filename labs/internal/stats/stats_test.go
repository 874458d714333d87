package stats

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{1.6, 1.2, 1.3}, 1.3},
	} {
		xs := append([]float64(nil), c.xs...)
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
		for i := range xs {
			if xs[i] != c.xs[i] {
				t.Errorf("Median reordered its argument: %v", c.xs)
			}
		}
	}
}

func TestLine(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	for _, c := range []struct {
		name                string
		xs, ys              []float64
		slope, icept, resid float64
	}{
		{"exact", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2, 1, 0},
		{"flat", []float64{0, 10, 20}, []float64{5, 5, 5}, 0, 5, 0},
		// Residuals +1, -2, +1 about y = 1 + x: sqrt(6 / (3-2)).
		{"noisy", []float64{0, 1, 2}, []float64{2, 0, 4}, 1, 1, math.Sqrt(6)},
		{"one point", []float64{4}, []float64{9}, 0, 9, 0},
		{"empty", nil, nil, 0, 0, 0},
	} {
		s, i, r := Line(c.xs, c.ys)
		if !near(s, c.slope) || !near(i, c.icept) || !near(r, c.resid) {
			t.Errorf("%s: Line = %v, %v, %v; want %v, %v, %v", c.name, s, i, r, c.slope, c.icept, c.resid)
		}
	}
}
