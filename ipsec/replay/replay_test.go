package replay

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

// model is the trivially correct reference: a set of every accepted number.
type model struct {
	size uint64
	top  uint64
	seen map[uint64]bool
}

func newModel(size int) *model {
	return &model{size: uint64(size), seen: map[uint64]bool{}}
}

func (m *model) check(seq uint64) error {
	switch {
	case seq == 0:
		return ErrTooOld
	case seq > m.top:
		return nil
	case m.top-seq >= m.size:
		return ErrTooOld
	case m.seen[seq]:
		return ErrReplayed
	}
	return nil
}

func (m *model) update(seq uint64) error {
	if err := m.check(seq); err != nil {
		return err
	}
	m.seen[seq] = true
	if seq > m.top {
		m.top = seq
		if len(m.seen) > int(4*m.size) {
			for s := range m.seen {
				if m.top-s >= m.size {
					delete(m.seen, s)
				}
			}
		}
	}
	return nil
}

// step is one numbered case: Update(seq) must return want.
type step struct {
	seq  uint64
	want error
}

func runSteps(t *testing.T, w *Window, steps []step) {
	t.Helper()
	for i, s := range steps {
		if err := w.Check(s.seq); !errors.Is(err, s.want) {
			t.Fatalf("case %d: Check(%d) = %v, want %v", i+1, s.seq, err, s.want)
		}
		if err := w.Update(s.seq); !errors.Is(err, s.want) {
			t.Fatalf("case %d: Update(%d) = %v, want %v", i+1, s.seq, err, s.want)
		}
	}
}

// TestNumberedCases walks one window of 64 through the classic cases; the
// comment on each line says what it exercises.
func TestNumberedCases(t *testing.T) {
	var w Window
	if err := w.Init(64); err != nil {
		t.Fatal(err)
	}
	runSteps(t, &w, []step{
		{0, ErrTooOld},            // 1: zero is never sent
		{1, nil},                  // 2: first packet
		{1, ErrReplayed},          // 3: duplicate
		{2, nil},                  // 4: in order
		{3, nil},                  // 5: in order
		{5, nil},                  // 6: skips 4
		{4, nil},                  // 7: out of order, inside the window
		{4, ErrReplayed},          // 8: duplicate of a late packet
		{64, nil},                 // 9: top = 64, window 1..64
		{1, ErrReplayed},          // 10: bottom edge, already seen
		{65, nil},                 // 11: window 2..65: 1 falls out
		{1, ErrTooOld},            // 12: just below the window
		{2, ErrReplayed},          // 13: new bottom edge, seen
		{6, nil},                  // 14: never seen, inside
		{63, nil},                 // 15: never seen, inside
		{63, ErrReplayed},         // 16: duplicate
		{129, nil},                // 17: jump of 64: window 66..129
		{65, ErrTooOld},           // 18: old top now below the window
		{66, nil},                 // 19: bottom edge, never seen
		{66, ErrReplayed},         // 20: duplicate at the bottom edge
		{10_000, nil},             // 21: far jump: every block is stale
		{129, ErrTooOld},          // 22: far below
		{9_937, nil},              // 23: bottom edge of 9937..10000, stale bit cleared
		{9_936, ErrTooOld},        // 24: one below the bottom edge
		{9_999, nil},              // 25: inside, never seen
		{10_000, ErrReplayed},     // 26: the top itself
		{10_001, nil},             // 27: top + 1
		{1 << 40, nil},            // 28: ESN-sized jump
		{1<<40 - 63, nil},         // 29: bottom edge of the new window
		{1<<40 - 64, ErrTooOld},   // 30: just below
		{^uint64(0), nil},         // 31: the last 64-bit number
		{^uint64(0), ErrReplayed}, // 32: and its duplicate
	})
}

// TestStaleBitsCleared checks that a jump clears exactly the blocks whose
// bits belong to numbers that left the window, at every jump length across
// the ring size.
func TestStaleBitsCleared(t *testing.T) {
	for _, size := range []int{64, 100, 1024, 4096} {
		for jump := uint64(1); jump <= 2*ringBlocks*blockBits; jump += 37 {
			var w Window
			if err := w.Init(size); err != nil {
				t.Fatal(err)
			}
			m := newModel(size)
			// Fill the whole window, then jump and probe every number
			// of the new window and just below it.
			base := uint64(5000)
			for s := base - uint64(size) + 1; s <= base; s++ {
				mustAgree(t, &w, m, s)
			}
			mustAgree(t, &w, m, base+jump)
			for s := base + jump - uint64(size) - 2; s <= base+jump; s++ {
				if got, want := w.Check(s), m.check(s); !errors.Is(got, want) || (got == nil) != (want == nil) {
					t.Fatalf("size %d jump %d: Check(%d) = %v, model %v", size, jump, s, got, want)
				}
			}
		}
	}
}

func mustAgree(t *testing.T, w *Window, m *model, seq uint64) {
	t.Helper()
	got, want := w.Update(seq), m.update(seq)
	if got != want {
		t.Fatalf("size %d top %d: Update(%d) = %v, model %v", m.size, m.top, seq, got, want)
	}
}

func TestSizes(t *testing.T) {
	var zero Window
	if got := zero.Size(); got != DefaultSize {
		t.Errorf("zero Window size = %d, want %d", got, DefaultSize)
	}
	for _, size := range []int{-1, 1, 32, 63, 4097, 1 << 20} {
		var w Window
		if err := w.Init(size); err == nil {
			t.Errorf("Init(%d) succeeded, want an error", size)
		}
	}
	for _, size := range []int{0, 64, 65, 127, 128, 1000, 1024, 2048, 4095, 4096} {
		var w Window
		if err := w.Init(size); err != nil {
			t.Fatalf("Init(%d): %v", size, err)
		}
		want := size
		if want == 0 {
			want = DefaultSize
		}
		if w.Size() != want {
			t.Fatalf("Init(%d): Size = %d", size, w.Size())
		}
		// Exactly want numbers fit: top and top-want+1 are inside,
		// top-want is not.
		top := uint64(100_000)
		if err := w.Update(top); err != nil {
			t.Fatal(err)
		}
		if err := w.Check(top - uint64(want) + 1); err != nil {
			t.Errorf("size %d: bottom edge rejected: %v", want, err)
		}
		if err := w.Check(top - uint64(want)); !errors.Is(err, ErrTooOld) {
			t.Errorf("size %d: below the bottom edge = %v, want ErrTooOld", want, err)
		}
	}
}

func TestInitResets(t *testing.T) {
	var w Window
	for s := uint64(1); s < 100; s++ {
		if err := w.Update(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Init(128); err != nil {
		t.Fatal(err)
	}
	if w.Top() != 0 {
		t.Fatalf("Top after Init = %d", w.Top())
	}
	if err := w.Update(50); err != nil {
		t.Fatalf("Update(50) after Init: %v", err)
	}
}

// TestAgainstModel compares the window with the map model over random
// sequences shaped like real traffic: mostly increasing, with reordering,
// duplicates, stale packets and occasional big jumps.
func TestAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		size := MinSize + r.IntN(MaxSize-MinSize+1)
		var w Window
		if err := w.Init(size); err != nil {
			t.Fatal(err)
		}
		m := newModel(size)
		next := uint64(r.IntN(3))
		for i := 0; i < 3000; i++ {
			var seq uint64
			switch k := r.IntN(100); {
			case k < 60:
				next++
				seq = next
			case k < 80: // reordered, near or past the window edge
				seq = next - min(next, uint64(r.IntN(size+size/2+2)))
			case k < 90: // duplicate of something recent
				seq = next - min(next, uint64(r.IntN(8)))
			case k < 97:
				next += uint64(r.IntN(3 * ringBlocks * blockBits))
				seq = next
			default: // anywhere, then carry on from there
				seq = r.Uint64N(1 << 40)
				next = max(next, seq)
			}
			if got, want := w.Check(seq), m.check(seq); got != want {
				t.Fatalf("round %d step %d: Check(%d) = %v, model %v (top %d size %d)", round, i, seq, got, want, m.top, size)
			}
			mustAgree(t, &w, m, seq)
			if w.Top() != m.top {
				t.Fatalf("Top = %d, model %d", w.Top(), m.top)
			}
		}
	}
}

// TestConcurrentUpdate races goroutines over the same numbers: each number
// must be accepted exactly once.
func TestConcurrentUpdate(t *testing.T) {
	var w Window
	const n, workers = 5000, 4
	var accepted [n + 1]int32
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := uint64(1); s <= n; s++ {
				if w.Check(s) != nil {
					continue
				}
				if w.Update(s) == nil {
					mu.Lock()
					accepted[s]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for s := 1; s <= n; s++ {
		if accepted[s] != 1 {
			t.Fatalf("seq %d accepted %d times", s, accepted[s])
		}
	}
}

// TestUpdateCounted checks that the tally counts exactly the numbers
// UpdateCounted recorded, from concurrent callers, and survives Init.
func TestUpdateCounted(t *testing.T) {
	var w Window
	const n, workers = 3000, 4
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := uint64(1); s <= n; s++ {
				_ = w.UpdateCounted(s, s)
			}
		}()
	}
	wg.Wait()
	if p, b := w.Accepted(); p != n || b != n*(n+1)/2 {
		t.Fatalf("Accepted() = %d packets, %d bytes; want %d, %d", p, b, n, n*(n+1)/2)
	}
	if err := w.UpdateCounted(n, 7); err != ErrReplayed {
		t.Fatalf("replayed %d: %v", n, err)
	}
	if err := w.UpdateCounted(0, 7); err != ErrTooOld {
		t.Fatalf("0: %v", err)
	}
	_ = w.Init(0)
	if err := w.UpdateCounted(1, 10); err != nil {
		t.Fatal(err)
	}
	if p, b := w.Accepted(); p != n+1 || b != n*(n+1)/2+10 {
		t.Fatalf("after Init: %d packets, %d bytes", p, b)
	}
}

func BenchmarkCheckUpdate(b *testing.B) {
	var w Window
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s := uint64(i + 1)
		if w.Check(s) != nil || w.Update(s) != nil {
			b.Fatal("rejected in-order number")
		}
	}
}
