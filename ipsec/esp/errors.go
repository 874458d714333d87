package esp

import (
	"errors"

	"github.com/peregrine-net/peregrine/ipsec/replay"
)

// Errors returned by Seal and Open. They are sentinels (compare with
// errors.Is); the packet path returns them without allocating. Every drop
// also bumps a counter, named in each description.
var (
	// ErrTruncated: the packet is shorter than its suite allows (MinLen
	// for an AEAD; header, IV, one AES block and ICV for AES-CBC), or its
	// encrypted part is not a whole number of 4-byte words (AEAD) or
	// 16-byte blocks (AES-CBC). Drop it (Malformed).
	ErrTruncated = errors.New("esp: packet truncated or misaligned")

	// ErrUnknownSPI: no SA has the packet's SPI
	// (esptransport.InboundTable.Open), or the packet was handed to an
	// SA with another SPI. Drop it; a burst may mean the peer uses an SA
	// we deleted, which IKE should hear of. Counted by the table
	// (UnknownSPI) or the SA (Malformed).
	ErrUnknownSPI = errors.New("esp: unknown SPI")

	// ErrAuthFailed: the ICV did not verify: the packet was forged,
	// corrupted, or sealed with another key. Nothing of it was decrypted
	// (AES-CBC) or released (AEAD). Drop it (AuthFailed).
	ErrAuthFailed = errors.New("esp: authentication failed")

	// ErrBadPadding: the packet authenticated but its pad length or pad
	// bytes are wrong (RFC 4303 section 2.4), which only a broken peer
	// sends. Drop it (BadPadding).
	ErrBadPadding = errors.New("esp: bad padding")

	// ErrReplayed: the sequence number was already accepted. Drop the
	// packet (Replayed). It is the same value as replay.ErrReplayed.
	ErrReplayed = replay.ErrReplayed

	// ErrTooOld: the sequence number is below the anti-replay window (or
	// is 0). Drop the packet (TooOld); a steady stream means reordering
	// deeper than the window: consider a larger window. With ESN such a
	// packet reads as 2^32 ahead and fails as ErrAuthFailed instead
	// (RFC 4303 appendix A).
	ErrTooOld = replay.ErrTooOld

	// ErrSequenceExhausted: Seal ran out of sequence numbers (2^32-1
	// without ESN, 2^64-1 with it) and refuses to wrap, which would
	// reuse IVs. Drop the packet and install the rekeyed SA; NeedsRekey
	// should have asked for that long before (SeqExhausted).
	ErrSequenceExhausted = errors.New("esp: sequence number space exhausted, rekey the SA")

	// ErrNoHeadroom: the payload offset leaves fewer than Headroom bytes
	// for Seal, or the packet fewer than ScratchLen bytes for Open. A bug
	// in the caller: allocate buffers with headroom (SealErrors on Seal,
	// Malformed on Open).
	ErrNoHeadroom = errors.New("esp: not enough headroom in buffer")

	// ErrNoTailroom: the buffer ends before the payload plus TrailerLen.
	// A bug in the caller: leave MaxTrailer bytes after the payload
	// (SealErrors). Open reports an offset and length beyond the buffer
	// as ErrTruncated.
	ErrNoTailroom = errors.New("esp: not enough tailroom in buffer")
)
