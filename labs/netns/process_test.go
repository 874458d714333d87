package netns_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestStartProcessOnTheHostStopKillsItsGroup: a process outside any lab
// logs to its file, reports its exit, and Stop leaves nothing of its
// process group behind, not even a child that ignores SIGTERM and outlives
// its parent (as bgpbench's daemons' helpers may).
func TestStartProcessOnTheHostStopKillsItsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := `trap "" TERM; (trap "" TERM; echo $BASHPID > ` + pidFile + `; exec sleep 60) & echo started; trap - TERM; wait`
	p, err := netns.StartProcess(netns.Command{Path: "bash", Args: []string{"-c", script}, StopTimeout: 200 * time.Millisecond},
		netns.ProcessOptions{LogPath: filepath.Join(dir, "p.log")})
	if err != nil {
		t.Fatal(err)
	}
	var child int
	waitFor(t, "the child's pid", func() bool {
		b, err := os.ReadFile(pidFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && child > 0
	})
	if exited, _ := p.Exited(); exited {
		t.Fatal("exited before Stop")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if exited, _ := p.Exited(); !exited {
		t.Fatal("Stop returned before the exit")
	}
	waitFor(t, "the child to die", func() bool { return !alive(child) })
	if !strings.Contains(p.LogTail(5), "started") {
		t.Errorf("log lacks the program's output: %q", p.LogTail(5))
	}
}

// TestRemoveNamespaceGraceSendsTermFirst: with a grace period a daemon
// in the namespace gets SIGTERM (and can save its state) before SIGKILL.
func TestRemoveNamespaceGraceSendsTermFirst(t *testing.T) {
	netns.RequireRoot(t)
	ns := "pgltest-" + strconv.Itoa(os.Getpid())
	if err := netns.AddNamespace(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.RemoveNamespace(ns, 0) })
	if !netns.NamespaceExists(ns) {
		t.Fatal("NamespaceExists: false after AddNamespace")
	}
	if got, err := netns.Namespaces("pgltest-"); err != nil || !strings.Contains(strings.Join(got, " "), ns) {
		t.Fatalf("Namespaces(pgltest-) = %v, %v; want %s among them", got, err, ns)
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "term")
	p, err := netns.StartProcess(netns.Command{Path: "bash", Args: []string{"-c", `trap "echo > ` + marker + `; exit 0" TERM; while :; do sleep 0.05; done`}},
		netns.ProcessOptions{Namespace: ns, LogPath: filepath.Join(dir, "p.log"), Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	time.Sleep(200 * time.Millisecond) // let bash set its trap
	if err := netns.RemoveNamespace(ns, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if _, err := os.Stat(marker); err != nil {
		t.Error("the process got no SIGTERM before it was killed")
	}
	if netns.NamespaceExists(ns) {
		t.Error("namespace still there")
	}
}
