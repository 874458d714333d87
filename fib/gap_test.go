package fib_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
)

// slowFirstBackend's first Apply takes long, as one that makes thousands
// of VRFs does; it records when each Apply starts and ends.
type slowFirstBackend struct {
	first  time.Duration
	mu     sync.Mutex
	starts []time.Time
	ends   []time.Time
}

func (b *slowFirstBackend) Apply(context.Context, *fib.State) error {
	b.mu.Lock()
	n := len(b.starts)
	b.starts = append(b.starts, time.Now())
	b.mu.Unlock()
	if n == 0 {
		time.Sleep(b.first)
	}
	b.mu.Lock()
	b.ends = append(b.ends, time.Now())
	b.mu.Unlock()
	return nil
}

func (*slowFirstBackend) Close() error { return nil }

// TestReconcilerGapIsBounded: after an Apply that took long, the next
// change is applied within MaxGap, not as long again: the first Apply of
// a daemon with thousands of VRFs (9 s for 2,000 here) held back every
// imported route by as long (issue 23).
func TestReconcilerGapIsBounded(t *testing.T) {
	b := &slowFirstBackend{first: 600 * time.Millisecond}
	r := fib.NewReconciler(b, fib.Options{Logger: quietLogger(), MaxGap: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	defer r.Close()
	r.SetConfig(pe1Config())
	time.Sleep(100 * time.Millisecond) // the first Apply is under way
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: netip.MustParsePrefix("10.9.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(99)})
	// No Flush: a waiter is applied for at once, gap or not.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b.mu.Lock()
		n := len(b.ends)
		b.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Applies in 5 s, want 2", n)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if gap := b.starts[1].Sub(b.ends[0]); gap > 300*time.Millisecond {
		t.Errorf("the second Apply started %v after a 600 ms first one ended, want within MaxGap (50 ms) and scheduling", gap)
	}
}
