package wire

import (
	"encoding/binary"
	"net/netip"
)

// UDP is a view of a UDP header (RFC 768) followed by its payload, as
// returned by [ParseUDP]. Accessors assume a validated view.
//
//	 0      7 8     15 16    23 24    31
//	+--------+--------+--------+--------+
//	|     Source      |   Destination   |
//	|      Port       |      Port       |
//	+--------+--------+--------+--------+
//	|                 |                 |
//	|     Length      |    Checksum     |
//	+--------+--------+--------+--------+
//	|
//	|          data octets ...
//	+---------------- ...
type UDP []byte

const (
	udpSrcPort  = 0
	udpDstPort  = 2
	udpLength   = 4
	udpChecksum = 6

	udpMaxLen = 0xffff
)

// SrcPort is the source port.
func (u UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(u[udpSrcPort:]) }

// DstPort is the destination port.
func (u UDP) DstPort() uint16 { return binary.BigEndian.Uint16(u[udpDstPort:]) }

// Length is the length field: header plus payload.
func (u UDP) Length() int { return int(binary.BigEndian.Uint16(u[udpLength:])) }

// Checksum is the checksum as stored; zero means "none" (IPv4 only).
func (u UDP) Checksum() uint16 { return binary.BigEndian.Uint16(u[udpChecksum:]) }

// SetChecksum computes the checksum of the whole datagram u (header and
// payload, len(u) bytes) over the pseudo-header of src and dst, and stores
// it. A computed zero is sent as 0xffff, since zero means "no checksum"
// (RFC 768). It touches every payload byte: over IPv4, ESP-in-UDP may skip
// it (RFC 3948 section 2.1); over IPv6 it is mandatory (RFC 8200 section
// 8.1).
func (u UDP) SetChecksum(src, dst netip.Addr) error {
	if len(u) < UDPHeaderLen {
		return ErrBounds
	}
	if !sameFamily(src, dst) {
		return ErrAddrFamily
	}
	u[udpChecksum], u[udpChecksum+1] = 0, 0
	c := ^fold(sum(pseudoHeaderSum(src, dst, ProtoUDP, len(u)), u))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[udpChecksum:], c)
	return nil
}

// ParseUDP validates the UDP datagram b (the whole IP payload) sent from
// src to dst and returns its header view and payload. The length field must
// equal len(b): a datagram shorter than its IP payload is legal in RFC 768
// but nobody sends one, and refusing it keeps one length in play. A zero
// checksum is accepted over IPv4 (RFC 3948 section 2.1 lets ESP-in-UDP
// senders skip it) and refused over IPv6 (RFC 8200 section 8.1); any other
// checksum must verify.
func ParseUDP(b []byte, src, dst netip.Addr) (u UDP, payload []byte, err error) {
	if len(b) < UDPHeaderLen {
		return nil, nil, ErrTruncated
	}
	if int(binary.BigEndian.Uint16(b[udpLength:])) != len(b) {
		return nil, nil, ErrUDPLength
	}
	if !sameFamily(src, dst) {
		return nil, nil, ErrAddrFamily
	}
	if binary.BigEndian.Uint16(b[udpChecksum:]) == 0 {
		if !src.Is4() {
			return nil, nil, ErrUDPChecksum
		}
	} else if fold(sum(pseudoHeaderSum(src, dst, ProtoUDP, len(b)), b)) != 0xffff {
		return nil, nil, ErrUDPChecksum
	}
	return UDP(b), b[UDPHeaderLen:], nil
}

// PutUDP writes a UDP header with a zero checksum into b[:UDPHeaderLen]
// for a payload of payloadLen bytes. Call [UDP.SetChecksum] on the whole
// datagram afterwards to fill the checksum in.
func PutUDP(b []byte, srcPort, dstPort uint16, payloadLen int) error {
	if len(b) < UDPHeaderLen {
		return ErrBounds
	}
	if payloadLen < 0 || payloadLen > udpMaxLen-UDPHeaderLen {
		return ErrTooLong
	}
	binary.BigEndian.PutUint16(b[udpSrcPort:], srcPort)
	binary.BigEndian.PutUint16(b[udpDstPort:], dstPort)
	binary.BigEndian.PutUint16(b[udpLength:], uint16(UDPHeaderLen+payloadLen))
	b[udpChecksum], b[udpChecksum+1] = 0, 0
	return nil
}

// sameFamily reports whether a and b are valid addresses of one family
// (IPv4-mapped IPv6 addresses count as IPv6, as in net/netip).
func sameFamily(a, b netip.Addr) bool {
	return a.IsValid() && b.IsValid() && a.Is4() == b.Is4()
}
