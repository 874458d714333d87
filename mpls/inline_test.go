package mpls

// Like net/netip's TestInlining: the field accessors are the inner loop of
// every label operation, and a refactor that pushes one over the
// compiler's inlining budget should fail a test, not a benchmark nobody
// reads.

import (
	"os/exec"
	"strings"
	"testing"
)

func TestInlining(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: runs the compiler")
	}
	// go test puts its own GOROOT/bin first in the test's PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: no go tool in PATH: %v", err)
	}
	out, err := exec.Command(goTool, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for line := range strings.SplitSeq(string(out), "\n") {
		if _, fn, ok := strings.Cut(line, ": can inline "); ok {
			got[fn] = true
		}
	}
	for _, fn := range []string{
		"Label.IsValid",
		"Label.IsReserved",
		"StackEntry.IsValid",
		"StackEntry.Label",
		"StackEntry.TC",
		"StackEntry.BottomOfStack",
		"StackEntry.TTL",
		"StackEntry.SetLabel",
		"StackEntry.SetTC",
		"StackEntry.SetBottomOfStack",
		"StackEntry.SetTTL",
		"StackEntry.Entry",
		"EncodeEntry",
		"Entry.Encode",
		"ParseStack",
		"Stack.Depth",
		"Stack.Entry",
		"Stack.Top",
		"Stack.Bottom",
		"Range.Contains",
		"TTLMode.IsValid",
		"ipTTL",
		"checksumUpdate",
	} {
		if !got[fn] {
			t.Errorf("%s is no longer inlinable", fn)
		}
	}
}
