package esp

// nextSeq hands out the next outbound sequence number, or false once the
// SA's sequence space is used up. It never returns a number twice, even to
// concurrent callers, and never wraps: a compare-and-swap loop (rather than
// an atomic add) keeps the counter from ever passing the limit, which with
// ESN is the top of the uint64 range.
func (sa *SA) nextSeq() (uint64, bool) {
	for {
		cur := sa.seq.Load()
		if cur >= sa.limit {
			return 0, false
		}
		if sa.seq.CompareAndSwap(cur, cur+1) {
			return cur + 1, true
		}
	}
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
// low 32 bits. Without ESN that is the low bits themselves. With ESN it
// follows RFC 4303 appendix A.2.2: with T the highest number accepted (Th,
// Tl its halves) and W the window, pick the high half that puts the number
// in or above the window. ok is false when the number would lie below 0 or
// above 2^64-1, which no sender can have used.
func (sa *SA) inferSeq(lo uint32) (seq uint64, ok bool) {
	if !sa.esn {
		return uint64(lo), true
	}
	top := sa.window.Top()
	th, tl := uint32(top>>32), uint32(top)
	w := uint32(sa.window.Size())
	hi := th
	if tl >= w-1 {
		// Case A: the window lies in one 2^32 subspace. A number
		// below its bottom belongs to the next subspace.
		if lo < tl-w+1 {
			if th == 1<<32-1 {
				return 0, false
			}
			hi = th + 1
		}
	} else if lo >= tl-w+1 {
		// Case B: the window straddles a subspace boundary (tl-w+1
		// wraps). A number at or above its bottom belongs to the
		// previous subspace; one below it, to this one.
		if th == 0 {
			return 0, false
		}
		hi = th - 1
	}
	return uint64(hi)<<32 | uint64(lo), true
}
