package wire

import (
	"encoding/binary"
	"net/netip"
)

// IPv4 is a view of an IPv4 header (RFC 791 section 3.1), options
// included, as returned by [ParseIPv4]. Accessors assume a validated view.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Flags are, from the most significant bit: reserved (must be zero),
// DF (don't fragment), MF (more fragments).
type IPv4 []byte

const (
	ipv4VersionIHL = 0
	ipv4TOS        = 1
	ipv4TotalLen   = 2
	ipv4ID         = 4
	ipv4FlagsFrag  = 6
	ipv4TTL        = 8
	ipv4Protocol   = 9
	ipv4Checksum   = 10
	ipv4Src        = 12
	ipv4Dst        = 16

	ipv4FlagDF      = 0x4000
	ipv4FlagMF      = 0x2000
	ipv4OffsetMask  = 0x1fff
	ipv4MaxTotalLen = 0xffff
)

// Version is the IP version nibble: 4 in a valid view.
func (h IPv4) Version() uint8 { return h[ipv4VersionIHL] >> 4 }

// HeaderLen is the header length in bytes, options included (IHL * 4).
func (h IPv4) HeaderLen() int { return int(h[ipv4VersionIHL]&0x0f) * 4 }

// TOS is the type-of-service byte: DSCP in the upper six bits, ECN below.
func (h IPv4) TOS() uint8 { return h[ipv4TOS] }

// TotalLen is the length of the whole datagram, header included.
func (h IPv4) TotalLen() int { return int(binary.BigEndian.Uint16(h[ipv4TotalLen:])) }

// ID is the identification field.
func (h IPv4) ID() uint16 { return binary.BigEndian.Uint16(h[ipv4ID:]) }

// DF reports the don't-fragment flag.
func (h IPv4) DF() bool { return binary.BigEndian.Uint16(h[ipv4FlagsFrag:])&ipv4FlagDF != 0 }

// MF reports the more-fragments flag.
func (h IPv4) MF() bool { return binary.BigEndian.Uint16(h[ipv4FlagsFrag:])&ipv4FlagMF != 0 }

// FragmentOffset is the fragment offset in 8-byte units.
func (h IPv4) FragmentOffset() uint16 {
	return binary.BigEndian.Uint16(h[ipv4FlagsFrag:]) & ipv4OffsetMask
}

// TTL is the time to live.
func (h IPv4) TTL() uint8 { return h[ipv4TTL] }

// Protocol is the IP protocol number of the payload.
func (h IPv4) Protocol() uint8 { return h[ipv4Protocol] }

// Checksum is the header checksum as stored.
func (h IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(h[ipv4Checksum:]) }

// Src is the source address.
func (h IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(h[ipv4Src : ipv4Src+4])) }

// Dst is the destination address.
func (h IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(h[ipv4Dst : ipv4Dst+4])) }

// ParseIPv4 validates the IPv4 header at the start of b and returns it with
// the payload it delimits. It checks, in order: room for the fixed header,
// version 4, IHL of at least 5 words and within b, a total length covering
// the header and within b, the header checksum, and that the datagram is
// not a fragment. Bytes after the total length (link-layer padding) are
// not part of the payload. Options are accepted and skipped; the reserved
// flag is ignored, as receivers do.
func ParseIPv4(b []byte) (h IPv4, payload []byte, err error) {
	if len(b) < IPv4HeaderLen {
		return nil, nil, ErrTruncated
	}
	if b[ipv4VersionIHL]>>4 != 4 {
		return nil, nil, ErrVersion
	}
	hl := int(b[ipv4VersionIHL]&0x0f) * 4
	if hl < IPv4HeaderLen {
		return nil, nil, ErrHeaderLen
	}
	if hl > len(b) {
		return nil, nil, ErrTruncated
	}
	total := int(binary.BigEndian.Uint16(b[ipv4TotalLen:]))
	if total < hl {
		return nil, nil, ErrTotalLen
	}
	if total > len(b) {
		return nil, nil, ErrTruncated
	}
	if fold(sum(0, b[:hl])) != 0xffff {
		return nil, nil, ErrChecksum
	}
	if binary.BigEndian.Uint16(b[ipv4FlagsFrag:])&(ipv4FlagMF|ipv4OffsetMask) != 0 {
		return nil, nil, ErrFragment
	}
	return IPv4(b[:hl]), b[hl:total], nil
}

// IPv4Fields is what [PutIPv4] writes. The header never carries options.
type IPv4Fields struct {
	Src, Dst   netip.Addr // both IPv4 (Is4)
	Protocol   uint8
	PayloadLen int // bytes after the header
	TTL        uint8
	TOS        uint8 // DSCP and ECN
	ID         uint16
	DF         bool
}

// PutIPv4 writes a 20-byte IPv4 header for f into b[:IPv4HeaderLen],
// checksum included. The payload is not touched: the IPv4 checksum covers
// the header only.
func PutIPv4(b []byte, f IPv4Fields) error {
	if len(b) < IPv4HeaderLen {
		return ErrBounds
	}
	if !f.Src.Is4() || !f.Dst.Is4() {
		return ErrAddrFamily
	}
	if f.PayloadLen < 0 || f.PayloadLen > ipv4MaxTotalLen-IPv4HeaderLen {
		return ErrTooLong
	}
	h := b[:IPv4HeaderLen]
	h[ipv4VersionIHL] = 4<<4 | IPv4HeaderLen/4
	h[ipv4TOS] = f.TOS
	binary.BigEndian.PutUint16(h[ipv4TotalLen:], uint16(IPv4HeaderLen+f.PayloadLen))
	binary.BigEndian.PutUint16(h[ipv4ID:], f.ID)
	var flags uint16
	if f.DF {
		flags = ipv4FlagDF
	}
	binary.BigEndian.PutUint16(h[ipv4FlagsFrag:], flags)
	h[ipv4TTL] = f.TTL
	h[ipv4Protocol] = f.Protocol
	h[ipv4Checksum], h[ipv4Checksum+1] = 0, 0
	src, dst := f.Src.As4(), f.Dst.As4()
	copy(h[ipv4Src:], src[:])
	copy(h[ipv4Dst:], dst[:])
	binary.BigEndian.PutUint16(h[ipv4Checksum:], Checksum(h))
	return nil
}
