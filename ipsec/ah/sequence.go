package ah

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrNotReserved: a manually keyed AES-GMAC SA was asked to seal before
// Reserve placed its sequence above what its key may have used (Config.
// ManualKey). Counted in SealErrors. Attach the SA to a sequence store.
var ErrNotReserved = errors.New("ah: manually keyed GMAC SA has no sequence reservation")

// takeSeq is nextSeq for Seal: ErrNotReserved for a manually keyed GMAC
// SA without a reservation, ErrSequenceExhausted when nextSeq has none.
func (sa *SA) takeSeq() (uint64, error) {
	if sa.mustReserve && sa.reserved == nil {
		return 0, ErrNotReserved
	}
	seq, ok := sa.nextSeq()
	if !ok {
		return 0, ErrSequenceExhausted
	}
	return seq, nil
}

// nextSeq hands out the next outbound sequence number, or false once the
// SA's sequence space is used up, or its reservation (Reserve) is. It
// never returns a number twice, even to concurrent callers, and never
// wraps: a compare-and-swap loop, as esp's.
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

// Reserve makes the SA continue after last (taken as already used) and
// seal no number above ceiling until Extend raises it; past that, Seal
// drops with ErrSequenceExhausted. It is esp.SA.Reserve for AH, so that
// package ipsec/seqstore persists a manually keyed AH SA's sequence as it
// does ESP's: a restarted sender continues above every number it may have
// used, which keeps its peer's anti-replay window working and, for
// AES-GMAC, never repeats a nonce (the IV is the sequence number).
//
// From refillAt on, and at every Seal refused at the ceiling, Seal calls
// refill on the packet path: it must return at once without blocking or
// allocating. Reserve must be called before the SA seals or is shared.
func (sa *SA) Reserve(last, ceiling, refillAt uint64, refill func()) error {
	switch {
	case refill == nil:
		return fmt.Errorf("ah: Reserve: no refill function")
	case last > sa.limit:
		return fmt.Errorf("ah: Reserve: sequence %d exceeds the sequence space (%d)", last, sa.limit)
	case ceiling < last:
		return fmt.Errorf("ah: Reserve: ceiling %d is below the last sequence number %d", ceiling, last)
	case last < sa.seq.Load():
		return fmt.Errorf("ah: Reserve: sequence %d is below the SA's %d", last, sa.seq.Load())
	}
	r := &reservation{refill: refill}
	r.ceiling.Store(ceiling)
	r.refillAt.Store(refillAt)
	sa.seq.Store(last)
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
