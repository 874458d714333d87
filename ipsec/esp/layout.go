package esp

// Sizes of the parts of an ESP packet. The IV, the padding and the ICV
// depend on the suite (Cipher.IVLen, Cipher.ICVLen, Cipher.TrailerLen); the
// package constants are the figures of the AEAD suites and the maxima over
// all suites, so that a buffer laid out with Headroom and MaxTrailer fits
// every SA.
const (
	// HeaderLen is the ESP header: SPI and low 32 bits of the sequence number.
	HeaderLen = 8
	// IVLen is the explicit IV of the AEAD suites (RFC 4106, RFC 7634).
	IVLen = 8
	// CBCIVLen is the IV of the AES-CBC suites: one AES block (RFC 3602).
	CBCIVLen = 16
	// MaxIVLen is the longest IV of any suite.
	MaxIVLen = CBCIVLen
	// ICVLen is the integrity check value of the AEAD suites (GCM tag or
	// Poly1305 tag) and of HMAC-SHA-256-128.
	ICVLen = 16
	// MaxICVLen is the longest ICV of any suite (HMAC-SHA-512-256).
	MaxICVLen = 32
	// ScratchLen is the number of bytes in front of the ESP header that
	// Seal and Open may overwrite while they run (nonce and AAD; see the
	// package documentation).
	ScratchLen = 8
	// Headroom is what Seal needs in front of the payload offset for any
	// suite: scratch, header and the longest IV. The ESP packet starts
	// HeaderLen+Cipher.IVLen() bytes before the payload.
	Headroom = ScratchLen + HeaderLen + MaxIVLen
	// MaxTrailer is the most Seal appends after the payload for any
	// suite: up to 15 pad bytes (AES-CBC pads to 16), pad length, next
	// header and the longest ICV.
	MaxTrailer = 15 + 2 + MaxICVLen
	// MaxOverhead is the most an ESP packet of any suite is longer than
	// its payload.
	MaxOverhead = HeaderLen + MaxIVLen + MaxTrailer
	// MinLen is the shortest ESP packet of any suite (an AEAD's): header,
	// IV, a 4-byte aligned trailer (2 pad bytes, pad length, next header)
	// and ICV.
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

// IVLen returns the length of the suite's explicit IV: 8 for the AEADs,
// 16 for AES-CBC.
func (c Cipher) IVLen() int {
	if c.IsAEAD() {
		return IVLen
	}
	return CBCIVLen
}

// ICVLen returns the length of the suite's integrity check value: 16 for
// the AEADs and HMAC-SHA-256-128, 24 for HMAC-SHA-384-192, 32 for
// HMAC-SHA-512-256 (RFC 4868 truncates the HMAC to half the hash).
func (c Cipher) ICVLen() int {
	if c.IsAEAD() {
		return ICVLen
	}
	return c.integKeyLen() / 2
}

// blockLen is what the encrypted part (payload, padding, pad length, next
// header) must be a multiple of: 4 for the AEADs (RFC 4303 section 2.4:
// stream ciphers, 4-byte alignment), 16 for AES-CBC (one AES block).
func (c Cipher) blockLen() int {
	if c.IsAEAD() {
		return 4
	}
	return 16
}

// padLen returns the pad bytes that end n bytes of payload, the pad and the
// pad length and next header bytes on a multiple of the suite's block.
func (c Cipher) padLen(n int) int {
	m := c.blockLen() - 1
	return (m + 1 - (n+2)&m) & m
}

// TrailerLen returns the bytes Seal appends after n bytes of payload:
// padding, pad length, next header and ICV.
func (c Cipher) TrailerLen(n int) int {
	return c.padLen(n) + 2 + c.ICVLen()
}

// Overhead returns how much longer than n bytes of payload the ESP packet
// is: header, IV and trailer.
func (c Cipher) Overhead(n int) int {
	return HeaderLen + c.IVLen() + c.TrailerLen(n)
}

// MaxOverhead returns the most the suite's ESP packet is longer than its
// payload, whatever the payload's length: what a path MTU must leave room
// for.
func (c Cipher) MaxOverhead() int {
	return HeaderLen + c.IVLen() + c.blockLen() - 1 + 2 + c.ICVLen()
}

// minLen is the suite's shortest ESP packet: header, IV, one block of
// encrypted trailer and ICV.
func (c Cipher) minLen() int {
	return HeaderLen + c.IVLen() + c.blockLen() + c.ICVLen()
}
