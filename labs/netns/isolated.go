package netns

import (
	"runtime"

	vnetns "github.com/vishvananda/netns"
)

// InNewNamespace runs f on a locked OS thread that it moves into a fresh,
// unnamed network namespace, and moves the thread back afterwards: for a
// test that programs links, rules or routes of its own and must not touch
// the host's. Unlike a Lab it starts no processes and names nothing, so
// nothing outlives the test. It skips where namespaces cannot be made
// (RequireRoot).
func InNewNamespace(t TB, f func()) {
	t.Helper()
	RequireRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := vnetns.Get()
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	defer orig.Close()
	ns, err := vnetns.New() // this thread is now in ns
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	defer ns.Close()
	defer vnetns.Set(orig)
	f()
}
