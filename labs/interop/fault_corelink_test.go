package interop_test

// Fault: the core link goes down and up again within the BGP hold time,
// in the E2E lab with IKE-keyed SAs (labs/internal/pelab):
//
//	ce-red-1 ──ce1┐                          ┌ce3── ce-red-2
//	              pe1 ══ core ══╳══ core ══ pe2
//	ce-blue-1 ─ce2┘  (down for 3 s, hold 9 s) └ce4── ce-blue-2
//
// The iBGP session (hold time 9 s) stays established without a flap, the
// IKE and child SAs stay the same (long lifetimes, so no rekey is due; DPD
// every 2 s must not tear them down), and CE traffic resumes soon after
// the link is back.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
)

func TestFaultCoreLinkFlapWithinHoldTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	// The IKE lab's configuration with lifetimes far beyond the test, so
	// that any change of SA is one the fault forced.
	longLived := func(cfg string) string {
		return strings.Replace(cfg, pelab.IKELifetimes,
			"child-lifetime: {soft: 10m, hard: 20m}\n      ike-lifetime: {soft: 30m, hard: 60m}", 1)
	}
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		cfg1, cfg2 := pelab.IKEConfigs(t, pe1, pe2)
		return longLived(cfg1), longLived(cfg2)
	})
	red1, pe1node := e.CE["ce-red-1"], e.PE1.Node
	pelab.WaitPing(t, ctx, red1, "10.2.0.2")
	must(t, pelab.Ping(red1, "10.2.0.2", 3))

	sas1, sas2 := e.PE1.SASet(t, ctx), e.PE2.SASet(t, ctx)
	if len(sas1) == 0 || len(sas2) == 0 {
		t.Fatalf("no SAs before the fault: pe1 %v pe2 %v", sas1, sas2)
	}
	sess1, sess2, since := e.PE1.Sessions(t, ctx), e.PE2.Sessions(t, ctx), time.Now()

	const outage = 3 * time.Second
	// Bound on the return of traffic once the link is up again: the
	// neighbor tables refill at the first packet, ESP needs nothing new.
	const resume = 2 * time.Second
	p := pelab.StartPing(red1, "10.2.0.2", 120, 100*time.Millisecond) // 12 s at 10/s
	time.Sleep(3 * time.Second)
	down := p.At()
	pelab.MustExec(t, pe1node, "ip", "link", "set", "core", "down")
	time.Sleep(outage)
	pelab.MustExec(t, pe1node, "ip", "link", "set", "core", "up")
	up := p.At()
	lost := p.Lost(t)
	// An echo sent up to 1 s (its reply timeout) before the link went
	// down may be lost with it.
	pelab.CheckLostWithin(t, "ping red1 -> red2 across the link flap", lost, down-time.Second, up+resume)
	if len(lost) == 0 {
		t.Errorf("no echo lost while the core link was down for %v: the fault did not happen", outage)
	}

	e.PE1.CheckNoFlap(t, ctx, sess1, since)
	e.PE2.CheckNoFlap(t, ctx, sess2, since)
	if got := e.PE1.SASet(t, ctx); !slices.Equal(got, sas1) {
		t.Errorf("pe1 SAs changed across the link flap:\nbefore %v\nafter  %v", sas1, got)
	}
	if got := e.PE2.SASet(t, ctx); !slices.Equal(got, sas2) {
		t.Errorf("pe2 SAs changed across the link flap:\nbefore %v\nafter  %v", sas2, got)
	}
	if t.Failed() {
		t.Logf("pe1 log:\n%s", e.PE1.Proc.LogTail(40))
	}
}
