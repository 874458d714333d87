package netns_test

// Two nodes joined by one veth pair:
//
//	+-----+ a0                      b0 +-----+
//	|  a  |----------------------------|  b  |
//	+-----+ 10.9.0.1/24    10.9.0.2/24 +-----+
//	        fd00:9::1/64  fd00:9::2/64

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

func TestTwoNodesPingAndCleanUp(t *testing.T) {
	lab := netns.NewLab(t)
	a, err := lab.AddNode("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.AddNode("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(a, "a0", b, "b0"); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		n      *netns.Node
		ifname string
		prefix string
	}{
		{a, "a0", "10.9.0.1/24"}, {a, "a0", "fd00:9::1/64"},
		{b, "b0", "10.9.0.2/24"}, {b, "b0", "fd00:9::2/64"},
	} {
		if err := x.n.AddAddr(x.ifname, netip.MustParsePrefix(x.prefix)); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, dst := range []string{"10.9.0.2", "fd00:9::2"} {
		out, err := a.Exec(ctx, "ping", "-c", "1", "-W", "2", dst)
		if err != nil {
			t.Fatalf("ping %s from a: %v\n%s", dst, err, out)
		}
		if !strings.Contains(string(out), "1 received") {
			t.Fatalf("ping %s from a: no reply:\n%s", dst, out)
		}
	}
	// The link exists only inside the namespaces, never on the host.
	if out, _ := exec.Command("ip", "link", "show", "a0").CombinedOutput(); !strings.Contains(string(out), "does not exist") {
		t.Errorf("a0 visible in the host namespace:\n%s", out)
	}

	p, err := b.Start("sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	if exited, err := p.Exited(); exited {
		t.Fatalf("sleep exited at once: %v", err)
	}
	namespaces := []string{a.Namespace(), b.Namespace()}
	dir := lab.Dir()

	if err := lab.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, ns := range namespaces {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still exists after Close (stat: %v)", ns, err)
		}
	}
	if exited, _ := p.Exited(); !exited {
		t.Errorf("process %d still running after Close", p.Pid())
	}
	if err := syscall.Kill(p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d still exists after Close: kill 0: %v", p.Pid(), err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab directory %s still exists after Close (stat: %v)", dir, err)
	}
	if _, err := a.Exec(ctx, "true"); err == nil {
		t.Errorf("Exec in a deleted namespace succeeded")
	}
}

func TestStopKillsAProcessThatIgnoresSIGTERM(t *testing.T) {
	lab := netns.NewLab(t)
	n, err := lab.AddNode("stubborn")
	if err != nil {
		t.Fatal(err)
	}
	p, err := n.StartCommand(netns.Command{
		Path:        "sh",
		Args:        []string{"-c", `trap "" TERM; echo trapped; while :; do sleep 0.05; done`},
		StopTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the trap to be installed, or SIGTERM may beat it.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.LogTail(5), "trapped") {
		if time.Now().After(deadline) {
			t.Fatalf("shell never started; log:\n%s", p.LogTail(20))
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	exited, exit := p.Exited()
	if !exited {
		t.Fatal("process still running after Stop")
	}
	var ee *exec.ExitError
	if !errors.As(exit, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("exit = %v, want killed by SIGKILL", exit)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("Stop took %v, want the 300ms grace then a prompt kill", d)
	}
}

func TestNodeAndLinkValidation(t *testing.T) {
	lab := netns.NewLab(t)
	for _, name := range []string{"", "UPPER", "has space", "-lead", strings.Repeat("x", 21)} {
		if _, err := lab.AddNode(name); err == nil {
			t.Errorf("AddNode(%q) succeeded, want an error", name)
		}
	}
	a, err := lab.AddNode("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.AddNode("a"); err == nil {
		t.Error("second AddNode(\"a\") succeeded, want an error")
	}
	b, err := lab.AddNode("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Link(a, "a-very-long-ifname", b, "b0"); err == nil {
		t.Error("Link with a 18-byte interface name succeeded, want an error")
	}
	if err := a.AddAddr("nosuchif", netip.MustParsePrefix("10.9.9.1/24")); err == nil {
		t.Error("AddAddr on a missing interface succeeded, want an error")
	}
}
