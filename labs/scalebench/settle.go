package main

import (
	"context"
	"time"

	"github.com/peregrine-net/peregrine/internal/procstat"
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

// settledStatus reads /proc every settleEvery until the RSS has stayed
// within 1% for window, then checks the daemon's /metrics once: with
// little free heap held it is settled, else the window starts again. It
// gives up at timeout (settled false). Nothing is forced from outside:
// the daemon frees what it frees on its own. /metrics is read once a
// window, not every second: a scrape's garbage a second grows an idle
// daemon's RSS by itself (the empty daemon's went from 25 to 43 MB in
// 150 s).
func settledStatus(ctx context.Context, pid int, pe *netns.Node, window, timeout time.Duration) (rss int64, threads int, settled bool, err error) {
	read := func() (int64, int, error) { return procstat.Status(pid) }
	quiet := func() bool {
		m, err := goMemClasses(ctx, pe)
		return err == nil && heldFreeQuiet(m)
	}
	return settle(ctx, read, quiet, window, timeout, settleEvery, realClock{})
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

// settle is settledStatus over any reader, for the tests: quiet is asked
// at the end of a still window.
func settle(ctx context.Context, read func() (rss int64, threads int, err error), quiet func() bool, window, timeout, every time.Duration, clk clock) (rss int64, threads int, settled bool, err error) {
	deadline := clk.Now().Add(timeout)
	var base int64
	var since time.Time
	for {
		if rss, threads, err = read(); err != nil {
			return 0, 0, false, err
		}
		now := clk.Now()
		if d := rss - base; base == 0 || d*100 > base || -d*100 > base {
			base, since = rss, now // moved: a new window starts here
		} else if now.Sub(since) >= window {
			if quiet() {
				return rss, threads, true, nil
			}
			base, since = rss, now // garbage held: wait for another window
		}
		if now.After(deadline) {
			return rss, threads, false, nil
		}
		if err := clk.Sleep(ctx, every); err != nil {
			return rss, threads, false, err
		}
	}
}
