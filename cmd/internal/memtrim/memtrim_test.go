package memtrim

import (
	"context"
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
	"time"
)

func TestTrimmerDue(t *testing.T) {
	m := &Trimmer{every: time.Second, window: 1, quiet: 1 << 20, minBurst: 32 << 20}
	const mb = 1 << 20
	mark := heapSample{allocs: 100 * mb, objects: 50 * mb}
	cases := []struct {
		name      string
		prev, now heapSample
		want      bool
	}{
		{"quiet after a burst", heapSample{allocs: 300 * mb}, heapSample{allocs: 300 * mb, objects: 80 * mb}, true},
		{"still allocating", heapSample{allocs: 290 * mb}, heapSample{allocs: 300 * mb, objects: 80 * mb}, false},
		{"burst below minBurst", heapSample{allocs: 120 * mb}, heapSample{allocs: 120 * mb, objects: 10 * mb}, false},
		{"burst below the heap", heapSample{allocs: 180 * mb}, heapSample{allocs: 180 * mb, objects: 90 * mb}, false},
		{"burst just the heap", heapSample{allocs: 190 * mb}, heapSample{allocs: 190 * mb, objects: 90 * mb}, true},
		{"trickle under quiet", heapSample{allocs: 300*mb - mb/2}, heapSample{allocs: 300 * mb, objects: 80 * mb}, true},
	}
	for _, c := range cases {
		if got := m.due(mark, c.prev, c.now, 1); got != c.want {
			t.Errorf("%s: due = %v, want %v", c.name, got, c.want)
		}
	}
}

// sink keeps the test's garbage from being optimised away.
var sink []byte

// TestTrimmerTrimsAfterBurst runs the trimmer on this process's own
// heap: a burst of garbage followed by quiet must bring one trim, and no
// further trim without a new burst.
func TestTrimmerTrimsAfterBurst(t *testing.T) {
	trims := make(chan struct{}, 10)
	m := &Trimmer{log: slog.New(slog.NewTextHandler(io.Discard, nil)), every: 50 * time.Millisecond, window: 4,
		quiet: 1 << 20, minBurst: 16 << 20, trim: func() { trims <- struct{}{} }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	time.Sleep(2 * m.every) // the trimmer takes its mark
	for range 64 {
		sink = make([]byte, 1<<20)
	}
	select {
	case <-trims:
	case <-time.After(10 * time.Second):
		t.Fatal("no trim after 64 MiB of garbage and quiet")
	}
	select {
	case <-trims:
		t.Fatal("a second trim without a new burst")
	case <-time.After(10 * m.every):
	}
}

func TestApplyGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ApplyGCPercent(func(string) (string, bool) { return "", false })
	if got := GCPercent(); got != DefaultGCPercent {
		t.Errorf("no GOGC in the environment: percent %d, want %d", got, DefaultGCPercent)
	}
	debug.SetGCPercent(77) // as the runtime would have from GOGC=77
	ApplyGCPercent(func(k string) (string, bool) { return "77", k == "GOGC" })
	if got := GCPercent(); got != 77 {
		t.Errorf("GOGC=77 in the environment: percent %d, want 77", got)
	}
}
