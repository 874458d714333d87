package esp

import (
	"fmt"
	"sync/atomic"
)

// nextSeq hands out the next outbound sequence number, or false once the
// SA's sequence space is used up, or its reservation (Reserve) is. It
// never returns a number twice, even to concurrent callers, and never
// wraps: a compare-and-swap loop (rather than an atomic add) keeps the
// counter from ever passing the limit, which with ESN is the top of the
// uint64 range.
func (sa *SA) nextSeq() (uint64, bool) {
	r := sa.reserved
	for {
		cur := sa.seq.Load()
		if cur >= sa.limit {
			return 0, false
		}
		if r != nil && cur >= r.ceiling.Load() {
			r.stalled.Add(1)
			r.refill()
			return 0, false
		}
		if sa.seq.CompareAndSwap(cur, cur+1) {
			if r != nil && cur+1 >= r.refillAt.Load() {
				r.refill()
			}
			return cur + 1, true
		}
	}
}

// reservation bounds Seal by sequence numbers a caller has made safe to
// use (Reserve). Seal reads it with atomic loads only.
type reservation struct {
	ceiling  atomic.Uint64 // the highest number Seal may use
	refillAt atomic.Uint64 // from this number on, each Seal calls refill
	refill   func()
	stalled  atomic.Uint64 // Seals refused at the ceiling
}

// Reserve makes the SA continue after last (taken as already used, so the
// next Seal uses last+1) and seal no number above ceiling until Extend
// raises it: past that, Seal drops the packet with ErrSequenceExhausted
// (counted in SeqExhausted, and in Reservation's stalled count).
//
// It is for manually keyed SAs, whose sequence must survive a restart of
// the sender: the caller persists ceiling before handing it over, so a
// restarted sender continues above every number it may have used (RFC
// 4106 section 9: under a manual key a restart that counts from 1 again
// reuses nonces).
//
// From refillAt on, and at every Seal refused at the ceiling, Seal calls
// refill, on the packet path: refill must return at once, without
// blocking or allocating (a non-blocking channel send, say). The caller
// answers it by persisting a higher ceiling and calling Extend.
//
// Reserve must be called before the SA seals anything or is shared.
func (sa *SA) Reserve(last, ceiling, refillAt uint64, refill func()) error {
	switch {
	case refill == nil:
		return fmt.Errorf("esp: Reserve: no refill function")
	case last > sa.limit:
		return fmt.Errorf("esp: Reserve: sequence %d exceeds the sequence space (%d)", last, sa.limit)
	case ceiling < last:
		return fmt.Errorf("esp: Reserve: ceiling %d is below the last sequence number %d", ceiling, last)
	case last < sa.seq.Load():
		return fmt.Errorf("esp: Reserve: sequence %d is below the SA's %d", last, sa.seq.Load())
	}
	r := &reservation{refill: refill}
	r.ceiling.Store(ceiling)
	r.refillAt.Store(refillAt)
	sa.seq.Store(last)
	sa.seqBase = last
	sa.reserved = r
	return nil
}

// Extend raises the reserved ceiling (never lowers it) and moves the point
// from which Seal asks for more. It is safe alongside Seal. Without a
// reservation it does nothing.
func (sa *SA) Extend(ceiling, refillAt uint64) {
	r := sa.reserved
	if r == nil {
		return
	}
	for {
		cur := r.ceiling.Load()
		if ceiling <= cur {
			return
		}
		if r.ceiling.CompareAndSwap(cur, ceiling) {
			r.refillAt.Store(refillAt)
			return
		}
	}
}

// Reservation returns the reserved ceiling and how many Seals it refused;
// ok is false if the SA has no reservation.
func (sa *SA) Reservation() (ceiling, stalled uint64, ok bool) {
	r := sa.reserved
	if r == nil {
		return 0, 0, false
	}
	return r.ceiling.Load(), r.stalled.Load(), true
}

// LastSeq returns the last sequence number Seal used (0 before the first).
func (sa *SA) LastSeq() uint64 {
	return sa.seq.Load()
}

// NeedsRekey reports whether Seal has used Config.RekeyAfter sequence
// numbers: time to negotiate a replacement SA before Seal starts returning
// ErrSequenceExhausted.
func (sa *SA) NeedsRekey() bool {
	return sa.seq.Load() >= sa.rekeyAt
}

// inferSeq returns the full sequence number of a received packet from its
// low 32 bits: the low bits themselves without ESN, else what the window
// infers (replay.Window.InferESN, RFC 4303 appendix A.2.2).
func (sa *SA) inferSeq(lo uint32) (seq uint64, ok bool) {
	if !sa.esn {
		return uint64(lo), true
	}
	return sa.window.InferESN(lo)
}
