package ah

import "sync/atomic"

// Counters is a snapshot of an SA's statistics, as esp.Counters is: byte
// counts are payload bytes (what follows the AH header). Each field is
// read atomically; the snapshot as a whole is not one instant.
type Counters struct {
	// Outbound: SealTunnel, SealTransport.
	SealedPackets uint64
	SealedBytes   uint64
	SeqExhausted  uint64 // ErrSequenceExhausted
	SealErrors    uint64 // ErrNoHeadroom, ErrNoTailroom, ErrTooLong, ErrAddrFamily; SealTransport: ErrUnsupported, ErrTruncated, ErrFragment

	// Inbound: Open, OpenTransport.
	OpenedPackets uint64
	OpenedBytes   uint64
	AuthFailed    uint64 // ErrAuthFailed
	Replayed      uint64 // ErrReplayed
	TooOld        uint64 // ErrTooOld
	Malformed     uint64 // ErrTruncated, ErrUnsupported, ErrNotAH, ErrFragment, ErrUnknownSPI, ErrNoTailroom
}

// cacheLinePad keeps counters written by sealers and by openers on
// different cache lines.
type cacheLinePad [64]byte

type sealCounters struct {
	packets, bytes, exhausted, errors atomic.Uint64
}

type openCounters struct {
	packets, bytes                          atomic.Uint64
	authFailed, replayed, tooOld, malformed atomic.Uint64
}

// Counters returns a snapshot of the SA's statistics.
func (sa *SA) Counters() Counters {
	return Counters{
		SealedPackets: sa.sealed.packets.Load(),
		SealedBytes:   sa.sealed.bytes.Load(),
		SeqExhausted:  sa.sealed.exhausted.Load(),
		SealErrors:    sa.sealed.errors.Load(),
		OpenedPackets: sa.opened.packets.Load(),
		OpenedBytes:   sa.opened.bytes.Load(),
		AuthFailed:    sa.opened.authFailed.Load(),
		Replayed:      sa.opened.replayed.Load(),
		TooOld:        sa.opened.tooOld.Load(),
		Malformed:     sa.opened.malformed.Load(),
	}
}

// sealErr counts a Seal error and returns it.
func (sa *SA) sealErr(err error) error {
	if err == ErrSequenceExhausted {
		sa.sealed.exhausted.Add(1)
	} else {
		sa.sealed.errors.Add(1)
	}
	return err
}

// openErr counts an Open error and returns it.
func (sa *SA) openErr(err error) error {
	switch err {
	case ErrAuthFailed:
		sa.opened.authFailed.Add(1)
	case ErrReplayed:
		sa.opened.replayed.Add(1)
	case ErrTooOld:
		sa.opened.tooOld.Add(1)
	default:
		sa.opened.malformed.Add(1)
	}
	return err
}
