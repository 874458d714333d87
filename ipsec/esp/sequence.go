package esp

import "fmt"

// nextSeq hands out the next outbound sequence number, or false once the
// SA's sequence space is used up, or its reservation (Reserve) is:
// seqspace.Counter.Next, which never returns a number twice and never
// wraps.
func (sa *SA) nextSeq() (uint64, bool) { return sa.seq.Next() }

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
	if err := sa.seq.Reserve(last, ceiling, refillAt, refill); err != nil {
		return fmt.Errorf("esp: Reserve: %w", err)
	}
	sa.seqBase = last
	return nil
}

// Extend raises the reserved ceiling (never lowers it) and moves the point
// from which Seal asks for more. It is safe alongside Seal. Without a
// reservation it does nothing.
func (sa *SA) Extend(ceiling, refillAt uint64) { sa.seq.Extend(ceiling, refillAt) }

// Reservation returns the reserved ceiling and how many Seals it refused;
// ok is false if the SA has no reservation.
func (sa *SA) Reservation() (ceiling, stalled uint64, ok bool) { return sa.seq.Reservation() }

// LastSeq returns the last sequence number Seal used (0 before the first).
func (sa *SA) LastSeq() uint64 {
	return sa.seq.Last()
}

// NeedsRekey reports whether Seal has used Config.RekeyAfter sequence
// numbers: time to negotiate a replacement SA before Seal starts returning
// ErrSequenceExhausted.
func (sa *SA) NeedsRekey() bool {
	return sa.seq.Last() >= sa.rekeyAt
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
