package clab

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// One FRR node whose "bgpd" is a script that sleeps: a daemon that runs
// and answers nothing, which is all this test needs.
const oneRouter = `name: %s
topology:
  nodes:
    r1: {kind: linux, image: frr, binds: ["frr.conf:/etc/frr/frr.conf"]}
`

// Set in the runner's process that TestDeployedLabOutlivesItsRunner starts.
const (
	envRunnerTopology = "CLAB_TEST_RUNNER_TOPOLOGY"
	envRunnerBgpd     = "CLAB_TEST_RUNNER_BGPD"
	envRunnerStateDir = "CLAB_TEST_RUNNER_STATE_DIR"
)

// TestDeployedLabOutlivesItsRunner: a runner process deploys a lab and is
// then killed with SIGKILL. The lab's daemon keeps running (a lab stays up
// after `peregrine-lab deploy` returns), Inspect sees it, and Destroy,
// knowing only the lab's name, finds and removes it all.
func TestDeployedLabOutlivesItsRunner(t *testing.T) {
	if path := os.Getenv(envRunnerTopology); path != "" {
		runnerThenDie(t, path)
		return
	}
	requireRunner(t)
	lab := "pgo" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	dir := t.TempDir()
	bgpd := filepath.Join(dir, "fake-bgpd")
	if err := os.WriteFile(bgpd, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "frr.conf"), []byte("!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	topo := writeTopo(t, dir, strings.ReplaceAll(oneRouter, "%s", lab))
	t.Cleanup(func() { _ = Destroy(lab) })

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestDeployedLabOutlivesItsRunner$", "-test.v")
	cmd.Env = append(os.Environ(), envRunnerTopology+"="+topo, envRunnerBgpd+"="+bgpd, envRunnerStateDir+"="+StateDir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("runner: %v, want it killed by SIGKILL after deploying\n%s", err, out)
	}

	st, err := Inspect(lab)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 1 || st.Nodes[0].PID == 0 || !st.Nodes[0].Running {
		t.Fatalf("after the runner's death the daemon is not running: %+v", st.Nodes)
	}
	pid := st.Nodes[0].PID
	if err := Destroy(lab); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("daemon %d still runs after destroy", pid)
	}
	if l := leftovers(t, lab); len(l) > 0 {
		t.Errorf("left after destroy: %v", l)
	}
}

// runnerThenDie is the runner's side: deploy, then die as a crash would.
func runnerThenDie(t *testing.T, path string) {
	StateDir = os.Getenv(envRunnerStateDir)
	topo, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Deploy(context.Background(), topo, Options{Bgpd: os.Getenv(envRunnerBgpd)}); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute) // not reached
}
