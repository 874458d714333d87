package main

import (
	"context"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// settleWindow and settleTimeout bound the wait for "idle": the RSS must
// hold within 1% for settleWindow while the runtime holds little free
// heap, and the wait gives up (keeping the last reading, and saying so)
// after settleTimeout, which is longer than the runtime's forced
// collection period (2 minutes).
const (
	settleWindow  = 8 * time.Second
	settleTimeout = 150 * time.Second
	settleEvery   = time.Second
)

// heldFreeQuiet is how much free heap, not yet returned to the kernel,
// a settled daemon may still hold: the larger of 4 MB and a tenth of its
// heap spans. An RSS can hold still for a long time with the bring-up's
// garbage in it, when the daemon's trimmer (cmd/internal/memtrim) ran
// during the bring-up and not after it; such a reading is not idle.
func heldFreeQuiet(m memClasses) bool {
	return m.HeapFree <= max(4<<20, m.HeapUsed/10)
}

// settledStatus reads /proc and the daemon's /metrics every settleEvery
// until the RSS has stayed within 1% for window with little free heap
// held, or until timeout (settled false). Nothing is forced from outside:
// the daemon frees what it frees on its own; a scrape a second allocates
// far less than the trimmer's quiet rate.
func settledStatus(ctx context.Context, pid int, pe *netns.Node, window, timeout time.Duration) (rss int64, threads int, settled bool, err error) {
	read := func() (int64, int, bool, error) {
		rss, threads, err := procStatus(pid)
		if err != nil {
			return 0, 0, false, err
		}
		m, err := goMemClasses(ctx, pe)
		return rss, threads, err == nil && heldFreeQuiet(m), nil
	}
	return settle(ctx, read, window, timeout, settleEvery, realClock{})
}

// clock is time for settle: the wall clock, or a test's.
type clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// settle is settledStatus over any reader, for the tests: quiet says the
// reading may count towards the window.
func settle(ctx context.Context, read func() (rss int64, threads int, quiet bool, err error), window, timeout, every time.Duration, clk clock) (rss int64, threads int, settled bool, err error) {
	deadline := clk.Now().Add(timeout)
	var base int64
	var since time.Time
	for {
		var quiet bool
		if rss, threads, quiet, err = read(); err != nil {
			return 0, 0, false, err
		}
		now := clk.Now()
		if d := rss - base; !quiet || base == 0 || d*100 > base || -d*100 > base {
			base, since = rss, now // moved, or garbage held: a new window starts here
			if !quiet {
				base = 0
			}
		} else if now.Sub(since) >= window {
			return rss, threads, true, nil
		}
		if now.After(deadline) {
			return rss, threads, false, nil
		}
		if err := clk.Sleep(ctx, every); err != nil {
			return rss, threads, false, err
		}
	}
}
