package wire

// Error is the type of every error this package returns. The values are
// constants rather than errors.New variables so that returning one never
// allocates (a one-byte value in an interface is free) and so that nobody
// can reassign them. Compare with == or errors.Is.
//
// Every parse error means "drop the packet": count it by value (a metric
// per Error is cheap) and move on. Build errors ([ErrHeadroom], [ErrBounds],
// [ErrAddrFamily], [ErrTooLong]) mean the caller's buffer or [Path] is wrong:
// they are programming or configuration errors, not traffic.
type Error uint8

const (
	// ErrTruncated: the buffer ends before a header, or before the length a
	// header claims. Drop.
	ErrTruncated Error = iota + 1
	// ErrVersion: the IP version nibble is neither 4 nor 6 (or not the one
	// the parser was asked for). Drop.
	ErrVersion
	// ErrHeaderLen: IPv4 IHL below 5 words. Drop.
	ErrHeaderLen
	// ErrTotalLen: IPv4 total length shorter than its own header. Drop.
	ErrTotalLen
	// ErrChecksum: the IPv4 header checksum does not verify. Drop.
	ErrChecksum
	// ErrFragment: an IPv4 fragment (MF set or offset non-zero) or an IPv6
	// Fragment header. Reassembly is out of scope: drop, count, and make the
	// sender fit the path MTU.
	ErrFragment
	// ErrExtensionHeader: IPv6 extension header (other than Fragment) before
	// the transport; these are not walked. Drop.
	ErrExtensionHeader
	// ErrProtocol: the IP packet carries neither ESP nor UDP. Drop, or hand
	// it to whatever else listens for that protocol.
	ErrProtocol
	// ErrUDPLength: the UDP length field disagrees with the IP payload
	// length. Drop.
	ErrUDPLength
	// ErrUDPChecksum: the UDP checksum does not verify, or is zero over
	// IPv6 (forbidden by RFC 8200 section 8.1). Drop.
	ErrUDPChecksum
	// ErrPort: a UDP datagram not addressed to port 4500. Drop.
	ErrPort
	// ErrNATT: the UDP 4500 payload is neither ESP, IKE after a non-ESP
	// marker, nor a NAT-keepalive (RFC 3948 section 2). Drop.
	ErrNATT
	// ErrESP: raw ESP (protocol 50) shorter than the 8-byte SPI and sequence
	// number, or with the reserved SPI 0 (RFC 4303 section 2.1). Drop.
	ErrESP
	// ErrAddrFamily: an address is invalid, or source and destination are of
	// different families. Fix the Path.
	ErrAddrFamily
	// ErrTooLong: the packet would not fit the 16-bit length fields. Fix the
	// caller (a packet this big cannot be sent unfragmented anyway).
	ErrTooLong
	// ErrHeadroom: fewer bytes before the payload than the headers need.
	// Allocate buffers with MaxOuterHeaderLen of headroom.
	ErrHeadroom
	// ErrBounds: an offset or length lies outside the buffer. Fix the caller.
	ErrBounds
)

var errorText = [...]string{
	ErrTruncated:       "wire: packet truncated",
	ErrVersion:         "wire: bad IP version",
	ErrHeaderLen:       "wire: bad IPv4 header length",
	ErrTotalLen:        "wire: bad IPv4 total length",
	ErrChecksum:        "wire: bad IPv4 header checksum",
	ErrFragment:        "wire: IP fragment (reassembly not supported)",
	ErrExtensionHeader: "wire: IPv6 extension header not supported",
	ErrProtocol:        "wire: IP protocol is neither ESP nor UDP",
	ErrUDPLength:       "wire: UDP length does not match IP payload",
	ErrUDPChecksum:     "wire: bad UDP checksum",
	ErrPort:            "wire: UDP destination port is not 4500",
	ErrNATT:            "wire: UDP 4500 payload is not ESP, IKE or NAT-keepalive",
	ErrESP:             "wire: ESP header too short or SPI zero",
	ErrAddrFamily:      "wire: invalid or mixed-family addresses",
	ErrTooLong:         "wire: packet too long for its length field",
	ErrHeadroom:        "wire: not enough headroom for outer headers",
	ErrBounds:          "wire: offset or length outside buffer",
}

func (e Error) Error() string {
	if int(e) < len(errorText) && errorText[e] != "" {
		return errorText[e]
	}
	return "wire: unknown error"
}
