package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOperatorBinariesLinkNoLabCode: the binaries an operator installs on a
// router (peregrined and this CLI) import no package under labs/; the lab
// runner is cmd/peregrine-lab.
func TestOperatorBinariesLinkNoLabCode(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command for go list")
	}
	for _, cmd := range []string{".", "../peregrined"} {
		out, err := exec.Command("go", "list", "-deps", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", cmd, err, out)
		}
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, "github.com/peregrine-net/peregrine/labs") {
				t.Errorf("%s links lab package %s", cmd, pkg)
			}
		}
	}
}
