package seqspace

import (
	"sync"
	"testing"
)

func newCounter(last, limit uint64) *Counter {
	c := new(Counter)
	c.Init(last, limit)
	return c
}

// TestNextStopsAtLimit: Next counts up from Init's last and never passes
// the limit, even at the top of the uint64 range (ESN), where an atomic
// add would wrap to 0.
func TestNextStopsAtLimit(t *testing.T) {
	for _, limit := range []uint64{1<<32 - 1, 1<<64 - 1} {
		c := newCounter(limit-2, limit)
		for want := limit - 1; want <= limit && want != 0; want++ {
			if got, ok := c.Next(); !ok || got != want {
				t.Fatalf("limit %d: Next = %d, %v; want %d", limit, got, ok, want)
			}
		}
		for range 3 {
			if got, ok := c.Next(); ok {
				t.Fatalf("limit %d: Next past the limit = %d", limit, got)
			}
		}
		if c.Last() != limit {
			t.Errorf("limit %d: Last = %d", limit, c.Last())
		}
	}
	var zero Counter
	if got, ok := zero.Next(); ok {
		t.Errorf("zero Counter handed out %d", got)
	}
}

// TestReserveStopsAtCeiling: a reserved counter continues after last,
// asks for more from refillAt on and at every refusal, hands out nothing
// above the ceiling and goes on once Extend raises it; Extend never
// lowers it.
func TestReserveStopsAtCeiling(t *testing.T) {
	c := newCounter(0, 1<<32-1)
	asked := 0
	if err := c.Reserve(1000, 1010, 1005, func() { asked++ }); err != nil {
		t.Fatal(err)
	}
	if !c.Reserved() {
		t.Fatal("Reserved() false after Reserve")
	}
	for want := uint64(1001); want <= 1010; want++ {
		if got, ok := c.Next(); !ok || got != want {
			t.Fatalf("Next = %d, %v; want %d", got, ok, want)
		}
	}
	if asked != 6 { // 1005..1010
		t.Errorf("refill asked %d times, want 6", asked)
	}
	if got, ok := c.Next(); ok {
		t.Fatalf("Next above the ceiling = %d", got)
	}
	if asked != 7 {
		t.Errorf("refill not asked at the refusal (%d)", asked)
	}
	if ceil, stalled, ok := c.Reservation(); !ok || ceil != 1010 || stalled != 1 {
		t.Errorf("Reservation() = %d, %d, %v", ceil, stalled, ok)
	}
	if c.Last() != 1010 {
		t.Errorf("Last %d after a refusal", c.Last())
	}
	c.Extend(1005, 1000)
	if ceil, _, _ := c.Reservation(); ceil != 1010 {
		t.Errorf("Extend lowered the ceiling to %d", ceil)
	}
	c.Extend(2000, 1500)
	if got, ok := c.Next(); !ok || got != 1011 {
		t.Errorf("after Extend: Next = %d, %v", got, ok)
	}
}

// TestReserveChecks: Reserve refuses what would hand out a used number or
// pass the limit, and leaves no reservation when it does.
func TestReserveChecks(t *testing.T) {
	c := newCounter(50, 1<<32-1)
	f := func() {}
	for _, tc := range []struct {
		name                    string
		last, ceiling, refillAt uint64
		refill                  func()
	}{
		{"no refill", 60, 70, 65, nil},
		{"ceiling below last", 60, 59, 59, f},
		{"below the counter's last", 49, 70, 65, f},
		{"beyond the sequence space", 1 << 32, 1 << 33, 1 << 32, f},
	} {
		if err := c.Reserve(tc.last, tc.ceiling, tc.refillAt, tc.refill); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, _, ok := c.Reservation(); ok || c.Reserved() {
		t.Error("a refused Reserve left a reservation")
	}
	if c.Last() != 50 {
		t.Errorf("a refused Reserve moved Last to %d", c.Last())
	}
	c.Extend(100, 90) // without a reservation: nothing
	if _, _, ok := c.Reservation(); ok {
		t.Error("Extend made a reservation")
	}
}

// TestNextConcurrent: callers racing on one counter never get a number
// twice and never pass the ceiling or the limit, and together use every
// number up to the lower of the two.
func TestNextConcurrent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reserve bool
		limit   uint64
	}{
		{"limit", false, 3000},
		{"ceiling", true, 1<<32 - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const bound = 3000
			c := newCounter(0, tc.limit)
			if tc.reserve {
				if err := c.Reserve(0, bound, bound, func() {}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			seen := map[uint64]bool{}
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 1000 {
						seq, ok := c.Next()
						if !ok {
							continue
						}
						mu.Lock()
						if seen[seq] || seq > bound || seq == 0 {
							t.Errorf("sequence %d twice, zero or above %d", seq, bound)
						}
						seen[seq] = true
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(seen) != bound {
				t.Errorf("%d numbers used, want %d", len(seen), bound)
			}
		})
	}
}

// TestNextAllocs: Next, reserved or not, allocates nothing (it is on the
// packet path); refill is the caller's.
func TestNextAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	plain := newCounter(0, 1<<64-1)
	reserved := newCounter(0, 1<<64-1)
	kick := make(chan struct{}, 1)
	if err := reserved.Reserve(0, 1<<40, 10, func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Counter{"plain": plain, "reserved": reserved} {
		if n := testing.AllocsPerRun(200, func() { _, _ = c.Next() }); n != 0 {
			t.Errorf("%s: Next made %v allocations", name, n)
		}
	}
}
