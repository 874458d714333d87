package replay

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// barrier lets n goroutines wait for each other, round after round.
type barrier struct {
	n     int
	mu    sync.Mutex
	count int
	gen   chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, gen: make(chan struct{})} }

func (b *barrier) wait() {
	b.mu.Lock()
	ch := b.gen
	b.count++
	if b.count == b.n {
		b.count = 0
		b.gen = make(chan struct{})
		close(ch)
	}
	b.mu.Unlock()
	<-ch
}

// TestConcurrentExactlyOnce races goroutines over the same numbers, in
// chunks that all of them start together (a barrier), each in its own
// shuffled order, so that in-order moves of the top race with late numbers
// and with other numbers of the same slot; each checks before recording,
// as Open does. Every number must be recorded exactly once, and Accepted
// must count exactly the records and their bytes.
func TestConcurrentExactlyOnce(t *testing.T) {
	const n, workers, span = 100_000, 6, 200
	var w Window
	if err := w.Init(MaxSize); err != nil {
		t.Fatal(err)
	}
	accepted := make([]atomic.Int32, n+1)
	var bytesIn atomic.Uint64
	var wg sync.WaitGroup
	bar := newBarrier(workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			chunk := make([]uint64, span)
			for first := uint64(1); first <= n; first += span {
				for i := range chunk {
					chunk[i] = first + uint64(i)
				}
				r.Shuffle(len(chunk), func(a, b int) { chunk[a], chunk[b] = chunk[b], chunk[a] })
				bar.wait()
				for _, s := range chunk {
					if w.Check(s) != nil {
						continue
					}
					switch err := w.UpdateCounted(s, s%1500); {
					case err == nil:
						accepted[s].Add(1)
						bytesIn.Add(s % 1500)
					case !errors.Is(err, ErrReplayed) && !errors.Is(err, ErrTooOld):
						t.Errorf("UpdateCounted(%d): %v", s, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for s := 1; s <= n; s++ {
		if got := accepted[s].Load(); got != 1 {
			t.Fatalf("seq %d accepted %d times", s, got)
		}
	}
	if p, b := w.Accepted(); p != n || b != bytesIn.Load() {
		t.Fatalf("Accepted() = %d packets, %d bytes; want %d, %d", p, b, n, bytesIn.Load())
	}
	if w.Top() != n {
		t.Fatalf("Top = %d, want %d", w.Top(), n)
	}
}

// TestConcurrentJumpsAtMostOnce races replays of recent numbers with far
// jumps of the top (whole rings, and the 2^24 numbers after which a slot's
// tag repeats, and across 2^32), while Init never runs: no number may be
// recorded twice, and Accepted must count exactly the records.
func TestConcurrentJumpsAtMostOnce(t *testing.T) {
	const workers, rounds = 6, 300
	var w Window
	if err := w.Init(MinSize); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uint64]int{}
	var wg sync.WaitGroup
	bar := newBarrier(workers)
	// Every worker walks the same numbers: rounds of 300 in order, each
	// round starting at a jump, so jumps and late numbers race.
	base := func(round int) uint64 {
		jumps := []uint64{ringBlocks * blockBits, 1 << 24, 1<<32 - 100, 3 * 1 << 24, 77}
		b := uint64(1)
		for i := range round {
			b += jumps[i%len(jumps)] + 300
		}
		return b
	}
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for round := range rounds {
				b := base(round)
				bar.wait()
				for range 300 {
					s := b + uint64(r.IntN(300))
					if err := w.UpdateCounted(s, 1); err == nil {
						mu.Lock()
						seen[s]++
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	var total uint64
	for s, k := range seen {
		if k != 1 {
			t.Fatalf("seq %d accepted %d times", s, k)
		}
		total++
	}
	if p, b := w.Accepted(); p != total || b != total {
		t.Fatalf("Accepted() = %d, %d; want %d recorded", p, b, total)
	}
}

// TestTagPeriodJump jumps by exactly the distance after which a slot's tag
// repeats (2^24 numbers), and by a ring, sequentially: the window must
// still agree with the model, so stale bits never survive a recycle.
func TestTagPeriodJump(t *testing.T) {
	const period = (tagMask + 1) * ringBlocks * blockBits
	for _, jump := range []uint64{period, 2 * period, period - blockBits, period + 1, ringBlocks * blockBits} {
		var w Window
		m := newModel(DefaultSize)
		for s := uint64(1); s <= 3000; s += 2 {
			mustAgree(t, &w, m, s)
		}
		for s := uint64(3000) + jump - 2000; s <= 3000+jump; s++ {
			if got, want := w.Check(s), m.check(s); got != want {
				t.Fatalf("jump %d: Check(%d) = %v, model %v", jump, s, got, want)
			}
			mustAgree(t, &w, m, s)
		}
	}
}

// TestESNTopAcross2To32 walks the top across 2^32 in order with late and
// duplicate numbers mixed in, against the model: the ring works on the
// full 64-bit number, so the 32-bit wrap is an ordinary block boundary.
func TestESNTopAcross2To32(t *testing.T) {
	for _, size := range []int{MinSize, DefaultSize, MaxSize} {
		var w Window
		if err := w.Init(size); err != nil {
			t.Fatal(err)
		}
		m := newModel(size)
		r := rand.New(rand.NewPCG(3, uint64(size)))
		for s := uint64(1<<32 - 6000); s < 1<<32+6000; s++ {
			mustAgree(t, &w, m, s)
			late := s - uint64(r.IntN(size+40))
			if got, want := w.Check(late), m.check(late); got != want {
				t.Fatalf("size %d top %#x: Check(%#x) = %v, model %v", size, s, late, got, want)
			}
			mustAgree(t, &w, m, late)
			if w.Top() != m.top {
				t.Fatalf("Top = %#x, model %#x", w.Top(), m.top)
			}
		}
	}
}

// TestAcceptedBytes checks the tally at the slot's limits: 32 numbers of
// one block at the largest n a slot holds, and an n above it.
func TestAcceptedBytes(t *testing.T) {
	var w Window
	var want uint64
	for s := uint64(32); s < 64; s++ {
		if err := w.UpdateCounted(s, maxSlotBytes); err != nil {
			t.Fatal(err)
		}
		want += maxSlotBytes
	}
	if err := w.UpdateCounted(64, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := w.UpdateCounted(40, 1<<20); err != ErrReplayed {
		t.Fatalf("replayed 40 with a large n: %v", err)
	}
	want += 1 << 20
	if p, b := w.Accepted(); p != 33 || b != want {
		t.Fatalf("Accepted() = %d, %d; want 33, %d", p, b, want)
	}
	// A jump across the whole ring retires every slot and keeps the tally.
	if err := w.UpdateCounted(1<<40, 5); err != nil {
		t.Fatal(err)
	}
	if p, b := w.Accepted(); p != 34 || b != want+5 {
		t.Fatalf("after a jump: Accepted() = %d, %d; want 34, %d", p, b, want+5)
	}
}

// TestReplayRacingJumps replays a number that was just recorded while
// another goroutine moves the window by a ring plus one, so that the
// replayed number's slot is recycled for a number one bit apart. A replayer
// that judged the recycled slot by a stale top would find the bit clear
// and record the number a second time; no replay may ever be accepted.
func TestReplayRacingJumps(t *testing.T) {
	const jumps, replayers = 20000, 3
	var w Window
	var last atomic.Uint64 // the number the jumper recorded last
	var done atomic.Bool
	var wg sync.WaitGroup
	var twice atomic.Uint64
	for range replayers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				if s := last.Load(); s != 0 && w.UpdateCounted(s, 1) == nil {
					twice.Store(s)
				}
			}
		}()
	}
	s := uint64(1)
	for range jumps {
		if err := w.UpdateCounted(s, 1); err != nil {
			t.Fatalf("jumper: UpdateCounted(%d): %v", s, err)
		}
		last.Store(s)
		s += ringBlocks*blockBits + 1
	}
	done.Store(true)
	wg.Wait()
	if s := twice.Load(); s != 0 {
		t.Fatalf("seq %d accepted twice", s)
	}
	if p, _ := w.Accepted(); p != jumps {
		t.Fatalf("Accepted() = %d, want %d", p, jumps)
	}
}
