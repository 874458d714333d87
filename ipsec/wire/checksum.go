package wire

import (
	"encoding/binary"
	"net/netip"
)

// The Internet checksum (RFC 1071) is the one's-complement of the
// one's-complement sum of 16-bit words. Because 2^16 ≡ 1 (mod 2^16-1),
// adding 32-bit big-endian words into a wide accumulator and folding at the
// end gives the same sum with half the additions; 8 bytes per iteration
// keeps the IPv6 UDP checksum, which covers the whole ESP packet, cheap.

// sum adds b to the running sum acc. b is taken as big-endian 16-bit words,
// an odd last byte padded with a zero on the right (RFC 1071 section 4.1).
// acc cannot overflow for any b shorter than 2^32 words.
func sum(acc uint64, b []byte) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		acc += v>>32 + v&0xffffffff
		b = b[8:]
	}
	if len(b) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces acc to 16 bits with end-around carry. The result is zero
// only if acc is zero.
func fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}

// Checksum returns the Internet checksum (RFC 1071) of b: the value to store
// in a zeroed checksum field so that the sum over b verifies.
func Checksum(b []byte) uint16 { return ^fold(sum(0, b)) }

// pseudoHeaderSum is the sum over the IPv4 (RFC 768) or IPv6 (RFC 8200
// section 8.1) pseudo-header for an upper-layer packet of length n. src and
// dst are of the same family; callers check.
func pseudoHeaderSum(src, dst netip.Addr, proto uint8, n int) uint64 {
	var acc uint64
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		acc = sum(acc, s[:])
		acc = sum(acc, d[:])
	} else {
		s, d := src.As16(), dst.As16()
		acc = sum(acc, s[:])
		acc = sum(acc, d[:])
	}
	// Both layouts reduce to "length + protocol" once summed: the IPv4
	// zero/protocol/length words and the IPv6 32-bit length and
	// zero/next-header word add up the same way.
	return acc + uint64(proto) + uint64(n>>16) + uint64(n&0xffff)
}

// UpperChecksum returns the checksum of an upper-layer message msg of
// protocol proto (ICMPv6, UDP, TCP) from src to dst, pseudo-header
// included, for msg's zeroed checksum field.
func UpperChecksum(src, dst netip.Addr, proto uint8, msg []byte) uint16 {
	return ^fold(sum(pseudoHeaderSum(src, dst, proto, len(msg)), msg))
}
