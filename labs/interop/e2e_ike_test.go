package interop_test

// The E2E lab with the PE-to-PE SAs keyed by IKEv2 between the two
// peregrined (no static keys): pe1 initiates, pe2 answers. Child SAs live
// a few seconds, so they are rekeyed many times while a CE pings the
// other side every 50 ms: the make-before-break path of the daemon and the
// userspace dataplane, checked by the ping losing nothing. A TCP transfer
// then crosses the 1 MB soft-bytes limit, which the daemon enforces from
// the dataplane's per-SA byte counters.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
)

func TestE2EIKE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		return pelab.IKEConfigs(t, pe1, pe2)
	})
	red1, red2 := e.CE["ce-red-1"], e.CE["ce-red-2"]

	t.Run("ping both ways in both VRFs", func(t *testing.T) {
		pelab.PingAcross(t, ctx, e.CE, 3)
	})

	t.Run("continuous ping across child and IKE rekeys loses nothing", func(t *testing.T) {
		before := pelab.CountRekeys(e.PE1.Proc.LogTail(100000))
		const count = 500 // 25 s at 50 ms
		pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
		defer pcancel()
		out, err := red1.Exec(pctx, "ping", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "1", "10.2.0.2")
		summary := out
		if i := strings.Index(string(out), "---"); i >= 0 {
			summary = out[i:]
		}
		t.Logf("ping: %s", strings.ReplaceAll(string(summary), "\n", " | "))
		if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d packets transmitted, %d received", count, count)) {
			t.Errorf("ping lost packets across rekeys: %v\n%s", err, summary)
		}
		after := pelab.CountRekeys(e.PE1.Proc.LogTail(100000))
		child, ikeUp := after.Child-before.Child, after.IKE-before.IKE
		t.Logf("during the ping pe1 logged %d child rekeys and %d new IKE SAs (rekeys)", child, ikeUp)
		if child < 5 || ikeUp < 1 {
			t.Errorf("only %d child rekeys and %d IKE SAs during 25 s with 3 s soft child and 12 s soft IKE lifetimes", child, ikeUp)
		}
	})

	t.Run("TCP rekeys the child at soft-bytes", func(t *testing.T) {
		if n := tcp(t, red1, red2, "10.2.0.2"); n < 2e6 {
			t.Fatalf("red1 -> red2: only %v bytes, below two soft-bytes limits", n)
		}
		time.Sleep(1500 * time.Millisecond) // the byte check runs every second
		n := 0
		for _, p := range []*pe{e.PE1, e.PE2} {
			n += strings.Count(p.Proc.LogTail(100000), "child sa reached a soft limit (bytes or sequence numbers), rekeying")
		}
		t.Logf("byte-lifetime rekeys logged by the two PEs: %d", n)
		if n == 0 {
			t.Error("no PE rekeyed at soft-bytes")
		}
		must(t, pelab.Ping(red1, "10.2.0.2", 3))
	})

	t.Run("nothing in clear on the core", func(t *testing.T) {
		checkCoreCapture(t, e.Capture)
	})

	t.Run("PSK never logged", func(t *testing.T) {
		for _, p := range []*pe{e.PE1, e.PE2} {
			if log := p.Proc.LogTail(1000000); strings.Contains(log, pelab.IKEPSK) {
				t.Errorf("%s logged the PSK", p.Name)
			}
		}
	})
}
