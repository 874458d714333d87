package esp

// Sizes of the parts of an ESP packet with an 8-byte IV and 16-byte ICV.
const (
	// HeaderLen is the ESP header: SPI and low 32 bits of the sequence number.
	HeaderLen = 8
	// IVLen is the explicit IV that follows the header.
	IVLen = 8
	// ICVLen is the integrity check value (GCM tag or Poly1305 tag).
	ICVLen = 16
	// ScratchLen is the number of bytes in front of the ESP header that
	// Seal and Open overwrite while they run (nonce and AAD; see the
	// package documentation).
	ScratchLen = 8
	// Headroom is what Seal needs in front of the payload offset: scratch,
	// header and IV. The ESP packet starts HeaderLen+IVLen bytes before it.
	Headroom = ScratchLen + HeaderLen + IVLen
	// MaxTrailer is the most Seal appends after the payload: up to 3 pad
	// bytes, pad length, next header and the ICV.
	MaxTrailer = 3 + 2 + ICVLen
	// MaxOverhead is the most an ESP packet is longer than its payload.
	MaxOverhead = HeaderLen + IVLen + MaxTrailer
	// MinLen is the shortest ESP packet: header, IV, a 4-byte aligned
	// trailer (2 pad bytes, pad length, next header) and ICV.
	MinLen = HeaderLen + IVLen + 4 + ICVLen
)

// Next header values (IANA protocol numbers) carried in the ESP trailer.
// Tunnel mode carries a whole inner packet; transport mode carries the upper
// protocol (for example 6 for TCP, 17 for UDP) and any other value.
const (
	NextHeaderIPv4 uint8 = 4   // tunnel mode, inner IPv4
	NextHeaderIPv6 uint8 = 41  // tunnel mode, inner IPv6
	NextHeaderMPLS uint8 = 137 // MPLS label stack in IP (RFC 4023)
	// NoNextHeader marks a dummy packet (RFC 4303 section 2.6): Open
	// returns it like any other; the caller must discard its payload.
	NoNextHeader uint8 = 59
)

// padLen returns the pad bytes that end n bytes of payload, the pad and the
// pad length and next header bytes on a 4-byte boundary.
func padLen(n int) int {
	return (4 - (n+2)&3) & 3
}

// TrailerLen returns the bytes Seal appends after n bytes of payload:
// padding, pad length, next header and ICV.
func TrailerLen(n int) int {
	return padLen(n) + 2 + ICVLen
}

// Overhead returns how much longer than n bytes of payload the ESP packet
// is: header, IV and trailer.
func Overhead(n int) int {
	return HeaderLen + IVLen + TrailerLen(n)
}
