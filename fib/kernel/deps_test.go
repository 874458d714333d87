package kernel

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoUserspaceDependency holds the kernel backend apart from the
// userspace one: the ESP gateway comes in through the ESPGateway
// interface, so fib/kernel builds without fib/userspace (and its fast
// path, TUNs and sockets).
func TestNoUserspaceDependency(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH to list the package's dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasSuffix(p, "/fib/userspace") {
			t.Errorf("fib/kernel depends on %s", p)
		}
	}
}
