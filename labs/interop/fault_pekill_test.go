package interop_test

// Fault: pe1's peregrined is killed (-9) under traffic and started again on
// the same state directory, in the manual-key E2E lab (e2e_test.go), with
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
		cfg1, cfg2 := manualKeyConfigs(t, pe1, pe2)
		return grConfig(cfg1), grConfig(cfg2)
	})
	red2 := e.ce["ce-red-2"]
	waitPing(t, ctx, red2, "10.1.0.2")
	before := map[string][]string{"red": e.pe2.vrfTable(t, ctx, "red"), "blue": e.pe2.vrfTable(t, ctx, "blue")}

	p := startPing(red2, "10.1.0.2", 250, 100*time.Millisecond) // 25 s at 10/s
	time.Sleep(2 * time.Second)
	killedAt := p.at()
	must(t, syscall.Kill(e.pe1.proc.Pid(), syscall.SIGKILL))
	<-e.pe1.proc.Done()
	killed := time.Now()

	// pe1 down for 5 s: a withdrawal follows the session's end at once
	// (the kernel closes the dead daemon's TCP connection).
	withdrawn := false
	for time.Since(killed) < 5*time.Second {
		for vrf, want := range before {
			if got := e.pe2.vrfTable(t, ctx, vrf); !slices.Equal(got, want) {
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

	e.pe1 = startPE(t, e.pe1.node, e.cfg1) // same node: same state directory
	restartedAt := p.at()
	lost := p.lost(t)
	checkLostWithin(t, "ping red2 -> red1 across pe1's restart", lost, killedAt-time.Second, restartedAt+peRestartResume)
	if len(lost) == 0 {
		t.Fatalf("no echo lost while pe1 was down: the fault did not happen")
	}
	t.Logf("pe1 down %v; traffic back %v after its start", restartedAt-killedAt, lost[len(lost)-1]+p.interval-restartedAt)
	for vrf, want := range before {
		e.pe2.waitTable(t, ctx, vrf, want)
	}
}

// waitTable waits until vrf's table is want (vrfTable's lines).
func (p *pe) waitTable(t *testing.T, ctx context.Context, vrf string, want []string) {
	t.Helper()
	var got []string
	for ctx.Err() == nil {
		if got = p.vrfTable(t, ctx, vrf); slices.Equal(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s vrf %s:\ngot  %v\nwant %v", p.name, vrf, got, want)
}
