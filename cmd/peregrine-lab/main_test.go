package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestUsage: a command line without a verb, with an unknown verb or
// without -t prints the usage and exits 2, before anything needs root.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate", "-t", "x.clab.yml"}, {"deploy"}, {"demo", "-t"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage: peregrine-lab") {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and the usage", args, code, errb.String())
		}
	}
}
