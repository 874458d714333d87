package ah

import (
	"encoding/binary"
)

// computeICV computes the ICV of the IP packet buf[start:end], whose IP
// header is h bytes long and is followed by the AH header of ahLen bytes,
// into w.sum[:ICVLen], following RFC 4302 section 3.3.3: the ICV input is
// the packet with the IP header's mutable fields and the AH ICV zeroed,
// then, with ESN, the high 32 bits of seq. ICV padding is covered
// as sent, not zeroed: RFC 4302 section 3.3.3.2.1 includes the padding
// bytes in the ICV calculation, and Linux's ah6 zeroes only the ICV.
//
// It zeroes those fields in place for the computation and puts back what
// was there (the ICV's old content is left in w.icv, which Open compares
// against). With AES-GMAC and ESN the 4 bytes after the packet
// are borrowed the same way: the caller has checked they exist.
func (sa *SA) computeICV(w *work, buf []byte, start, end, h, ahLen int, seq uint64) {
	pkt := buf[start:end]
	copy(w.saved[:h], pkt[:h])
	zeroMutable(pkt[:h])
	icvAt := h + FixedLen + sa.integ.IVLen()
	field := pkt[icvAt : icvAt+ICVLen]
	copy(w.icv[:], field)
	clear(field)

	if sa.gmac == nil {
		w.mac.Reset()
		w.mac.Write(pkt)
		if sa.esn {
			putSeqHi(w.hi[:], seq)
			w.mac.Write(w.hi[:])
		}
		w.mac.Sum(w.sum[:0])
	} else {
		// RFC 4543 section 3 for AH: nonce = salt || IV, the whole
		// packet (IV included, ICV zeroed) as AAD, empty plaintext.
		copy(w.nonce[:SaltLen], sa.salt[:])
		copy(w.nonce[SaltLen:], pkt[h+FixedLen:h+FixedLen+GMACIVLen])
		aad := pkt
		if sa.esn {
			copy(w.tail[:], buf[end:end+ESNTailroom])
			putSeqHi(buf[end:], seq)
			aad = buf[start : end+ESNTailroom]
		}
		sa.gmac.Seal(w.sum[:0], w.nonce[:], nil, aad)
		if sa.esn {
			copy(buf[end:], w.tail[:])
		}
	}

	copy(pkt[:h], w.saved[:h])
	copy(field, w.icv[:])
}

// zeroMutable zeroes the fields of an IPv4 (20-byte) or IPv6 (40-byte)
// header that routers may change in transit and the sender cannot
// predict (RFC 4302 section 3.3.3.1): for IPv4 TOS, flags and fragment
// offset, TTL and header checksum; for IPv6 traffic class, flow label and
// hop limit.
func zeroMutable(hdr []byte) {
	if len(hdr) == IPv4HeaderLen {
		hdr[ipv4TOS] = 0
		binary.BigEndian.PutUint16(hdr[ipv4FlagsFrag:], 0)
		hdr[ipv4TTL] = 0
		binary.BigEndian.PutUint16(hdr[ipv4Checksum:], 0)
		return
	}
	hdr[0] &= 0xf0
	hdr[1], hdr[2], hdr[3] = 0, 0, 0
	hdr[ipv6HopLimit] = 0
}

// putAH writes the AH header for an SA into a[:ahLen]: next header,
// payload length (in 32-bit words, minus 2: RFC 4302 section 2.2),
// reserved, SPI, the low 32 bits of seq, for AES-GMAC the IV (the
// sequence number, unique per SA as RFC 4543 section 3.1 requires), and
// a zero ICV and zero padding.
func (sa *SA) putAH(a []byte, nextHeader uint8, ahLen int, seq uint64) {
	a[0] = nextHeader
	a[1] = byte(ahLen/4 - 2)
	a[2], a[3] = 0, 0
	binary.BigEndian.PutUint32(a[4:8], sa.spi)
	binary.BigEndian.PutUint32(a[8:12], uint32(seq))
	if sa.gmac != nil {
		binary.BigEndian.PutUint64(a[FixedLen:FixedLen+GMACIVLen], seq)
	}
	clear(a[FixedLen+sa.integ.IVLen() : ahLen])
}
