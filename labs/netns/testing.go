package netns

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
)

// TB is the part of testing.TB the test adapter uses. *testing.T and
// *testing.B satisfy it; naming it here keeps package testing out of the
// lab runner's binary.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// LogTailLines is how much of each process's log NewLab's cleanup prints
// when a test fails.
const LogTailLines = 150

// NewLab is New for tests: it skips the test when the host cannot run labs
// (see RequireRoot), logs through t.Logf, and registers a cleanup that
// prints every process's log if the test failed, then closes the lab.
func NewLab(t TB) *Lab {
	t.Helper()
	RequireRoot(t)
	w := &tbWriter{t: t}
	lab, err := New(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatalf("netns.New: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range lab.Processes() {
				t.Logf("--- log of %s (%s) ---\n%s", p.Name(), p.LogPath(), p.LogTail(LogTailLines))
			}
		}
		if err := lab.Close(); err != nil {
			t.Errorf("closing lab: %v", err)
		}
		w.done.Store(true) // t.Logf panics once the test has returned
	})
	return lab
}

// tbWriter turns the slog text handler's lines into t.Logf calls.
type tbWriter struct {
	t    TB
	done atomic.Bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

var probe struct {
	once   sync.Once
	reason string // empty when labs can run
}

// RequireRoot skips the test unless this host can run labs, with a reason
// naming what is missing: root, iproute2's ip, or the ability to create a
// network namespace (as in an unprivileged container). The probe runs once
// per process.
func RequireRoot(t TB) {
	t.Helper()
	if reason := CanRun(); reason != "" {
		t.Skipf("netns lab cannot run: %s", reason)
	}
}

// CanRun returns why labs cannot run on this host, or "" if they can. The
// lab runner prints it instead of skipping.
func CanRun() string {
	probe.once.Do(func() { probe.reason = canRun() })
	return probe.reason
}

func canRun() string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("not root (euid %d): run the tests as root", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "ip not found: apt-get install iproute2"
	}
	// Not of the lab-name shape, so a sweep never takes it for a lab.
	name := fmt.Sprintf("pglprobe%d", os.Getpid())
	if _, err := ip("netns", "add", name); err != nil {
		return fmt.Sprintf("cannot create a network namespace: %v", err)
	}
	if _, err := ip("netns", "del", name); err != nil {
		return fmt.Sprintf("cannot delete a network namespace: %v", err)
	}
	return ""
}
