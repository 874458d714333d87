package main

import (
	"context"
	"time"
)

// settleWindow and settleTimeout bound the wait for "idle": the RSS must
// hold within 1% for settleWindow, and the wait gives up (keeping the last
// reading) after settleTimeout. The window is longer than the daemon's
// trimmer needs to see a quiet second and return the bring-up's garbage
// to the kernel (cmd/internal/memtrim samples every second), so a settled
// reading is one taken after that trim, as a deployed PE would be.
const (
	settleWindow  = 8 * time.Second
	settleTimeout = 90 * time.Second
	settleEvery   = 500 * time.Millisecond
)

// settledStatus reads procStatus every settleEvery until the RSS has
// stayed within 1% of the window's first reading for window, or until
// timeout. It reads /proc only, never the daemon's API or /metrics, so the
// wait itself allocates nothing in the daemon and cannot keep its trimmer
// from seeing it quiet. Nothing is forced from outside: the daemon frees
// what it frees on its own.
func settledStatus(ctx context.Context, pid int, window, timeout time.Duration) (rss int64, threads int, err error) {
	return settle(ctx, func() (int64, int, error) { return procStatus(pid) }, window, timeout, settleEvery)
}

// settle is settledStatus over any reader, for the tests.
func settle(ctx context.Context, read func() (int64, int, error), window, timeout, every time.Duration) (rss int64, threads int, err error) {
	deadline := time.Now().Add(timeout)
	var base int64
	var since time.Time
	for {
		if rss, threads, err = read(); err != nil {
			return 0, 0, err
		}
		now := time.Now()
		if d := rss - base; base == 0 || d*100 > base || -d*100 > base {
			base, since = rss, now // moved: a new window starts here
		} else if now.Sub(since) >= window {
			return rss, threads, nil
		}
		if now.After(deadline) {
			return rss, threads, nil
		}
		select {
		case <-ctx.Done():
			return rss, threads, ctx.Err()
		case <-time.After(every):
		}
	}
}
