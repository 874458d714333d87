package main

import (
	"context"
	"testing"
	"time"
)

// readings replays rss values, the last one forever.
func readings(rss ...int64) func() (int64, int, error) {
	i := 0
	return func() (int64, int, error) {
		v := rss[min(i, len(rss)-1)]
		i++
		return v, 7, nil
	}
}

// TestSettleWaitsForTheDrop: a reading that holds for less than the
// window (the heap before the daemon's trim) is not the settled one; the
// level after the drop, once it holds for the whole window, is.
func TestSettleWaitsForTheDrop(t *testing.T) {
	const mb = 1 << 20
	r := readings(300*mb, 300*mb, 300*mb, 200*mb, 201*mb, 200*mb)
	rss, threads, err := settle(context.Background(), r, 4*time.Millisecond, time.Second, time.Millisecond)
	if err != nil || rss > 201*mb || threads != 7 {
		t.Fatalf("settle = %d MB, %d threads, %v; want 200-201 MB, 7", rss/mb, threads, err)
	}
}

// TestSettleGivesUpAtTimeout: an RSS that never holds still is read at
// the timeout, not waited for forever.
func TestSettleGivesUpAtTimeout(t *testing.T) {
	v := int64(100 << 20)
	grow := func() (int64, int, error) { v += v / 10; return v, 1, nil }
	start := time.Now()
	if _, _, err := settle(context.Background(), grow, time.Hour, 20*time.Millisecond, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("settle took %v past a 20ms timeout", d)
	}
}
