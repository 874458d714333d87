package fib_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
)

// slowBackend's Apply number slowAt (from 0) takes long, as one that
// makes thousands of VRFs does; it records when each Apply starts and
// ends.
type slowBackend struct {
	slowAt int
	slow   time.Duration
	mu     sync.Mutex
	starts []time.Time
	ends   []time.Time
}

func (b *slowBackend) Apply(context.Context, *fib.State) error {
	b.mu.Lock()
	n := len(b.starts)
	b.starts = append(b.starts, time.Now())
	b.mu.Unlock()
	if n == b.slowAt {
		time.Sleep(b.slow)
	}
	b.mu.Lock()
	b.ends = append(b.ends, time.Now())
	b.mu.Unlock()
	return nil
}

func (*slowBackend) Close() error { return nil }

// waitApplies waits until b has ended n Applies.
func (b *slowBackend) waitApplies(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b.mu.Lock()
		got := len(b.ends)
		b.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Applies in 5 s, want %d", got, n)
		}
	}
}

// TestReconcilerGapIsBounded: after an Apply that took long, the next
// change is applied within MaxGap, not as long again: a reload that
// adds thousands of VRFs would hold every imported route back by as long
// (issue 23).
func TestReconcilerGapIsBounded(t *testing.T) {
	b := &slowBackend{slowAt: 1, slow: 600 * time.Millisecond}
	r := fib.NewReconciler(b, fib.Options{Logger: quietLogger(), MaxGap: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	defer r.Close()
	r.SetConfig(pe1Config())
	b.waitApplies(t, 1)
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: netip.MustParsePrefix("10.8.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(98)})
	time.Sleep(100 * time.Millisecond) // the slow Apply is under way
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: netip.MustParsePrefix("10.9.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(99)})
	// No Flush: a waiter is applied for at once, gap or not.
	b.waitApplies(t, 3)
	b.mu.Lock()
	defer b.mu.Unlock()
	if gap := b.starts[2].Sub(b.ends[1]); gap > 300*time.Millisecond {
		t.Errorf("the next Apply started %v after a 600 ms one ended, want within MaxGap (50 ms) and scheduling", gap)
	}
}

// TestReconcilerNoGapAfterFirstApply: the first Apply makes everything
// the backend holds, one-off work however long it takes, so the changes
// that came during it are applied right after it, not a MaxGap later
// (issue 23: a tenth of the bring-up of 2,000 VRFs).
func TestReconcilerNoGapAfterFirstApply(t *testing.T) {
	b := &slowBackend{slowAt: 0, slow: 600 * time.Millisecond}
	r := fib.NewReconciler(b, fib.Options{Logger: quietLogger()}) // MaxGap 1 s
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	defer r.Close()
	r.SetConfig(pe1Config())
	time.Sleep(100 * time.Millisecond) // the first Apply is under way
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: netip.MustParsePrefix("10.9.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(99)})
	b.waitApplies(t, 2)
	b.mu.Lock()
	defer b.mu.Unlock()
	if gap := b.starts[1].Sub(b.ends[0]); gap > 300*time.Millisecond {
		t.Errorf("the second Apply started %v after the 600 ms first one ended, want at once (Interval, 5 ms, and scheduling)", gap)
	}
}
