package main

import (
	"bytes"
	"strings"
	"testing"
)

func runs(gbits ...float64) []measurement {
	var ms []measurement
	for _, g := range gbits {
		ms = append(ms, measurement{bps: g * 1e9, seconds: 10})
	}
	return ms
}

func testReport(rounds int) *report {
	return newReport(options{rounds: rounds, target: 1, iperf: iperfOptions{seconds: 10, omit: 1, streams: 1},
		variants: []string{"peregrine", "kernel", "wireguard-go"}})
}

func TestSummaryAllMeasured(t *testing.T) {
	r := testReport(3)
	r.get("kernel").runs = runs(9.0, 9.2, 9.1)
	r.get("wireguard-go").runs = runs(2.0, 1.8, 1.9)
	r.get("peregrine").runs = runs(2.2, 2.0, 2.1)
	const want = "bench-lab: kernel=9.10 Gbit/s wireguard-go=1.90 Gbit/s peregrine=2.10 Gbit/s " +
		"peregrine/wireguard-go=1.11 (target >=1.0) peregrine/kernel=0.23 wireguard-go/kernel=0.21"
	if got := r.summary(); got != want {
		t.Errorf("summary:\n got %s\nwant %s", got, want)
	}
	if v := r.verdict(); !strings.Contains(v, "target met") {
		t.Errorf("verdict = %q, want target met", v)
	}
}

func TestReportPeregrineUnavailable(t *testing.T) {
	r := testReport(2)
	r.get("kernel").runs = runs(9, 10)
	r.get("wireguard-go").runs = runs(1, 2)
	r.get("peregrine").unavailable = (&unavailableError{"no ping"}).Error()
	var b bytes.Buffer
	r.print(&b)
	out := b.String()
	for _, want := range []string{
		"peregrine: dataplane not available yet (no ping)\n",
		"bench-lab: kernel=9.50 Gbit/s wireguard-go=1.50 Gbit/s peregrine=n/a peregrine/wireguard-go=n/a (target >=1.0) peregrine/kernel=n/a wireguard-go/kernel=0.16\n",
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
	r := testReport(1)
	r.get("wireguard-go").runs = runs(2)
	r.get("peregrine").runs = runs(1)
	if v := r.verdict(); !strings.Contains(v, "MISSED TARGET") {
		t.Errorf("verdict = %q, want MISSED TARGET", v)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-t", "5", "-variants", "wireguard-go,kernel,kernel"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.iperf.seconds != 5 || o.rounds != 3 || o.iperf.streams != 1 {
		t.Errorf("options = %+v", o)
	}
	// Rounds always run in the canonical order, whatever the flag's.
	r := newReport(o)
	if len(r.results) != 2 || r.results[0].name != "kernel" || r.results[1].name != "wireguard-go" {
		t.Errorf("variants = %v", o.variants)
	}
	for _, args := range [][]string{{"-variants", "ipsec"}, {"-t", "0"}, {"-rounds", "0"}, {"extra"}} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
