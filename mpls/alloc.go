package mpls

// The control plane's side of labels: BGP needs a label to advertise with
// each VPN route (RFC 4364 section 4.3.2), either one per VRF (the egress PE
// pops it and looks the packet up in the VRF) or one per prefix (it pops
// and forwards straight to the CE). This file hands those labels out of a
// configured range and remembers what each one is bound to, so the FIB can
// install the matching pop route.

import (
	"fmt"
	"net/netip"
	"sync"
)

// Binding is what an allocated label stands for: a whole VRF, or one
// prefix in a VRF. VRF names are opaque; the empty name is a name like any
// other (a caller may use it for the global table).
type Binding struct {
	VRF    string
	Prefix netip.Prefix // the zero Prefix for a per-VRF label
}

// IsPerVRF reports whether b binds a whole VRF rather than one prefix.
func (b Binding) IsPerVRF() bool { return !b.Prefix.IsValid() }

// String returns `vrf "blue"` or `vrf "blue" prefix 10.1.0.0/16`.
func (b Binding) String() string {
	if b.IsPerVRF() {
		return fmt.Sprintf("vrf %q", b.VRF)
	}
	return fmt.Sprintf("vrf %q prefix %s", b.VRF, b.Prefix)
}

// ExhaustedError reports that every label of an allocator's range is
// bound. It unwraps to ErrExhausted.
type ExhaustedError struct {
	Range Range
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("mpls: label range %s exhausted: all %d labels in use", e.Range, e.Range.Len())
}

// Unwrap returns ErrExhausted.
func (e *ExhaustedError) Unwrap() error { return ErrExhausted }

// Allocator hands out labels from one Range, one per Binding.
//
// Allocation is idempotent: asking again for the same VRF or the same
// (VRF, prefix) returns the same label until it is released, so BGP can
// re-advertise a route without churning its label.
//
// Reuse policy: labels never used before are handed out first, in
// increasing order; only when the range has been walked once are released
// labels reused, oldest release first (FIFO). A label just released may
// still sit in neighbours' BGP tables and LFIBs while the withdrawal
// propagates; handing it at once to another VRF would, in that window,
// deliver one customer's traffic into another's VRF. FIFO reuse puts the
// longest possible time between release and reuse within the range.
// Lowest-first reuse would be tidier to read and the worst choice for
// exactly that reason.
//
// An Allocator is safe for concurrent use; every method holds its lock
// for O(1) work. The zero Allocator is not usable: call NewAllocator.
type Allocator struct {
	r Range // immutable after NewAllocator

	state struct {
		sync.Mutex
		next    Label   // lowest never-allocated label; r.Last+1 once all used
		free    []Label // released labels, oldest first
		byKey   map[Binding]Label
		byLabel map[Label]Binding
	}
}

// NewAllocator returns an allocator for the labels of r, which must pass
// r.Validate (in particular, it cannot include the reserved labels 0-15).
func NewAllocator(r Range) (*Allocator, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	a := &Allocator{r: r}
	a.state.next = r.First
	a.state.byKey = make(map[Binding]Label)
	a.state.byLabel = make(map[Label]Binding)
	return a, nil
}

// Range returns the range a allocates from.
func (a *Allocator) Range() Range { return a.r }

// ForVRF returns the per-VRF label of vrf, allocating one if vrf has none.
// It fails with an *ExhaustedError when the range is full.
func (a *Allocator) ForVRF(vrf string) (Label, error) {
	return a.allocate(Binding{VRF: vrf})
}

// ForPrefix returns the label of prefix p in vrf, allocating one if it has
// none. p is masked first (p.Masked()), so 10.1.2.3/16 and 10.1.0.0/16
// name the same route and share a label. It fails with ErrInvalidPrefix
// (wrapped) for the zero Prefix and an *ExhaustedError when the range is
// full.
func (a *Allocator) ForPrefix(vrf string, p netip.Prefix) (Label, error) {
	if !p.IsValid() {
		return 0, fmt.Errorf("mpls: label for prefix in vrf %q: %w", vrf, ErrInvalidPrefix)
	}
	return a.allocate(Binding{VRF: vrf, Prefix: p.Masked()})
}

func (a *Allocator) allocate(b Binding) (Label, error) {
	a.state.Lock()
	defer a.state.Unlock()
	if l, ok := a.state.byKey[b]; ok {
		return l, nil
	}
	var l Label
	switch {
	case a.state.next <= a.r.Last:
		l = a.state.next
		a.state.next++
	case len(a.state.free) > 0:
		l = a.state.free[0]
		// Slicing off the head and appending at the tail keeps memory
		// proportional to the queue: append reallocates when the
		// capacity runs out and the dead head is collected.
		a.state.free = a.state.free[1:]
	default:
		return 0, &ExhaustedError{Range: a.r}
	}
	a.state.byKey[b] = l
	a.state.byLabel[l] = b
	return l, nil
}

// Release unbinds l and queues it for reuse (see Allocator for the order).
// It fails with ErrNotAllocated (wrapped, naming l) if l is not currently
// bound, which also catches a double release.
func (a *Allocator) Release(l Label) error {
	a.state.Lock()
	defer a.state.Unlock()
	b, ok := a.state.byLabel[l]
	if !ok {
		return fmt.Errorf("mpls: release label %d: %w", l, ErrNotAllocated)
	}
	delete(a.state.byLabel, l)
	delete(a.state.byKey, b)
	a.state.free = append(a.state.free, l)
	return nil
}

// Lookup returns what l is bound to, and whether it is bound at all. The
// FIB uses it to turn an incoming label into a VRF (and prefix).
func (a *Allocator) Lookup(l Label) (Binding, bool) {
	a.state.Lock()
	defer a.state.Unlock()
	b, ok := a.state.byLabel[l]
	return b, ok
}

// InUse returns the number of labels currently bound.
func (a *Allocator) InUse() int {
	a.state.Lock()
	defer a.state.Unlock()
	return len(a.state.byLabel)
}
