package esp

import "encoding/binary"

// Seal encrypts buf[off:off+n] in place into an ESP packet and returns it:
// buf[off-HeaderLen-Cipher.IVLen() : off+n+Cipher.TrailerLen(n)].
//
// The caller provides ScratchLen+HeaderLen+Cipher.IVLen() bytes in front of
// off (at most Headroom: the ESP header and IV are written there, and the
// ScratchLen bytes before them may be overwritten: that is where the outer
// header goes next) and Cipher.TrailerLen(n) (at most MaxTrailer) bytes of
// buf after the payload. nextHeader goes in the trailer: NextHeaderIPv4,
// NextHeaderIPv6 or NextHeaderMPLS in tunnel mode, the upper protocol in
// transport mode, NoNextHeader for a dummy packet.
//
// Seal takes the next sequence number, which is also the AEAD IV; a CBC IV
// is derived from it (see the package documentation). It allocates
// nothing and is safe to call from many goroutines at once, each with its
// own buffer. Errors: ErrNoHeadroom, ErrNoTailroom, ErrSequenceExhausted.
func (sa *SA) Seal(buf []byte, off, n int, nextHeader uint8) ([]byte, error) {
	seq, end, err := sa.frame(buf, off, n, nextHeader)
	if err != nil {
		return nil, err
	}
	pkt := buf[off-HeaderLen-sa.ivLen : end+sa.icvLen]
	if sa.cbc != nil {
		sa.cbc.nextIV(pkt[HeaderLen:HeaderLen+CBCIVLen], seq)
		sa.sealCBC(pkt, seq)
	} else {
		sa.sealAEAD(buf, off, end, seq, seq)
	}
	return pkt, nil
}

// frame checks Seal's room, takes the next sequence number, counts the
// payload's bytes and writes the trailer after buf[off:off+n]; end is where
// the trailer ends.
func (sa *SA) frame(buf []byte, off, n int, nextHeader uint8) (seq uint64, end int, err error) {
	if off < ScratchLen+HeaderLen+sa.ivLen {
		sa.sealed.errors.Add(1)
		return 0, 0, ErrNoHeadroom
	}
	m := sa.blockMask
	pad := (m + 1 - (n+2)&m) & m
	if n < 0 || off > len(buf) || n > len(buf)-off || pad+2+sa.icvLen > len(buf)-off-n {
		sa.sealed.errors.Add(1)
		return 0, 0, ErrNoTailroom
	}
	seq, ok := sa.nextSeq()
	if !ok {
		sa.sealed.exhausted.Add(1)
		return 0, 0, ErrSequenceExhausted
	}
	// Counted here, before the cipher writes the packet: the locked add
	// then follows nextSeq's compare-and-swap with next to nothing in the
	// store buffer to drain. Nothing fails past nextSeq, so the packet
	// count is the sequence numbers used (Counters).
	sa.sealed.bytes.Add(uint64(n))

	// Trailer: pad bytes 1, 2, 3, ..., pad length, next header.
	end = off + n
	tr := buf[end : end+pad+2]
	for i := range pad {
		tr[i] = byte(i + 1)
	}
	tr[pad] = byte(pad)
	tr[pad+1] = nextHeader
	return seq, end + pad + 2, nil
}

// sealAEAD encrypts buf[off:end] (payload and trailer) and writes the
// header, IV and ICV around it. The IV is the sequence number but in the
// tests that reproduce published vectors (export_test.go).
func (sa *SA) sealAEAD(buf []byte, off, end int, seq, iv uint64) {
	// Nonce and AAD in the scratch and header bytes (see the package
	// documentation): r[0:12] = salt || IV, r[12:] = SPI || [hi] || lo.
	r := buf[off-ScratchLen-HeaderLen-IVLen : off]
	binary.BigEndian.PutUint32(r[0:4], sa.salt)
	binary.BigEndian.PutUint64(r[4:12], iv)
	aad := r[12:]
	binary.BigEndian.PutUint32(aad[0:4], sa.spi)
	if sa.esn {
		binary.BigEndian.PutUint64(aad[4:12], seq)
	} else {
		aad = aad[:8]
		binary.BigEndian.PutUint32(aad[4:8], uint32(seq))
	}
	plain := buf[off:end]
	sa.aead.Seal(plain[:0], r[0:12], plain, aad)

	// The real header over the scratch layout: SPI, low 32 bits, IV.
	h := r[ScratchLen:]
	binary.BigEndian.PutUint32(h[0:4], sa.spi)
	binary.BigEndian.PutUint32(h[4:8], uint32(seq))
	binary.BigEndian.PutUint64(h[8:16], iv)
}

// sealCBC fills in the ESP packet pkt whose IV, payload and trailer are in
// place: header, CBC encryption, then the HMAC over header, IV and
// ciphertext into the ICV (encrypt-then-MAC, RFC 4303 section 3.3.2).
func (sa *SA) sealCBC(pkt []byte, seq uint64) {
	binary.BigEndian.PutUint32(pkt[0:4], sa.spi)
	binary.BigEndian.PutUint32(pkt[4:8], uint32(seq))
	iv := pkt[HeaderLen : HeaderLen+CBCIVLen]
	icvAt := len(pkt) - sa.icvLen
	plain := pkt[HeaderLen+CBCIVLen : icvAt]
	w := sa.cbc.get()
	w.enc.SetIV(iv)
	w.enc.CryptBlocks(plain, plain)
	copy(pkt[icvAt:], sa.cbc.mac(w, pkt[:icvAt], sa.esn, seq))
	sa.cbc.put(w)
}
