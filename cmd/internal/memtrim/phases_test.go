package memtrim

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// fakeHeap is a heap the test moves by hand: step feeds the Trimmer its
// samples, and a trim drops the objects to live, as FreeOSMemory would.
type fakeHeap struct {
	now   heapSample
	live  uint64
	trims int
	// gogc is what the Trimmer last set, and when, in trims so far.
	gogc, gogcAtTrim []int
}

const mb = 1 << 20

func newPhasedTrimmer(h *fakeHeap) *Trimmer {
	m := &Trimmer{log: slog.New(slog.NewTextHandler(io.Discard, nil)), every: 250 * time.Millisecond, window: 4,
		quiet: 1 * mb, busy: 16 * mb, minBurst: 32 * mb,
		gc: &gcPhases{idle: DefaultGCPercent, burst: BurstGCPercent, set: func(p int) int {
			h.gogc = append(h.gogc, p)
			return 0
		}},
		read: func() heapSample { return h.now },
		trim: func() {
			h.trims++
			h.now.objects = h.live
			h.gogcAtTrim = append(h.gogcAtTrim, h.gogc[len(h.gogc)-1])
		}}
	m.start()
	return m
}

// alloc advances the fake heap by one sample of b bytes allocated, of
// which keep stay live.
func (h *fakeHeap) alloc(m *Trimmer, b, keep uint64) {
	h.now.allocs += b
	h.now.objects += b
	h.live += keep
	m.step(h.now)
}

// TestTrimmerGCPhases: a burst raises GOGC from its first fast sample;
// a pause of one sample inside the burst neither ends it nor trims; the
// quiet after it sets the idle GOGC back before the trim, so the trim
// settles the heap at the idle GOGC.
func TestTrimmerGCPhases(t *testing.T) {
	h := &fakeHeap{}
	m := newPhasedTrimmer(h)
	for range 8 {
		h.alloc(m, 0, 0) // idle: nothing changes
	}
	if len(h.gogc) != 0 || h.trims != 0 {
		t.Fatalf("idle: GOGC set %v, %d trims; want none", h.gogc, h.trims)
	}
	h.alloc(m, 2*mb, 0) // 8 MiB/s: busier, not a burst
	if len(h.gogc) != 0 {
		t.Fatalf("8 MiB/s: GOGC set %v, want no change", h.gogc)
	}
	h.alloc(m, 50*mb, 5*mb) // 200 MiB/s
	if len(h.gogc) != 1 || h.gogc[0] != BurstGCPercent {
		t.Fatalf("burst: GOGC set %v, want [%d]", h.gogc, BurstGCPercent)
	}
	h.alloc(m, 50*mb, 5*mb)
	h.alloc(m, 0, 0) // one sample's pause
	h.alloc(m, 50*mb, 5*mb)
	if len(h.gogc) != 1 || h.trims != 0 {
		t.Fatalf("burst with a pause: GOGC set %v, %d trims; want [%d], none", h.gogc, h.trims, BurstGCPercent)
	}
	for range 4 {
		h.alloc(m, 0, 0)
	}
	if want := []int{BurstGCPercent, DefaultGCPercent}; len(h.gogc) != 2 || h.gogc[1] != DefaultGCPercent {
		t.Fatalf("quiet after the burst: GOGC set %v, want %v", h.gogc, want)
	}
	if h.trims != 1 || h.gogcAtTrim[0] != DefaultGCPercent {
		t.Fatalf("quiet after the burst: %d trims at GOGC %v, want 1 at %d", h.trims, h.gogcAtTrim, DefaultGCPercent)
	}
	for range 8 {
		h.alloc(m, 0, 0)
	}
	if len(h.gogc) != 2 || h.trims != 1 {
		t.Fatalf("idle after the trim: GOGC set %v, %d trims; want no more", h.gogc, h.trims)
	}
	h.alloc(m, 10*mb, 0) // a small burst: GOGC up, and back without a trim
	for range 4 {
		h.alloc(m, 0, 0)
	}
	if len(h.gogc) != 4 || h.gogc[2] != BurstGCPercent || h.gogc[3] != DefaultGCPercent || h.trims != 1 {
		t.Fatalf("small burst: GOGC set %v, %d trims; want ...%d %d, 1 trim", h.gogc, h.trims, BurstGCPercent, DefaultGCPercent)
	}
}

// TestNewOperatorGOGCWins: with GOGC in the environment the Trimmer
// still trims but leaves GOGC alone.
func TestNewOperatorGOGCWins(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if m := New(log, func(k string) (string, bool) { return "150", k == "GOGC" }); m.gc != nil {
		t.Errorf("GOGC=150 in the environment: the Trimmer switches GOGC by phase")
	}
	m := New(log, func(string) (string, bool) { return "", false })
	if m.gc == nil || m.gc.idle != DefaultGCPercent || m.gc.burst != BurstGCPercent {
		t.Errorf("no GOGC in the environment: phases %+v, want idle %d, burst %d", m.gc, DefaultGCPercent, BurstGCPercent)
	}
}
