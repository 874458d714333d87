package interop_test

// Fault: the core link goes down and up again within the BGP hold time,
// in the E2E lab with IKE-keyed SAs (e2e_ike_test.go):
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
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

func TestFaultCoreLinkFlapWithinHoldTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	// The IKE lab's configuration with lifetimes far beyond the test, so
	// that any change of SA is one the fault forced.
	longLived := func(cfg string) string {
		return strings.Replace(cfg, "child-lifetime: {soft: 3s, hard: 20s, soft-bytes: 1000000, hard-bytes: 10000000000}\n      ike-lifetime: {soft: 12s, hard: 60s}",
			"child-lifetime: {soft: 10m, hard: 20m}\n      ike-lifetime: {soft: 30m, hard: 60m}", 1)
	}
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		writePSKFile(t, pe1, e2eIKEPSK)
		writePSKFile(t, pe2, e2eIKEPSK)
		return longLived(fmt.Sprintf(e2eIKEConfig, "192.168.0.1", "192.168.0.2", 1, "ce1", "ce2", "pe2", true)),
			longLived(fmt.Sprintf(e2eIKEConfig, "192.168.0.2", "192.168.0.1", 2, "ce3", "ce4", "pe1", false))
	})
	red1, pe1node := e.ce["ce-red-1"], e.pe1.node
	waitPing(t, ctx, red1, "10.2.0.2")
	must(t, ping(red1, "10.2.0.2", 3))

	sas1, sas2 := e.pe1.saSet(t, ctx), e.pe2.saSet(t, ctx)
	if len(sas1) == 0 || len(sas2) == 0 {
		t.Fatalf("no SAs before the fault: pe1 %v pe2 %v", sas1, sas2)
	}
	sess1, sess2, since := e.pe1.sessions(t, ctx), e.pe2.sessions(t, ctx), time.Now()

	const outage = 3 * time.Second
	// Bound on the return of traffic once the link is up again: the
	// neighbor tables refill at the first packet, ESP needs nothing new.
	const resume = 2 * time.Second
	p := startPing(red1, "10.2.0.2", 120, 100*time.Millisecond) // 12 s at 10/s
	time.Sleep(3 * time.Second)
	down := p.at()
	mustExec(t, pe1node, "ip", "link", "set", "core", "down")
	time.Sleep(outage)
	mustExec(t, pe1node, "ip", "link", "set", "core", "up")
	up := p.at()
	lost := p.lost(t)
	// An echo sent up to 1 s (its reply timeout) before the link went
	// down may be lost with it.
	checkLostWithin(t, "ping red1 -> red2 across the link flap", lost, down-time.Second, up+resume)
	if len(lost) == 0 {
		t.Errorf("no echo lost while the core link was down for %v: the fault did not happen", outage)
	}

	e.pe1.checkNoFlap(t, ctx, sess1, since)
	e.pe2.checkNoFlap(t, ctx, sess2, since)
	if got := e.pe1.saSet(t, ctx); !slices.Equal(got, sas1) {
		t.Errorf("pe1 SAs changed across the link flap:\nbefore %v\nafter  %v", sas1, got)
	}
	if got := e.pe2.saSet(t, ctx); !slices.Equal(got, sas2) {
		t.Errorf("pe2 SAs changed across the link flap:\nbefore %v\nafter  %v", sas2, got)
	}
	if t.Failed() {
		t.Logf("pe1 log:\n%s", e.pe1.proc.LogTail(40))
	}
}
