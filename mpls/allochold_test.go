package mpls

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// testClock is a settable clock for hold-down tests.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newHeldAllocator(t *testing.T, first, last Label, hold time.Duration, c *testClock) *Allocator {
	t.Helper()
	a, err := NewAllocatorWith(Range{first, last}, AllocatorOptions{HoldDown: hold, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// must fails the test on an allocation error: must(t)(a.ForVRF("red")).
func must(t *testing.T) func(Label, error) Label {
	return func(l Label, err error) Label {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
}

// A released label goes to no other binding during its hold-down, even
// when the range is otherwise full, and to the next one after it.
func TestAllocatorHoldDown(t *testing.T) {
	c := &testClock{t: time.Unix(1_700_000_000, 0)}
	a := newHeldAllocator(t, 16, 17, time.Minute, c)
	red := must(t)(a.ForVRF("red"))
	must(t)(a.ForVRF("blue"))
	if err := a.Release(red); err != nil {
		t.Fatal(err)
	}
	_, err := a.ForVRF("green")
	var ee *ExhaustedError
	if !errors.As(err, &ee) || ee.Held != 1 {
		t.Fatalf("ForVRF(green) during red's hold-down = %v, want *ExhaustedError with 1 held", err)
	}
	if want := "mpls: label range 16-17 exhausted: all 2 labels in use, 1 of them in hold-down"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if _, ok := a.Lookup(red); ok {
		t.Errorf("Lookup(%v) during hold-down: bound, want unbound", red)
	}
	c.advance(time.Minute - time.Second)
	if _, err := a.ForVRF("green"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("ForVRF(green) a second before the hold-down ends = %v, want ErrExhausted", err)
	}
	c.advance(time.Second)
	if l := must(t)(a.ForVRF("green")); l != red {
		t.Errorf("ForVRF(green) after the hold-down = %v, want red's old %v", l, red)
	}
}

// The former binding gets its label back during the hold-down (a flapping
// prefix keeps its label), and also after it if nobody took it.
func TestAllocatorReclaim(t *testing.T) {
	c := &testClock{t: time.Unix(1_700_000_000, 0)}
	a := newHeldAllocator(t, 16, 99, time.Minute, c)
	p := netip.MustParsePrefix("10.1.0.0/24")
	l := must(t)(a.ForPrefix("red", p))
	must(t)(a.ForVRF("blue"))
	if err := a.Release(l); err != nil {
		t.Fatal(err)
	}
	if got := must(t)(a.ForVRF("green")); got == l {
		t.Fatalf("green got held label %v", l)
	}
	if got := must(t)(a.ForPrefix("red", p)); got != l {
		t.Errorf("red %v back during hold-down: %v, want %v", p, got, l)
	}
	if err := a.Release(l); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Hour)
	if got := must(t)(a.ForPrefix("red", p)); got != l {
		t.Errorf("red %v back after hold-down: %v, want %v", p, got, l)
	}
	// The stale queue entries of the two releases must not hand l out.
	for i := range 10 {
		if got := must(t)(a.ForVRF(fmt.Sprint("v", i))); got == l {
			t.Fatalf("v%d got %v, bound to red %v", i, l, p)
		}
	}
}

// State and Restore: a new allocator gives each binding its old label,
// whatever order they ask in, keeps released labels held until their saved
// end, and hands out fresh labels above the old frontier.
func TestAllocatorStateRoundTrip(t *testing.T) {
	c := &testClock{t: time.Unix(1_700_000_000, 0)}
	a := newHeldAllocator(t, 16, 99, time.Minute, c)
	p1, p2 := netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("2001:db8::/64")
	want := map[Binding]Label{}
	for _, b := range []Binding{{VRF: "red"}, {VRF: "blue"}, {VRF: "green", Prefix: p1}, {VRF: "green", Prefix: p2}, {VRF: "gone"}} {
		want[b] = must(t)(a.allocate(b))
	}
	goneLabel := want[Binding{VRF: "gone"}]
	if err := a.Release(goneLabel); err != nil {
		t.Fatal(err)
	}
	delete(want, Binding{VRF: "gone"})
	st := a.State()
	if len(st.Bound) != 4 || len(st.Held) != 1 || st.Next != 21 {
		t.Fatalf("State = %+v, want 4 bound, 1 held, next 21", st)
	}

	c.advance(30 * time.Second) // a restart
	b := newHeldAllocator(t, 16, 99, time.Minute, c)
	if out := b.Restore(st); len(out) != 0 {
		t.Fatalf("Restore into the same range dropped %v", out)
	}
	if got := must(t)(b.ForVRF("new")); got != 21 {
		t.Errorf("first new binding after restore got %v, want 21 (above the old frontier)", got)
	}
	for _, bd := range []Binding{{VRF: "green", Prefix: p2}, {VRF: "blue"}, {VRF: "green", Prefix: p1}, {VRF: "red"}} {
		if got := must(t)(b.allocate(bd)); got != want[bd] {
			t.Errorf("%v after restore: %v, want %v", bd, got, want[bd])
		}
	}
	// gone's label stays held until its saved end, 30 s from now.
	fill := func(n int) (got []Label) {
		for i := range n {
			l, err := b.ForVRF(fmt.Sprint("fill", len(got), i, c.t.Unix()))
			if err != nil {
				return got
			}
			got = append(got, l)
		}
		return got
	}
	for _, l := range fill(200) {
		if l == goneLabel {
			t.Fatalf("gone's label %v handed out during its restored hold-down", l)
		}
	}
	c.advance(30 * time.Second)
	if got := fill(1); len(got) != 1 || got[0] != goneLabel {
		t.Errorf("after the hold-down the full range gives %v, want [%v]", got, goneLabel)
	}
}

// Bindings restored but not asked for again stay held for the hold-down
// from the restart: remote PEs may still hold them.
func TestAllocatorRestoreHoldsUnclaimed(t *testing.T) {
	c := &testClock{t: time.Unix(1_700_000_000, 0)}
	st := &AllocatorState{Range: Range{16, 17}, Next: 18,
		Bound: []BoundLabel{{16, Binding{VRF: "red"}}, {17, Binding{VRF: "blue"}}}}
	a := newHeldAllocator(t, 16, 17, time.Minute, c)
	a.Restore(st)
	if l := must(t)(a.ForVRF("red")); l != 16 {
		t.Fatalf("red = %v, want 16", l)
	}
	if _, err := a.ForVRF("green"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("green got blue's restored label during its hold-down: %v", err)
	}
	c.advance(time.Minute)
	if l := must(t)(a.ForVRF("green")); l != 17 {
		t.Errorf("green after the hold-down = %v, want 17", l)
	}
}

// A range change: labels outside the new range are returned and their
// bindings get new labels; those inside are kept.
func TestAllocatorRestoreRangeChange(t *testing.T) {
	c := &testClock{t: time.Unix(1_700_000_000, 0)}
	st := &AllocatorState{Range: Range{100, 199}, Next: 103, Bound: []BoundLabel{
		{100, Binding{VRF: "red"}}, {101, Binding{VRF: "blue"}}, {150, Binding{VRF: "green"}}}}
	a := newHeldAllocator(t, 150, 299, time.Minute, c)
	out := a.Restore(st)
	if fmt.Sprint(out) != fmt.Sprint([]BoundLabel{{100, Binding{VRF: "red"}}, {101, Binding{VRF: "blue"}}}) {
		t.Errorf("Restore returned %v, want red's 100 and blue's 101", out)
	}
	if l := must(t)(a.ForVRF("green")); l != 150 {
		t.Errorf("green = %v, want its old 150", l)
	}
	if l := must(t)(a.ForVRF("red")); l != 151 {
		t.Errorf("red = %v, want 151, the first free label of the new range", l)
	}
}

// Restore with the same range re-queues the labels released before the
// save whose hold-down had ended: they are free, after fresh labels.
func TestAllocatorRestoreFreeBelowFrontier(t *testing.T) {
	c := &testClock{t: time.Unix(1_700_000_000, 0)}
	st := &AllocatorState{Range: Range{16, 19}, Next: 20, Bound: []BoundLabel{{17, Binding{VRF: "red"}}}}
	a := newHeldAllocator(t, 16, 19, time.Minute, c)
	a.Restore(st)
	got := []Label{must(t)(a.ForVRF("a")), must(t)(a.ForVRF("b")), must(t)(a.ForVRF("c"))}
	if fmt.Sprint(got) != "[16 18 19]" {
		t.Errorf("free labels after restore: %v, want [16 18 19]", got)
	}
	if _, err := a.ForVRF("d"); !errors.Is(err, ErrExhausted) {
		t.Errorf("red's held 17 handed out: %v", err)
	}
}
