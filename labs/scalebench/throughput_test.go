package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The ratio is of medians, so one run disturbed by the shared machine
// moves it less than a mean would.
func TestBusyRatioIsOfMedians(t *testing.T) {
	r := busyResult{vrfs: 2000, alone: []float64{100, 900, 110}, beside: []float64{99, 10, 100}}
	if got := r.ratio(); got < 0.899 || got > 0.901 {
		t.Errorf("ratio of medians 99/110 = %.3f, want 0.900", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 1..4 = %v, want 2.5", got)
	}
	if got := (busyResult{}).ratio(); got != 0 {
		t.Errorf("ratio with no runs = %v, want 0", got)
	}
}

// A real iperf3 -J report gives its receiver's rate; one that failed
// gives iperf3's error.
func TestParseIperfReceived(t *testing.T) {
	b, err := os.ReadFile("testdata/iperf3-tcp-P2.json")
	if err != nil {
		t.Fatal(err)
	}
	if bps, err := parseIperfReceived(b); err != nil || bps <= 0 {
		t.Errorf("parseIperfReceived(iperf3-tcp-P2.json) = %v, %v", bps, err)
	}
	b, err = os.ReadFile("testdata/iperf3-refused.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseIperfReceived(b); err == nil {
		t.Error("a refused run parsed without error")
	}
}

// FuzzParseIperfReceived: never a panic, and an accepted rate is
// positive (the ratio divides by it).
func FuzzParseIperfReceived(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/iperf3-*.json")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"end":{"sum_received":{"bits_per_second":-1}}}`))
	f.Fuzz(func(t *testing.T, out []byte) {
		bps, err := parseIperfReceived(out)
		if err == nil && !(bps > 0) {
			t.Fatalf("accepted %v", bps)
		}
	})
}
