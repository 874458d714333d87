package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/modroot"
)

// TestPECEMode runs the PE-CE mode end to end at a tiny N: a gobgpd CE,
// Peregrine's speaker then gobgpd as the PE, a gobgpd route reflector. It
// fails if either PE does not bring every CE route to the reflector as
// VPNv4 (the leg then errs), or if the report lacks the figures.
func TestPECEMode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three BGP speakers twice")
	}
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	gobgpd := filepath.Join(root, "bin", "tools", "gobgpd")
	if _, err := os.Stat(gobgpd); err != nil {
		t.Skipf("gobgpd missing (run `make tools`): %v", err)
	}
	var out, logs bytes.Buffer
	// Ports apart from the default ones, so that a bench-bgp running
	// beside the test does not collide with it.
	args := []string{"-mode", "pece", "-n", "200", "-runs", "1", "-settle", "0s",
		"-port", "1797", "-api-port", "50077", "-gobgpd", gobgpd}
	if rc := run(args, &out, &logs); rc != 0 {
		t.Fatalf("bgpbench %v: exit %d\n%s%s", args, rc, logs.String(), out.String())
	}
	t.Logf("%s", out.String())
	m := regexp.MustCompile(`pece N=200 runs=1 medians: peregrine=([0-9.]+)s gobgpd=([0-9.]+)s ratio=([0-9.]+)`).FindSubmatch(out.Bytes())
	if m == nil {
		t.Fatalf("no verdict line in:\n%s", out.String())
	}
	for _, f := range m[1:] {
		if v, err := strconv.ParseFloat(string(f), 64); err != nil || v <= 0 {
			t.Errorf("figure %q is not a positive number", f)
		}
	}
	for _, mid := range []string{"peregrine", "gobgpd"} {
		if !regexp.MustCompile(`(?m)^\s+1\s+` + mid + `\s+[0-9.]+s`).Match(out.Bytes()) {
			t.Errorf("no %s leg row in:\n%s", mid, out.String())
		}
	}
}

// ceLegs is one run's pair of legs: Peregrine's with wall and CPU time p
// and pCPU, gobgpd's with b and bCPU; Peregrine's heap grows by 700 B a
// route, each RSS by 2000 B, over n routes.
func ceLegs(n int, p, pCPU, b, bCPU time.Duration) [2]ceLeg {
	const mib = 1 << 20
	return [2]ceLeg{
		{peregrine: true, n: n, elapsed: p, cpu: pCPU, heapBefore: 40 * mib, heapSettled: 40*mib + uint64(700*n),
			before: usage{RSS: 60 * mib}, settled: usage{RSS: 60*mib + int64(2000*n)}},
		{n: n, elapsed: b, cpu: bCPU, before: usage{RSS: 20 * mib}, settled: usage{RSS: 20*mib + int64(2000*n)}},
	}
}

// TestPECEVerdict: the PE-CE bench holds its wall ratio, and only that,
// against issue 17's 1.5 (unless -target-ratio says otherwise), and
// prints the CPU ratio and the memory per route as figures.
func TestPECEVerdict(t *testing.T) {
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	for _, c := range []struct {
		name   string
		o      options
		runs   [][2]ceLeg
		missed string // "" for met
	}{
		// Ratios 1.4, 1.45, 1.3: median 1.4, under 1.5 though over the
		// import mode's 1.2; CPU ratio 2, over the import mode's 1.5.
		{"met", options{n: 1000, targetRatio: 1.2}, [][2]ceLeg{
			ceLegs(1000, sec(1.4), sec(2), sec(1), sec(1)),
			ceLegs(1000, sec(1.45), sec(2), sec(1), sec(1)),
			ceLegs(1000, sec(1.3), sec(2), sec(1), sec(1)),
		}, ""},
		{"missed", options{n: 1000, targetRatio: 1.2}, [][2]ceLeg{ceLegs(1000, sec(1.6), sec(1), sec(1), sec(1))}, "MISSED TARGET: ratio 1.60 > 1.5\n"},
		{"flag", options{n: 1000, targetRatio: 1.2, targetRatioSet: true}, [][2]ceLeg{ceLegs(1000, sec(1.4), sec(1), sec(1), sec(1))},
			"MISSED TARGET: ratio 1.40 > 1.2\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, target := c.o, peceTargetRatio
			if o.targetRatioSet {
				target = o.targetRatio
			}
			var out bytes.Buffer
			printCE(&out, o, c.runs)
			got := out.String()
			if want := regexp.MustCompile(`ratio=1\.[0-9]+ \(target <=` + strconv.FormatFloat(target, 'g', -1, 64) + `\) cpu-ratio=[0-9.]+ memory/route: peregrine heap=700B rss=2000B, gobgpd rss=2000B\n`); !want.MatchString(got) {
				t.Errorf("no figures line matching %s in:\n%s", want, got)
			}
			if strings.Contains(got, "cpu-ratio=2.00 (target") || strings.Contains(got, "B > ") {
				t.Errorf("CPU or memory judged against a target:\n%s", got)
			}
			last := got[strings.LastIndex(got[:len(got)-1], "\n")+1:]
			if c.missed == "" && last != "target met\n" || c.missed != "" && last != c.missed {
				t.Errorf("verdict %q, want %q", last, map[bool]string{true: "target met\n", false: c.missed}[c.missed == ""])
			}
		})
	}
}
