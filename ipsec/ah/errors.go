package ah

import (
	"errors"

	"github.com/peregrine-net/peregrine/ipsec/replay"
)

// Errors returned by the Seal functions and Open. They are sentinels
// (compare with errors.Is); the packet path returns them without
// allocating. Every drop also bumps the counter named in its description.
var (
	// ErrTruncated: the packet is shorter than its IP header, its AH
	// header or what its length fields claim, or its AH payload length
	// is not the SA's (RFC 4302 section 2.2: the ICV length is the
	// transform's). Drop it (Malformed).
	ErrTruncated = errors.New("ah: packet truncated or length fields inconsistent")

	// ErrUnsupported: an IPv4 header with options, an IPv6 packet with
	// an extension header before AH, or an IP version other than 4 or 6.
	// Options and extension headers have mutable parts this package does
	// not classify, so it refuses them rather than guess (fail closed).
	// Drop it (Malformed on Open, SealErrors on Seal).
	ErrUnsupported = errors.New("ah: unsupported IP header (options, extension headers or version)")

	// ErrNotAH: the IP packet's protocol is not AH (51). Drop it, or hand
	// it to whoever speaks that protocol (Malformed).
	ErrNotAH = errors.New("ah: IP packet does not carry AH")

	// ErrFragment: the IPv4 packet is a fragment; RFC 4302 section 3.4.1
	// says to discard AH on a fragment (reassemble first). Drop it
	// (Malformed).
	ErrFragment = errors.New("ah: AH on an IP fragment")

	// ErrUnknownSPI: the packet was handed to an SA with another SPI.
	// Drop it (Malformed).
	ErrUnknownSPI = errors.New("ah: unknown SPI")

	// ErrAuthFailed: the ICV did not verify: the packet was forged,
	// corrupted, or sealed with another key. Drop it (AuthFailed).
	ErrAuthFailed = errors.New("ah: authentication failed")

	// ErrReplayed: the sequence number was already accepted (Replayed).
	ErrReplayed = replay.ErrReplayed

	// ErrTooOld: the sequence number is 0 or below the window (TooOld).
	ErrTooOld = replay.ErrTooOld

	// ErrSequenceExhausted: Seal ran out of sequence numbers (2^32-1
	// without ESN, 2^64-1 with it) and refuses to wrap, which would reuse
	// sequence numbers and, for AES-GMAC, IVs. Rekey (SeqExhausted).
	ErrSequenceExhausted = errors.New("ah: sequence number space exhausted, rekey the SA")

	// ErrNoHeadroom: not enough bytes in front of the packet for the
	// headers Seal writes there. A caller bug (SealErrors).
	ErrNoHeadroom = errors.New("ah: not enough headroom in buffer")

	// ErrNoTailroom: AES-GMAC with ESN needs ESNTailroom bytes after the
	// packet. A caller bug (SealErrors on Seal, Malformed on Open).
	ErrNoTailroom = errors.New("ah: not enough tailroom in buffer")

	// ErrTooLong: the packet with AH would exceed the IP length field.
	// Drop it (SealErrors).
	ErrTooLong = errors.New("ah: packet too long for AH")

	// ErrAddrFamily: SealTunnel's outer addresses are not both IPv4 or
	// both IPv6. A configuration bug (SealErrors).
	ErrAddrFamily = errors.New("ah: outer addresses of different or invalid families")
)
