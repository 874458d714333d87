package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// setRuns records one measurement per round of gbits Gbit/s for variant
// name with p streams.
func setRuns(r *report, name string, p int, gbits ...float64) {
	for _, g := range gbits {
		r.get(name).add(p, measurement{bps: g * 1e9, seconds: 10})
	}
}

func testReport(rounds int, streams ...int) *report {
	return newReport(options{rounds: rounds, target: 1, iperf: iperfOptions{seconds: 10, omit: 1}, streams: streams,
		variants: []string{"peregrine", "kernel", "wireguard-go", "peregrine-chacha20"}})
}

func TestSummaryAllMeasured(t *testing.T) {
	r := testReport(3, 1, 4)
	setRuns(r, "kernel", 1, 9.0, 9.2, 9.1)
	setRuns(r, "wireguard-go", 1, 2.0, 1.8, 1.9)
	setRuns(r, "peregrine", 1, 2.2, 2.0, 2.1)
	setRuns(r, "peregrine-chacha20", 1, 1.5, 1.6, 1.7)
	setRuns(r, "kernel", 4, 18, 18, 18)
	setRuns(r, "wireguard-go", 4, 3, 3, 3)
	setRuns(r, "peregrine", 4, 4.2, 4.2, 4.2)
	setRuns(r, "peregrine-chacha20", 4, 3.2, 3.2, 3.2)
	want := []string{
		"bench-lab: -P 1: kernel=9.10 Gbit/s wireguard-go=1.90 Gbit/s peregrine=2.10 Gbit/s peregrine-chacha20=1.60 Gbit/s " +
			"peregrine/wireguard-go=1.11 (target >=1.0) peregrine/kernel=0.23 " +
			"peregrine-chacha20/wireguard-go=0.84 (target >=1.0) peregrine-chacha20/kernel=0.18 wireguard-go/kernel=0.21",
		"bench-lab: -P 4: kernel=18.00 Gbit/s wireguard-go=3.00 Gbit/s peregrine=4.20 Gbit/s peregrine-chacha20=3.20 Gbit/s " +
			"peregrine/wireguard-go=1.40 (target >=1.0) peregrine/kernel=0.23 " +
			"peregrine-chacha20/wireguard-go=1.07 (target >=1.0) peregrine-chacha20/kernel=0.18 wireguard-go/kernel=0.17",
		"bench-lab: -P 4 / -P 1: kernel=1.98 wireguard-go=1.58 peregrine=2.00 peregrine-chacha20=2.00",
	}
	got := r.summary()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("summary:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	v := strings.Join(r.verdicts(), "\n")
	for _, line := range []string{
		"-P 1: target met: peregrine/wireguard-go 1.11",
		"-P 1: MISSED TARGET: peregrine-chacha20/wireguard-go 0.84",
		"-P 4: target met: peregrine-chacha20/wireguard-go 1.07",
	} {
		if !strings.Contains(v, line) {
			t.Errorf("verdicts lack %q:\n%s", line, v)
		}
	}
	var b bytes.Buffer
	r.print(&b)
	for _, table := range []string{"Gbit/s -P 1", "Gbit/s -P 4"} {
		if !strings.Contains(b.String(), table) {
			t.Errorf("report lacks the %q table:\n%s", table, b.String())
		}
	}
}

func TestReportPeregrineUnavailable(t *testing.T) {
	r := testReport(2, 1)
	setRuns(r, "kernel", 1, 9, 10)
	setRuns(r, "wireguard-go", 1, 1, 2)
	r.get("peregrine").unavailable = (&unavailableError{"no ping"}).Error()
	r.get("peregrine-chacha20").unavailable = (&unavailableError{"no ping"}).Error()
	var b bytes.Buffer
	r.print(&b)
	out := b.String()
	for _, want := range []string{
		"peregrine: dataplane not available yet (no ping)\n",
		"bench-lab: -P 1: kernel=9.50 Gbit/s wireguard-go=1.50 Gbit/s peregrine=n/a peregrine-chacha20=n/a " +
			"peregrine/wireguard-go=n/a (target >=1.0) peregrine/kernel=n/a " +
			"peregrine-chacha20/wireguard-go=n/a (target >=1.0) peregrine-chacha20/kernel=n/a wireguard-go/kernel=0.16\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "target met") || strings.Contains(out, "MISSED") {
		t.Errorf("verdict printed without a peregrine figure:\n%s", out)
	}
}

func TestVerdictMissed(t *testing.T) {
	r := testReport(1, 1)
	setRuns(r, "wireguard-go", 1, 2)
	setRuns(r, "peregrine", 1, 1)
	if v := strings.Join(r.verdicts(), "\n"); !strings.Contains(v, "MISSED TARGET: peregrine/wireguard-go") {
		t.Errorf("verdicts = %q, want MISSED TARGET", v)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-t", "5", "-variants", "wireguard-go,kernel,kernel"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.iperf.seconds != 5 || o.rounds != 3 || len(o.streams) != 2 || o.streams[0] != 1 || o.streams[1] != 4 {
		t.Errorf("options = %+v", o)
	}
	// Rounds always run in the canonical order, whatever the flag's.
	r := newReport(o)
	if len(r.results) != 2 || r.results[0].name != "kernel" || r.results[1].name != "wireguard-go" {
		t.Errorf("variants = %v", o.variants)
	}
	o, err = parseFlags([]string{"-P", "8, 2,8"}, &bytes.Buffer{})
	if err != nil || len(o.streams) != 2 || o.streams[0] != 8 || o.streams[1] != 2 {
		t.Errorf("-P 8,2,8: %v %v", o.streams, err)
	}
	if len(o.variants) != len(variantNames())-1 || slices.Contains(o.variants, variantBefore) {
		t.Errorf("default variants = %v, want all of %v but %s", o.variants, variantNames(), variantBefore)
	}
	o, err = parseFlags([]string{"-peregrined-before", "/old/peregrined", "-resources", "3"}, &bytes.Buffer{})
	if err != nil || o.before != "/old/peregrined" || o.resources != 3 || !slices.Contains(o.variants, variantBefore) {
		t.Errorf("-peregrined-before: %+v %v", o, err)
	}
	for _, args := range [][]string{{"-variants", "ipsec"}, {"-t", "0"}, {"-rounds", "0"}, {"extra"}, {"-P", "0"}, {"-P", "1,x"}, {"-P", ""},
		{"-variants", "peregrine-before"}, {"-resources", "0"}, {"-resources", "17"}} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestBeforeAfter: per stream count, each of before, peregrine and
// peregrine-resources with its median throughput and CPU, and the
// ratios to before.
func TestBeforeAfter(t *testing.T) {
	r := newReport(options{rounds: 3, iperf: iperfOptions{seconds: 10, omit: 1}, streams: []int{1, 4},
		variants: []string{"kernel", "peregrine", variantResources, variantBefore}})
	add := func(name string, p int, gbits float64, cpu ...float64) {
		for _, c := range cpu {
			r.get(name).add(p, measurement{bps: gbits * 1e9, seconds: 10, cpu: time.Duration(c * float64(time.Second)), hasCPU: true})
		}
	}
	add(variantBefore, 1, 1, 8, 10, 9)
	add("peregrine", 1, 1.5, 9, 9, 9)
	add(variantResources, 1, 1.5, 9, 9, 9)
	add(variantBefore, 4, 2, 16, 16, 16)
	add("peregrine", 4, 2, 16, 16, 16)
	add(variantResources, 4, 3, 20, 20, 20)
	setRuns(r, "kernel", 1, 9, 9, 9) // no CPU: not part of the comparison
	want := []string{
		"bench-lab: before/after -P 1: peregrine-before=1.00 Gbit/s cpu=9.00s peregrine=1.50 Gbit/s (1.50x) cpu=9.00s (1.00x) peregrine-resources=1.50 Gbit/s (1.50x) cpu=9.00s (1.00x)",
		"bench-lab: before/after -P 4: peregrine-before=2.00 Gbit/s cpu=16.00s peregrine=2.00 Gbit/s (1.00x) cpu=16.00s (1.00x) peregrine-resources=3.00 Gbit/s (1.50x) cpu=20.00s (1.25x)",
		"bench-lab: before/after: ratios to peregrine-before; cpu = median user+sys of both PEs' peregrined over the iperf3 run (1+10 s)",
	}
	if got := r.beforeAfter(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("beforeAfter:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var b bytes.Buffer
	r.print(&b)
	if !strings.Contains(b.String(), want[1]) {
		t.Errorf("report lacks the comparison:\n%s", b.String())
	}
	// With only one of the three there is nothing to compare.
	if got := testReport(1, 1).beforeAfter(); len(got) != 0 {
		t.Errorf("beforeAfter with peregrine alone = %q", got)
	}
}
