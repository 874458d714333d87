package mpls

// Saving and restoring an Allocator, so that a restarted PE gives every
// VRF and prefix the label it had (package mpls/labelstore keeps the state
// on disk).

import (
	"cmp"
	"slices"
	"time"
)

// AllocatorState is what an Allocator must remember across a restart.
type AllocatorState struct {
	Range Range // the range the labels were allocated from
	// Next is the lowest label never handed out in Range: every label of
	// Range below it that is neither bound nor held is free.
	Next  Label
	Bound []BoundLabel // by label
	Held  []HeldLabel  // labels in hold-down, by label
}

// BoundLabel is one label and what it stands for.
type BoundLabel struct {
	Label   Label
	Binding Binding
}

// HeldLabel is a released label in hold-down: no binding but its former
// one may have it before Until.
type HeldLabel struct {
	Label   Label
	Binding Binding // the former binding
	Until   time.Time
}

// State returns a copy of a's bindings and hold-downs; hold-downs that
// have ended are left out (their labels are free).
func (a *Allocator) State() *AllocatorState {
	a.state.Lock()
	defer a.state.Unlock()
	st := &AllocatorState{Range: a.r, Next: a.state.next,
		Bound: make([]BoundLabel, 0, len(a.state.byLabel))}
	for l, b := range a.state.byLabel {
		st.Bound = append(st.Bound, BoundLabel{Label: l, Binding: b})
	}
	now := a.now()
	for l, h := range a.state.held {
		if h.owned && now.Before(h.until) {
			st.Held = append(st.Held, HeldLabel{Label: l, Binding: h.b, Until: h.until})
		}
	}
	slices.SortFunc(st.Bound, func(x, y BoundLabel) int { return cmp.Compare(x.Label, y.Label) })
	slices.SortFunc(st.Held, func(x, y HeldLabel) int { return cmp.Compare(x.Label, y.Label) })
	return st
}

// Restore loads st, saved by State before a restart, into a, which must
// not have handed out a label yet. Every label st binds is held for its
// binding for the hold-down from now: a VRF or prefix that asks again gets
// it back, and one that does not come back keeps it from every other
// binding until the hold-down ends, since remote PEs may still hold it.
// Held labels keep their saved end (or now plus the hold-down, if later:
// the clock may have been set back).
//
// Labels outside a's range (the range was changed) are forgotten and
// returned, for the caller to log: their bindings get new labels. A label
// or binding listed twice keeps its first entry.
func (a *Allocator) Restore(st *AllocatorState) (outside []BoundLabel) {
	a.state.Lock()
	defer a.state.Unlock()
	now := a.now()
	held := func(l Label, b Binding, until time.Time) {
		if !a.r.Contains(l) {
			outside = append(outside, BoundLabel{Label: l, Binding: b})
			return
		}
		if _, dup := a.state.held[l]; dup {
			return
		}
		if _, dup := a.state.heldBy[b]; dup {
			return
		}
		a.holdLabel(l, b, true, until)
	}
	// Released labels first, oldest end first, so FIFO reuse goes on in
	// the order the releases happened; then the bound ones.
	hs := slices.Clone(st.Held)
	slices.SortStableFunc(hs, func(x, y HeldLabel) int { return x.Until.Compare(y.Until) })
	for _, h := range hs {
		held(h.Label, h.Binding, h.Until)
	}
	for _, b := range st.Bound {
		held(b.Label, b.Binding, now.Add(a.hold))
	}
	a.state.next = a.r.First
	if st.Range == a.r && a.r.First <= st.Next && st.Next <= a.r.Last+1 {
		a.state.next = st.Next
	}
	// Labels below the frontier that are neither held nor bound were
	// released before and are free: queue them ahead of the held ones,
	// lowest first, as released long ago.
	var free []queued
	for l := a.r.First; l < a.state.next; l++ {
		if _, ok := a.state.held[l]; !ok {
			a.state.seq++
			a.state.held[l] = heldLabel{seq: a.state.seq}
			free = append(free, queued{l: l, seq: a.state.seq})
		}
	}
	a.state.queue = append(free, a.state.queue...)
	a.state.version++
	return outside
}
