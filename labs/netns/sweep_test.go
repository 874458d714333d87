package netns_test

// A lab whose process was killed, swept by the next one:
//
//	helper process (SIGKILLed)      this test
//	+-------------------------+
//	| lab pglXXXXXX           |     netns.Sweep
//	|  +-------+              |       - kills the orphan
//	|  | stale |  sleep (bg)  |  ->   - deletes pglXXXXXX-stale
//	|  +-------+              |       - removes its directory and lock
//	+-------------------------+

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

const helperEnv = "PEREGRINE_NETNS_STALE_HELPER"

// TestMain lets the test binary double as the helper that leaves a stale
// lab behind: run with helperEnv set, it builds a lab, prints what it built
// and waits to be killed.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(leaveStaleLab())
	}
	os.Exit(m.Run())
}

func leaveStaleLab() int {
	lab, err := netns.New(nil)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	n, err := lab.AddNode("stale")
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	// A supervised process (dies with us through Pdeathsig) and a
	// backgrounded one that escapes supervision: the sweep must find it.
	if _, err := n.Start("sleep", "300"); err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n.Exec(ctx, "sh", "-c", "sleep 301 >/dev/null 2>&1 &"); err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("READY", n.Namespace(), lab.Dir())
	select {} // until SIGKILL
}

func TestSweepRemovesStaleLabOfKilledProcess(t *testing.T) {
	netns.RequireRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "READY" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	ns, dir := f[1], f[2]
	pids := namespacePids(t, ns)
	if len(pids) == 0 {
		t.Fatalf("no processes in %s before the kill", ns)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
		t.Fatalf("namespace %s gone before any sweep: %v", ns, err)
	}

	// Another test binary's lab may be sweeping concurrently (and hold the
	// stale lab's lock while it does): only the outcome matters, so Sweep's
	// own errors are logged and the outcome is polled for.
	if err := netns.Sweep(slog.Default()); err != nil {
		t.Logf("Sweep: %v", err)
	}
	id := strings.TrimPrefix(strings.SplitN(ns, "-", 2)[0], netns.NamePrefix)
	leftovers := func() []string {
		var left []string
		for _, p := range []string{filepath.Join("/run/netns", ns), dir, filepath.Join(netns.LockDir, id+".lock")} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				left = append(left, p)
			}
		}
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, fmt.Sprintf("pid %d", pid))
			}
		}
		return left
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(leftovers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("left behind after Sweep: %s", strings.Join(left, ", "))
	}
}

func namespacePids(t *testing.T, ns string) []int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", ns, err)
	}
	var pids []int
	for _, s := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("ip netns pids %s: %q", ns, out)
		}
		pids = append(pids, pid)
	}
	return pids
}

// alive reports whether pid runs; a zombie (killed, not yet reaped by
// whoever inherited it) counts as dead.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
