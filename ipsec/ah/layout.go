package ah

// Sizes of the parts of an AH packet (RFC 4302 section 2).
const (
	// FixedLen is the part of the AH header every transform has: next
	// header, payload length, reserved, SPI, sequence number (low 32 bits).
	FixedLen = 12
	// GMACIVLen is the explicit IV of AES-GMAC (RFC 4543 section 3.1).
	GMACIVLen = 8
	// SaltLen is the salt at the end of AES-GMAC key material.
	SaltLen = 4
	// ICVLen is the integrity check value of every transform here.
	ICVLen = 16
	// MaxHeaderLen is the longest AH header of any transform (AES-GMAC:
	// 12 + 8 + 16, padded to 40).
	MaxHeaderLen = 40
	// IPv4HeaderLen and IPv6HeaderLen are the IP headers this package
	// builds and accepts (no IPv4 options, no IPv6 extension headers).
	IPv4HeaderLen = 20
	IPv6HeaderLen = 40
	// Headroom is what SealTunnel needs in front of the payload, and
	// SealTransport in front of the IP packet (which it moves up by
	// the AH header's length), for any transform: the room for an IPv6
	// header and the longest AH header.
	Headroom = IPv6HeaderLen + MaxHeaderLen
	// ESNTailroom is what Seal and Open need after the packet with ESN
	// and AES-GMAC: the high 32 bits of the sequence number are part of
	// the ICV input but not sent (RFC 4302 section 2.5.1), and GMAC takes
	// its input in one piece, so they are written there for the duration
	// of the call and the bytes restored afterwards.
	ESNTailroom = 4
)

// IP protocol numbers.
const (
	ProtoAH        uint8 = 51  // AH itself (RFC 4302)
	NextHeaderIPv4 uint8 = 4   // tunnel mode, inner IPv4
	NextHeaderIPv6 uint8 = 41  // tunnel mode, inner IPv6
	NextHeaderMPLS uint8 = 137 // MPLS label stack in IP (RFC 4023)
)

// IP header offsets used here (RFC 791, RFC 8200).
const (
	ipv4TOS       = 1
	ipv4TotalLen  = 2
	ipv4FlagsFrag = 6
	ipv4TTL       = 8
	ipv4Protocol  = 9
	ipv4Checksum  = 10

	ipv6PayloadLen = 4
	ipv6NextHeader = 6
	ipv6HopLimit   = 7
)
