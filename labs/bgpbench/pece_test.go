package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

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
