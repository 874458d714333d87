package main

import (
	"math"
	"os"
	"strings"
	"testing"
)

// The samples were captured from iperf 3.12 (Debian 12) between two
// namespaces: a 2-stream, 2 s run with 1 s omitted, and a client whose
// server was not listening.

func TestParseIperfSample(t *testing.T) {
	b, err := os.ReadFile("testdata/iperf3-tcp-P2.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseIperf(b)
	if err != nil {
		t.Fatal(err)
	}
	// end.sum_received, not sum_sent nor a per-stream figure.
	if want := 12287173605.998907; math.Abs(m.bps-want) > 1 {
		t.Errorf("bps = %v, want %v", m.bps, want)
	}
	// The omitted warm-up second is not in the figure.
	if want := 2.006365; math.Abs(m.seconds-want) > 1e-6 {
		t.Errorf("seconds = %v, want %v", m.seconds, want)
	}
	if m.retransmits != 22759 {
		t.Errorf("retransmits = %d, want 22759", m.retransmits)
	}
}

func TestParseIperfReportsIperfsOwnError(t *testing.T) {
	b, err := os.ReadFile("testdata/iperf3-refused.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = parseIperf(b)
	if err == nil || !strings.Contains(err.Error(), "unable to connect to server: Connection refused") {
		t.Fatalf("err = %v, want iperf3's own message", err)
	}
}

func TestParseIperfRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":     "iperf3: error - unable to connect",
		"empty":        "",
		"no end":       `{"start": {}}`,
		"zero rate":    `{"end": {"sum_received": {"seconds": 10, "bits_per_second": 0}}}`,
		"zero seconds": `{"end": {"sum_received": {"seconds": 0, "bits_per_second": 5}}}`,
	} {
		if m, err := parseIperf([]byte(in)); err == nil {
			t.Errorf("%s: parsed as %+v, want an error", name, m)
		}
	}
}
