package main

import (
	"context"
	"testing"
	"time"
)

// fakeClock moves only when settle sleeps.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

// readings replays rss values, the last one forever.
func readings(rss ...int64) func() (int64, int, error) {
	i := 0
	return func() (int64, int, error) {
		v := rss[min(i, len(rss)-1)]
		i++
		return v, 7, nil
	}
}

func alwaysQuiet() bool { return true }

// TestSettleWaitsForTheDrop: a reading that holds for less than the
// window (the heap before the daemon's trim) is not the settled one; the
// level after the drop, once it holds for the whole window, is.
func TestSettleWaitsForTheDrop(t *testing.T) {
	const mb = 1 << 20
	r := readings(300*mb, 300*mb, 300*mb, 200*mb, 201*mb, 200*mb)
	rss, threads, settled, err := settle(context.Background(), r, alwaysQuiet, 4*time.Second, time.Minute, time.Second, &fakeClock{})
	if err != nil || rss > 201*mb || threads != 7 || !settled {
		t.Fatalf("settle = %d MB, %d threads, settled %v, %v; want 200-201 MB, 7, settled", rss/mb, threads, settled, err)
	}
}

// TestSettleGivesUpAtTimeout: an RSS that never holds still is read at
// the timeout, not waited for forever.
func TestSettleGivesUpAtTimeout(t *testing.T) {
	v := int64(100 << 20)
	grow := func() (int64, int, error) { v += v / 10; return v, 1, nil }
	clk := &fakeClock{}
	start := clk.Now()
	if _, _, settled, err := settle(context.Background(), grow, alwaysQuiet, time.Hour, 20*time.Second, time.Second, clk); err != nil || settled {
		t.Fatalf("settled %v, %v; want unsettled at the timeout", settled, err)
	}
	if d := clk.Now().Sub(start); d > 22*time.Second {
		t.Fatalf("settle took %v past a 20s timeout", d)
	}
}

// TestSettleWaitsForHeldHeap: a still RSS with the bring-up's garbage held
// (the trimmer ran during the bring-up, not after it) is not settled; it
// is once the runtime has let the garbage go.
func TestSettleWaitsForHeldHeap(t *testing.T) {
	const mb = 1 << 20
	clk := &fakeClock{}
	start := clk.Now()
	r := func() (int64, int, error) {
		if clk.Now().Sub(start) < 30*time.Second {
			return 300 * mb, 7, nil
		}
		return 200 * mb, 7, nil
	}
	asked := 0
	quiet := func() bool { asked++; return clk.Now().Sub(start) >= 30*time.Second }
	rss, _, settled, err := settle(context.Background(), r, quiet, 4*time.Second, time.Minute, time.Second, clk)
	if err != nil || rss != 200*mb || !settled {
		t.Fatalf("settle = %d MB, settled %v, %v; want 200 MB once the held heap is gone", rss/mb, settled, err)
	}
	if asked > 10 {
		t.Errorf("/metrics read %d times in 34 s, want once a window", asked)
	}
}

func TestHeldFreeQuiet(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		m    memClasses
		want bool
	}{
		{memClasses{HeapUsed: 170 * mb, HeapFree: 0}, true},
		{memClasses{HeapUsed: 170 * mb, HeapFree: 16 * mb}, true},
		{memClasses{HeapUsed: 159 * mb, HeapFree: 40 * mb}, false},
		{memClasses{HeapUsed: 20 * mb, HeapFree: 4 * mb}, true},
	} {
		if got := heldFreeQuiet(c.m); got != c.want {
			t.Errorf("heldFreeQuiet(%+v) = %v, want %v", c.m, got, c.want)
		}
	}
}

// TestPollInterval: waitFor's checks are 50 ms apart at first, then a
// fiftieth of the wait so far, so a long bring-up is not slowed by them.
func TestPollInterval(t *testing.T) {
	for _, c := range []struct{ elapsed, want time.Duration }{
		{0, 50 * time.Millisecond},
		{time.Second, 50 * time.Millisecond},
		{5 * time.Second, 100 * time.Millisecond},
		{10 * time.Second, 200 * time.Millisecond},
	} {
		if got := pollInterval(c.elapsed); got != c.want {
			t.Errorf("pollInterval(%v) = %v, want %v", c.elapsed, got, c.want)
		}
	}
}
