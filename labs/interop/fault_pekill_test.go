package interop_test

// Fault: pe1's peregrined is killed (-9) under traffic and started again on
// the same state directory, in the manual-key E2E lab (labs/internal/pelab), with
// BGP graceful restart on (the default for VPN families) and off:
//
//	ce-red-1 ─ce1┐ pe1 ══ core ══ pe2 ┌ce3─ ce-red-2   (pings ce-red-1
//	ce-blue-1 ─ce2┘ ✝ kill -9, start  └ce4─ ce-blue-2    at 10/s)
//
// With graceful restart pe2 keeps pe1's routes as stale while pe1 is down
// (its VRF tables do not change); without it pe2 withdraws them. Either
// way, once pe1 is back, traffic resumes within the bound below and pe2
// holds the same routes, labels included, as before the kill. The
// userspace dataplane runs in the daemon, so nothing crosses pe1 while it
// is down; this lab has no third site whose traffic could go on.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
)

// peRestartResume bounds how long after pe1 starts again ce-red-2's echoes
// are answered: the BGP session, End-of-RIB and the FIB's first apply.
const peRestartResume = 10 * time.Second

func TestFaultPEKilledUnderTraffic(t *testing.T) {
	for _, gr := range []bool{true, false} {
		t.Run(fmt.Sprintf("graceful-restart=%v", gr), func(t *testing.T) { testPEKilled(t, gr) })
	}
}

func testPEKilled(t *testing.T, gracefulRestart bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	grConfig := func(cfg string) string {
		return strings.Replace(cfg, "hold-time: 9s}", fmt.Sprintf("hold-time: 9s, graceful-restart: {enabled: %v}}", gracefulRestart), 1)
	}
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		cfg1, cfg2 := pelab.ManualKeyConfigs(t, pe1, pe2)
		return grConfig(cfg1), grConfig(cfg2)
	})
	red2 := e.CE["ce-red-2"]
	pelab.WaitPing(t, ctx, red2, "10.1.0.2")
	before := map[string][]string{"red": e.PE2.VRFTable(t, ctx, "red"), "blue": e.PE2.VRFTable(t, ctx, "blue")}

	p := pelab.StartPing(red2, "10.1.0.2", 250, 100*time.Millisecond) // 25 s at 10/s
	time.Sleep(2 * time.Second)
	killedAt := p.At()
	must(t, syscall.Kill(e.PE1.Proc.Pid(), syscall.SIGKILL))
	<-e.PE1.Proc.Done()
	killed := time.Now()

	// pe1 down for 5 s: a withdrawal follows the session's end at once
	// (the kernel closes the dead daemon's TCP connection).
	withdrawn := false
	for time.Since(killed) < 5*time.Second {
		for vrf, want := range before {
			if got := e.PE2.VRFTable(t, ctx, vrf); !slices.Equal(got, want) {
				if gracefulRestart {
					t.Fatalf("pe2 vrf %s changed %v after pe1 died, with graceful restart:\nbefore %v\nafter  %v",
						vrf, time.Since(killed), want, got)
				}
				withdrawn = true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !gracefulRestart && !withdrawn {
		t.Errorf("pe2 kept pe1's routes for 5 s without graceful restart: %v", before)
	}

	e.PE1 = startPE(t, e.PE1.Node, e.Cfg1) // same node: same state directory
	restartedAt := p.At()
	lost := p.Lost(t)
	pelab.CheckLostWithin(t, "ping red2 -> red1 across pe1's restart", lost, killedAt-time.Second, restartedAt+peRestartResume)
	if len(lost) == 0 {
		t.Fatalf("no echo lost while pe1 was down: the fault did not happen")
	}
	t.Logf("pe1 down %v; traffic back %v after its start", restartedAt-killedAt, lost[len(lost)-1]+p.Interval()-restartedAt)
	for vrf, want := range before {
		e.PE2.WaitTable(t, ctx, vrf, want)
	}
}
