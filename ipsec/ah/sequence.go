package ah

import (
	"errors"
	"fmt"
)

// ErrNotReserved: a manually keyed AES-GMAC SA was asked to seal before
// Reserve placed its sequence above what its key may have used (Config.
// ManualKey). Counted in SealErrors. Attach the SA to a sequence store.
var ErrNotReserved = errors.New("ah: manually keyed GMAC SA has no sequence reservation")

// takeSeq is nextSeq for Seal: ErrNotReserved for a manually keyed GMAC
// SA without a reservation, ErrSequenceExhausted when nextSeq has none.
func (sa *SA) takeSeq() (uint64, error) {
	if sa.mustReserve && !sa.seq.Reserved() {
		return 0, ErrNotReserved
	}
	seq, ok := sa.nextSeq()
	if !ok {
		return 0, ErrSequenceExhausted
	}
	return seq, nil
}

// nextSeq hands out the next outbound sequence number, or false once the
// SA's sequence space is used up, or its reservation (Reserve) is:
// seqspace.Counter.Next, which never returns a number twice and never
// wraps.
func (sa *SA) nextSeq() (uint64, bool) { return sa.seq.Next() }

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
	if err := sa.seq.Reserve(last, ceiling, refillAt, refill); err != nil {
		return fmt.Errorf("ah: Reserve: %w", err)
	}
	return nil
}

// Extend raises the reserved ceiling (never lowers it) and moves the point
// from which Seal asks for more. It is safe alongside Seal. Without a
// reservation it does nothing.
func (sa *SA) Extend(ceiling, refillAt uint64) { sa.seq.Extend(ceiling, refillAt) }

// Reservation returns the reserved ceiling and how many Seals it refused;
// ok is false if the SA has no reservation.
func (sa *SA) Reservation() (ceiling, stalled uint64, ok bool) { return sa.seq.Reservation() }
