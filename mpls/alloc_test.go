package mpls

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

func newTestAllocator(t *testing.T, first, last Label) *Allocator {
	t.Helper()
	a, err := NewAllocator(Range{first, last})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNewAllocatorRejectsBadRange(t *testing.T) {
	for _, r := range []Range{{}, {0, 100}, {100, 50}, {16, MaxLabel + 1}} {
		a, err := NewAllocator(r)
		if a != nil || !errors.Is(err, ErrInvalidRange) {
			t.Errorf("NewAllocator(%v) = %v, %v; want nil, ErrInvalidRange", r, a, err)
		}
	}
	a := newTestAllocator(t, 16, MaxLabel)
	if a.Range() != (Range{16, MaxLabel}) || a.InUse() != 0 {
		t.Errorf("new allocator: Range %v, InUse %d", a.Range(), a.InUse())
	}
}

func TestAllocatorIdempotent(t *testing.T) {
	a := newTestAllocator(t, 1000, 1999)
	blue, err := a.ForVRF("blue")
	if err != nil || blue != 1000 {
		t.Fatalf("ForVRF(blue) = %v, %v; want 1000", blue, err)
	}
	if again, _ := a.ForVRF("blue"); again != blue {
		t.Errorf("second ForVRF(blue) = %v, want %v", again, blue)
	}
	red, _ := a.ForVRF("red")
	p := netip.MustParsePrefix("10.1.0.0/16")
	bp, err := a.ForPrefix("blue", p)
	if err != nil {
		t.Fatal(err)
	}
	// Same route with host bits set: same label.
	if again, _ := a.ForPrefix("blue", netip.MustParsePrefix("10.1.2.3/16")); again != bp {
		t.Errorf("ForPrefix(10.1.2.3/16) = %v, want %v as for 10.1.0.0/16", again, bp)
	}
	rp, _ := a.ForPrefix("red", p)
	v6, _ := a.ForPrefix("blue", netip.MustParsePrefix("2001:db8::/32"))
	global, _ := a.ForVRF("")
	seen := map[Label]bool{}
	for _, l := range []Label{blue, red, bp, rp, v6, global} {
		if seen[l] {
			t.Errorf("label %v handed out twice in %v", l, []Label{blue, red, bp, rp, v6, global})
		}
		seen[l] = true
	}
	if a.InUse() != 6 {
		t.Errorf("InUse() = %d, want 6", a.InUse())
	}

	for l, want := range map[Label]Binding{
		blue:   {VRF: "blue"},
		bp:     {VRF: "blue", Prefix: p},
		rp:     {VRF: "red", Prefix: p},
		global: {VRF: ""},
	} {
		got, ok := a.Lookup(l)
		if !ok || got != want {
			t.Errorf("Lookup(%v) = %v, %v; want %v", l, got, ok, want)
		}
	}
	if b, ok := a.Lookup(1999); ok {
		t.Errorf("Lookup of unallocated label = %v", b)
	}
}

func TestAllocatorInvalidPrefix(t *testing.T) {
	a := newTestAllocator(t, 16, 20)
	_, err := a.ForPrefix("blue", netip.Prefix{})
	if !errors.Is(err, ErrInvalidPrefix) || err.Error() != `mpls: label for prefix in vrf "blue": mpls: invalid prefix` {
		t.Errorf("ForPrefix(zero) = %v", err)
	}
	if a.InUse() != 0 {
		t.Error("failed ForPrefix consumed a label")
	}
}

func TestAllocatorExhaustion(t *testing.T) {
	a := newTestAllocator(t, 16, 19)
	for i := range 4 {
		if _, err := a.ForVRF(fmt.Sprint("vrf", i)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := a.ForVRF("one-too-many")
	var ee *ExhaustedError
	if !errors.As(err, &ee) || ee.Range != (Range{16, 19}) || !errors.Is(err, ErrExhausted) {
		t.Fatalf("ForVRF on full range = %v, want *ExhaustedError{16-19}", err)
	}
	if want := "mpls: label range 16-19 exhausted: all 4 labels in use"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	if _, err := a.ForPrefix("x", netip.MustParsePrefix("192.0.2.0/24")); !errors.Is(err, ErrExhausted) {
		t.Errorf("ForPrefix on full range = %v", err)
	}
	// Existing bindings still answer: idempotence needs no free label.
	if l, err := a.ForVRF("vrf2"); err != nil || l != 18 {
		t.Errorf("ForVRF(vrf2) on full range = %v, %v; want 18", l, err)
	}
	if err := a.Release(17); err != nil {
		t.Fatal(err)
	}
	if l, err := a.ForVRF("one-too-many"); err != nil || l != 17 {
		t.Errorf("after Release(17): ForVRF = %v, %v; want 17", l, err)
	}
}

func TestAllocatorReuseOrder(t *testing.T) {
	a := newTestAllocator(t, 16, 21)
	alloc := func(vrf string) Label {
		t.Helper()
		l, err := a.ForVRF(vrf)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, vrf := range []string{"a", "b", "c"} { // 16, 17, 18
		alloc(vrf)
	}
	if err := a.Release(17); err != nil {
		t.Fatal(err)
	}
	if err := a.Release(16); err != nil {
		t.Fatal(err)
	}
	// Fresh labels first: 17 and 16 are not reused while 19-21 are unused.
	var got []Label
	for _, vrf := range []string{"d", "e", "f", "g", "h"} {
		got = append(got, alloc(vrf))
	}
	// Then released labels, oldest release first: 17 before 16.
	want := []Label{19, 20, 21, 17, 16}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("allocation order %v, want %v", got, want)
	}
	// Range full. Release 20 then 18: queue [20 18]. Take 20 and release
	// it again: it goes to the back, queue [18 20].
	for _, l := range []Label{20, 18} {
		if err := a.Release(l); err != nil {
			t.Fatal(err)
		}
	}
	if l := alloc("x"); l != 20 {
		t.Fatalf("ForVRF(x) = %v, want 20", l)
	}
	if err := a.Release(20); err != nil {
		t.Fatal(err)
	}
	if got := []Label{alloc("y"), alloc("z")}; got[0] != 18 || got[1] != 20 {
		t.Errorf("after re-release: got %v, want [18 20]", got)
	}
}

func TestAllocatorReleaseErrors(t *testing.T) {
	a := newTestAllocator(t, 100, 199)
	l, _ := a.ForVRF("blue")
	if err := a.Release(l); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		l    Label
		want string
	}{
		{l, "mpls: release label 100: mpls: label not allocated"}, // double release
		{150, "mpls: release label 150: mpls: label not allocated"},
		{3, "mpls: release label 3: mpls: label not allocated"},
		{MaxLabel, "mpls: release label 1048575: mpls: label not allocated"},
	} {
		err := a.Release(tt.l)
		if !errors.Is(err, ErrNotAllocated) || err.Error() != tt.want {
			t.Errorf("Release(%v) = %v, want %q", tt.l, err, tt.want)
		}
	}
	if _, ok := a.Lookup(l); ok || a.InUse() != 0 {
		t.Errorf("released label still bound: InUse %d", a.InUse())
	}
	// The binding is gone, but its former label is remembered: asking
	// again gets it back, since no other binding has it.
	if l2, _ := a.ForVRF("blue"); l2 != 100 {
		t.Errorf("ForVRF(blue) after release = %v, want its former 100", l2)
	}
}

func TestBindingString(t *testing.T) {
	for _, tt := range []struct {
		b    Binding
		want string
	}{
		{Binding{VRF: "blue"}, `vrf "blue"`},
		{Binding{VRF: "blue", Prefix: netip.MustParsePrefix("10.1.0.0/16")}, `vrf "blue" prefix 10.1.0.0/16`},
	} {
		if got := tt.b.String(); got != tt.want || tt.b.IsPerVRF() != !tt.b.Prefix.IsValid() {
			t.Errorf("%#v.String() = %q, want %q", tt.b, got, tt.want)
		}
	}
}

// TestAllocatorConcurrent hammers one allocator from many goroutines. Run
// with -race. Every goroutine asks for the same shared VRF (all must get
// one label) and for its own prefixes (no label may be handed out twice),
// releasing half of them as it goes, in a range too small to finish
// without reusing released labels.
func TestAllocatorConcurrent(t *testing.T) {
	const workers, perWorker = 16, 200
	// Room for the labels kept at the end, the shared VRF label and one in
	// flight per worker, and no more: later allocations must reuse.
	a := newTestAllocator(t, 16, 16+workers*perWorker/2+workers)

	var mu sync.Mutex
	owner := map[Label]string{} // label -> key currently holding it
	shared := make([]Label, workers)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s, err := a.ForVRF("shared")
			if err != nil {
				errs <- err
				return
			}
			shared[w] = s
			for i := range perWorker {
				key := fmt.Sprintf("w%d/%d", w, i)
				p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(w), byte(i), 0}), 24)
				l, err := a.ForPrefix("vrf", p)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, ok := owner[l]; ok {
					mu.Unlock()
					errs <- fmt.Errorf("label %v given to %s while held by %s", l, key, prev)
					return
				}
				owner[l] = key
				mu.Unlock()
				if i%2 == 0 {
					mu.Lock()
					delete(owner, l) // before Release: another worker may get it next
					mu.Unlock()
					if err := a.Release(l); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w, s := range shared {
		if s != shared[0] {
			t.Errorf("worker %d got shared VRF label %v, worker 0 got %v", w, s, shared[0])
		}
	}
	if want := 1 + workers*perWorker/2; a.InUse() != want || len(owner)+1 != want {
		t.Errorf("InUse() = %d, owners %d; want %d", a.InUse(), len(owner)+1, want)
	}
}
