package mpls

// The control plane's side of labels: BGP needs a label to advertise with
// each VPN route (RFC 4364 section 4.3.2), either one per VRF (the egress PE
// pops it and looks the packet up in the VRF) or one per prefix (it pops
// and forwards straight to the CE). This file hands those labels out of a
// configured range and remembers what each one is bound to, so the FIB can
// install the matching pop route.
//
// A label that changes meaning is dangerous while a remote PE still holds
// a route carrying it: that PE would send one VRF's traffic under a label
// that now pops into another. So a released label is held down (see
// Allocator), and the allocator's state can be saved and restored
// (AllocatorState, persisted by package mpls/labelstore) so that a
// restarted PE gives every VRF and prefix the label it had.

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
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
// bound or held down. It unwraps to ErrExhausted.
type ExhaustedError struct {
	Range Range
	Held  int // labels in hold-down: free again once it ends
}

func (e *ExhaustedError) Error() string {
	if e.Held == 0 {
		return fmt.Sprintf("mpls: label range %s exhausted: all %d labels in use", e.Range, e.Range.Len())
	}
	return fmt.Sprintf("mpls: label range %s exhausted: all %d labels in use, %d of them in hold-down",
		e.Range, e.Range.Len(), e.Held)
}

// Unwrap returns ErrExhausted.
func (e *ExhaustedError) Unwrap() error { return ErrExhausted }

// AllocatorOptions adjust an Allocator; the zero value is the plain
// allocator NewAllocator returns.
type AllocatorOptions struct {
	// HoldDown is how long a released label stays out of reach of every
	// other binding. It should cover the time a remote PE may keep a
	// route carrying the label: the graceful-restart restart and stale
	// times, and the withdrawal's propagation.
	HoldDown time.Duration
	// Now is the clock; nil means time.Now. Hold-down ends are wall-clock
	// times because they are persisted across restarts.
	Now func() time.Time
}

// Allocator hands out labels from one Range, one per Binding.
//
// Allocation is idempotent: asking again for the same VRF or the same
// (VRF, prefix) returns the same label until it is released, so BGP can
// re-advertise a route without churning its label.
//
// Hold-down: a released label keeps its former binding for HoldDown.
// During that time no other binding gets it, but the former binding asking
// again gets it back (a prefix that flaps keeps its label; a restarted PE
// restores every binding as held, so each VRF and prefix that comes back
// gets its old label). After the hold-down the label is free, and its
// former binding may still reclaim it until another takes it.
//
// Reuse policy: labels never used before are handed out first, in
// increasing order; only when the range has been walked once are released
// labels reused, oldest release first (FIFO), and only once their
// hold-down has ended. A label just released may still sit in neighbours'
// BGP tables and LFIBs while the withdrawal propagates (or, during a
// graceful restart, for the restart and stale times); handing it to
// another VRF in that window would deliver one customer's traffic into
// another's VRF. FIFO reuse puts the longest possible time between release
// and reuse within the range. Lowest-first reuse would be tidier to read
// and the worst choice for exactly that reason.
//
// An Allocator is safe for concurrent use; every method but Restore and
// State holds its lock for O(1) amortized work. The zero Allocator is not
// usable: call NewAllocator.
type Allocator struct {
	r    Range // immutable after NewAllocator
	hold time.Duration
	now  func() time.Time

	state struct {
		sync.Mutex
		next    Label // lowest never-allocated label; r.Last+1 once all used
		byKey   map[Binding]Label
		byLabel map[Label]Binding
		// Released labels: held (and free) ones by label, with their
		// former binding; queue orders them by release, oldest first.
		// A queue entry whose seq no longer matches held's is stale (the
		// label was reclaimed since) and is skipped.
		held    map[Label]heldLabel
		heldBy  map[Binding]Label
		queue   []queued
		seq     uint64
		version uint64 // counts changes, for savers (Version)
	}
}

type heldLabel struct {
	b     Binding
	owned bool // b is meaningful: the former binding may reclaim it
	until time.Time
	seq   uint64
}

type queued struct {
	l   Label
	seq uint64
}

// NewAllocator returns an allocator for the labels of r, which must pass
// r.Validate (in particular, it cannot include the reserved labels 0-15),
// with no hold-down.
func NewAllocator(r Range) (*Allocator, error) {
	return NewAllocatorWith(r, AllocatorOptions{})
}

// NewAllocatorWith is NewAllocator with options.
func NewAllocatorWith(r Range, opts AllocatorOptions) (*Allocator, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	a := &Allocator{r: r, hold: opts.HoldDown, now: opts.Now}
	if a.now == nil {
		a.now = time.Now
	}
	a.state.next = r.First
	a.state.byKey = make(map[Binding]Label)
	a.state.byLabel = make(map[Label]Binding)
	a.state.held = make(map[Label]heldLabel)
	a.state.heldBy = make(map[Binding]Label)
	return a, nil
}

// Range returns the range a allocates from.
func (a *Allocator) Range() Range { return a.r }

// HoldDown returns how long a released label is held down.
func (a *Allocator) HoldDown() time.Duration { return a.hold }

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
	l, ok := a.state.heldBy[b]
	if ok {
		a.unhold(l)
	} else if l, ok = a.fresh(); !ok {
		if l, ok = a.expired(); !ok {
			return 0, &ExhaustedError{Range: a.r, Held: len(a.state.held)}
		}
	}
	a.state.byKey[b] = l
	a.state.byLabel[l] = b
	a.state.version++
	return l, nil
}

// fresh takes the lowest never-used label, skipping those a restore bound
// or held above the frontier (after a range change).
func (a *Allocator) fresh() (Label, bool) {
	for a.state.next <= a.r.Last {
		l := a.state.next
		a.state.next++
		if _, bound := a.state.byLabel[l]; bound {
			continue
		}
		if _, held := a.state.held[l]; held {
			continue
		}
		return l, true
	}
	return 0, false
}

// expired takes the oldest released label whose hold-down has ended.
func (a *Allocator) expired() (Label, bool) {
	now := a.now()
	for len(a.state.queue) > 0 {
		q := a.state.queue[0]
		h, ok := a.state.held[q.l]
		if !ok || h.seq != q.seq {
			a.state.queue = a.state.queue[1:] // stale: reclaimed since
			continue
		}
		if now.Before(h.until) {
			return 0, false // the oldest is still held, so are the rest
		}
		// Slicing off the head and appending at the tail keeps memory
		// proportional to the queue: append reallocates when the
		// capacity runs out and the dead head is collected.
		a.state.queue = a.state.queue[1:]
		a.unhold(q.l)
		return q.l, true
	}
	return 0, false
}

// unhold forgets that l is released.
func (a *Allocator) unhold(l Label) {
	if h, ok := a.state.held[l]; ok && h.owned && a.state.heldBy[h.b] == l {
		delete(a.state.heldBy, h.b)
	}
	delete(a.state.held, l)
}

// holdLabel puts l in hold-down until until, remembering b if owned.
func (a *Allocator) holdLabel(l Label, b Binding, owned bool, until time.Time) {
	a.state.seq++
	a.state.held[l] = heldLabel{b: b, owned: owned, until: until, seq: a.state.seq}
	if owned {
		a.state.heldBy[b] = l
	}
	a.state.queue = append(a.state.queue, queued{l: l, seq: a.state.seq})
	if len(a.state.queue) > 2*len(a.state.held)+64 {
		a.compact()
	}
}

// compact drops the queue's stale entries.
func (a *Allocator) compact() {
	q := a.state.queue[:0:0]
	for _, e := range a.state.queue {
		if h, ok := a.state.held[e.l]; ok && h.seq == e.seq {
			q = append(q, e)
		}
	}
	a.state.queue = q
}

// Release unbinds l and holds it down (see Allocator). It fails with
// ErrNotAllocated (wrapped, naming l) if l is not currently bound, which
// also catches a double release.
func (a *Allocator) Release(l Label) error {
	a.state.Lock()
	defer a.state.Unlock()
	b, ok := a.state.byLabel[l]
	if !ok {
		return fmt.Errorf("mpls: release label %d: %w", l, ErrNotAllocated)
	}
	delete(a.state.byLabel, l)
	delete(a.state.byKey, b)
	a.holdLabel(l, b, true, a.now().Add(a.hold))
	a.state.version++
	return nil
}

// Lookup returns what l is bound to, and whether it is bound at all. The
// FIB uses it to turn an incoming label into a VRF (and prefix). A label
// in hold-down is not bound.
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

// Version counts the changes to a's bindings: a saver compares it with the
// version it saved last.
func (a *Allocator) Version() uint64 {
	a.state.Lock()
	defer a.state.Unlock()
	return a.state.version
}
