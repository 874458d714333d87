package wire

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 is a view of the fixed IPv6 header (RFC 8200 section 3), as returned
// by [ParseIPv6]. Accessors assume a validated view.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                         Source Address                        +
//	|                          (128 bits)                           |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                      Destination Address                      +
//	|                          (128 bits)                           |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type IPv6 []byte

const (
	ipv6VersionTCFlow = 0
	ipv6PayloadLen    = 4
	ipv6NextHeader    = 6
	ipv6HopLimit      = 7
	ipv6Src           = 8
	ipv6Dst           = 24

	ipv6FlowLabelMask = 0x000fffff
	ipv6MaxPayloadLen = 0xffff
)

// Version is the IP version nibble: 6 in a valid view.
func (h IPv6) Version() uint8 { return h[0] >> 4 }

// TrafficClass is the traffic class byte: DSCP in the upper six bits, ECN
// below.
func (h IPv6) TrafficClass() uint8 {
	return uint8(binary.BigEndian.Uint32(h[ipv6VersionTCFlow:]) >> 20)
}

// FlowLabel is the 20-bit flow label.
func (h IPv6) FlowLabel() uint32 {
	return binary.BigEndian.Uint32(h[ipv6VersionTCFlow:]) & ipv6FlowLabelMask
}

// PayloadLen is the length of everything after the fixed header.
func (h IPv6) PayloadLen() int { return int(binary.BigEndian.Uint16(h[ipv6PayloadLen:])) }

// NextHeader is the protocol (or extension header) after the fixed header.
func (h IPv6) NextHeader() uint8 { return h[ipv6NextHeader] }

// HopLimit is the hop limit.
func (h IPv6) HopLimit() uint8 { return h[ipv6HopLimit] }

// Src is the source address.
func (h IPv6) Src() netip.Addr { return netip.AddrFrom16([16]byte(h[ipv6Src : ipv6Src+16])) }

// Dst is the destination address.
func (h IPv6) Dst() netip.Addr { return netip.AddrFrom16([16]byte(h[ipv6Dst : ipv6Dst+16])) }

// ParseIPv6 validates the fixed IPv6 header at the start of b and returns
// it with the payload it delimits: room for the header, version 6, and a
// payload length within b. Bytes after the payload length (link-layer
// padding) are not part of the payload.
//
// Extension headers are rejected rather than walked: the Fragment header
// (44) as [ErrFragment], the others listed by [IsIPv6ExtensionHeader] as
// [ErrExtensionHeader]. Peers that send ESP between provider edges put
// nothing between the IPv6 header and ESP or UDP (RFC 4303 places ESP
// after any hop-by-hop, routing and fragment headers, and none are needed
// on a tunnel), and each walked header is parser surface an attacker
// reaches before authentication. A jumbogram (payload length 0 with a
// Hop-by-Hop option) is rejected by the same rule.
func ParseIPv6(b []byte) (h IPv6, payload []byte, err error) {
	if len(b) < IPv6HeaderLen {
		return nil, nil, ErrTruncated
	}
	if b[0]>>4 != 6 {
		return nil, nil, ErrVersion
	}
	n := int(binary.BigEndian.Uint16(b[ipv6PayloadLen:]))
	if n > len(b)-IPv6HeaderLen {
		return nil, nil, ErrTruncated
	}
	switch nh := b[ipv6NextHeader]; {
	case nh == ipv6Fragment:
		return nil, nil, ErrFragment
	case IsIPv6ExtensionHeader(nh):
		return nil, nil, ErrExtensionHeader
	}
	return IPv6(b[:IPv6HeaderLen]), b[IPv6HeaderLen : IPv6HeaderLen+n], nil
}

const ipv6Fragment = 44

// IsIPv6ExtensionHeader reports whether nh names an IPv6 extension header
// (IANA "IPv6 Extension Header Types" registry, RFC 8200 section 4), which
// [ParseIPv6] refuses to skip. AH (51) is in the list: this package does not
// speak AH. ESP (50) is not: it is what we are looking for.
func IsIPv6ExtensionHeader(nh uint8) bool {
	switch nh {
	case 0, // Hop-by-Hop Options
		43,  // Routing
		44,  // Fragment
		51,  // Authentication Header
		60,  // Destination Options
		135, // Mobility
		139, // Host Identity Protocol
		140, // Shim6
		253, // experimentation and testing (RFC 3692)
		254:
		return true
	}
	return false
}

// IPv6Fields is what [PutIPv6] writes.
type IPv6Fields struct {
	Src, Dst     netip.Addr // both IPv6 (Is6, IPv4-mapped allowed)
	NextHeader   uint8
	PayloadLen   int // bytes after the header
	HopLimit     uint8
	TrafficClass uint8  // DSCP and ECN
	FlowLabel    uint32 // low 20 bits used
}

// PutIPv6 writes a 40-byte IPv6 header for f into b[:IPv6HeaderLen]. IPv6
// has no header checksum.
func PutIPv6(b []byte, f IPv6Fields) error {
	if len(b) < IPv6HeaderLen {
		return ErrBounds
	}
	if !f.Src.Is6() || !f.Dst.Is6() {
		return ErrAddrFamily
	}
	if f.PayloadLen < 0 || f.PayloadLen > ipv6MaxPayloadLen {
		return ErrTooLong
	}
	h := b[:IPv6HeaderLen]
	binary.BigEndian.PutUint32(h[ipv6VersionTCFlow:],
		6<<28|uint32(f.TrafficClass)<<20|f.FlowLabel&ipv6FlowLabelMask)
	binary.BigEndian.PutUint16(h[ipv6PayloadLen:], uint16(f.PayloadLen))
	h[ipv6NextHeader] = f.NextHeader
	h[ipv6HopLimit] = f.HopLimit
	src, dst := f.Src.As16(), f.Dst.As16()
	copy(h[ipv6Src:], src[:])
	copy(h[ipv6Dst:], dst[:])
	return nil
}
