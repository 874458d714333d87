package esp

import "sync/atomic"

// Counters is a snapshot of an SA's statistics. Byte counts are payload
// bytes (the inner packet), not ESP packet bytes. Each field is read
// atomically; the snapshot as a whole is not one instant.
type Counters struct {
	// Outbound: Seal.
	SealedPackets uint64
	SealedBytes   uint64
	SeqExhausted  uint64 // ErrSequenceExhausted
	SealErrors    uint64 // ErrNoHeadroom, ErrNoTailroom (caller bugs)

	// Inbound: Open.
	OpenedPackets uint64
	OpenedBytes   uint64
	AuthFailed    uint64 // ErrAuthFailed
	Replayed      uint64 // ErrReplayed
	TooOld        uint64 // ErrTooOld
	BadPadding    uint64 // ErrBadPadding
	Malformed     uint64 // ErrTruncated, ErrNoHeadroom, ErrUnknownSPI (wrong SA)
}

// cacheLinePad keeps counters written by sealers and by openers on
// different cache lines.
type cacheLinePad [64]byte

// sealCounters are written on the Seal path only. The packets sealed are
// not counted: each used one sequence number, so they are the numbers
// handed out since seqBase, and Seal spares an atomic addition.
type sealCounters struct {
	bytes, exhausted, errors atomic.Uint64
}

// openCounters are written on the Open path only. The anti-replay window
// counts the packets opened and their bytes (replay.Window.UpdateCounted,
// in the same compare-and-swap that records the sequence number); packets
// and bytes here are those opened with the window off
// (Config.NoAntiReplay), whose window tally is then left out: it records
// numbers only to keep its top for show output.
type openCounters struct {
	packets, bytes                                      atomic.Uint64
	authFailed, replayed, tooOld, badPadding, malformed atomic.Uint64
}

// Counters returns a snapshot of the SA's statistics.
func (sa *SA) Counters() Counters {
	var windowPackets, windowBytes uint64
	if !sa.noReplay {
		windowPackets, windowBytes = sa.window.Accepted()
	}
	return Counters{
		SealedPackets: sa.seq.Last() - sa.seqBase,
		SealedBytes:   sa.sealed.bytes.Load(),
		SeqExhausted:  sa.sealed.exhausted.Load(),
		SealErrors:    sa.sealed.errors.Load(),
		OpenedPackets: sa.opened.packets.Load() + windowPackets,
		OpenedBytes:   sa.opened.bytes.Load() + windowBytes,
		AuthFailed:    sa.opened.authFailed.Load(),
		Replayed:      sa.opened.replayed.Load(),
		TooOld:        sa.opened.tooOld.Load(),
		BadPadding:    sa.opened.badPadding.Load(),
		Malformed:     sa.opened.malformed.Load(),
	}
}
