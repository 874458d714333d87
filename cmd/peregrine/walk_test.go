package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestWalk(t *testing.T) {
	var out, errb bytes.Buffer
	pcapPath := filepath.Join(t.TempDir(), "walk.pcap")
	if code := run([]string{"walk", "-pcap", pcapPath}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	for _, want := range []string{
		"push label 100 (S=1, TTL 63",
		"next header 137",
		"-> vrf red",
		"CE-red-2 receives ICMP echo 10.1.0.1 -> 10.2.0.1, TTL 62",
		"esp: authentication failed (auth failures: 1)",
		"(replays: 1)",
		"verdict: OK",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: the independent decode step was skipped")
	} else if !strings.Contains(out.String(), "tshark AGREES") {
		t.Errorf("tshark did not agree:\n%s", out.String())
	}
}
