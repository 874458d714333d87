package esp

import "encoding/binary"

// Seal encrypts buf[off:off+n] in place into an ESP packet and returns it:
// buf[off-HeaderLen-IVLen : off+n+TrailerLen(n)].
//
// The caller provides Headroom bytes in front of off (the ESP header and IV
// are written there, and the ScratchLen bytes before them are overwritten:
// that is where the outer header goes next)
// and TrailerLen(n) (at most MaxTrailer) bytes of buf after the payload.
// nextHeader goes in the trailer: NextHeaderIPv4, NextHeaderIPv6 or
// NextHeaderMPLS in tunnel mode, the upper protocol in transport mode,
// NoNextHeader for a dummy packet.
//
// Seal takes the next sequence number and uses it as the IV. It allocates
// nothing and is safe to call from many goroutines at once, each with its
// own buffer. Errors: ErrNoHeadroom, ErrNoTailroom, ErrSequenceExhausted.
func (sa *SA) Seal(buf []byte, off, n int, nextHeader uint8) ([]byte, error) {
	if off < Headroom {
		sa.sealed.errors.Add(1)
		return nil, ErrNoHeadroom
	}
	pad := padLen(n)
	if n < 0 || off > len(buf) || n > len(buf)-off || pad+2+ICVLen > len(buf)-off-n {
		sa.sealed.errors.Add(1)
		return nil, ErrNoTailroom
	}
	seq, ok := sa.nextSeq()
	if !ok {
		sa.sealed.exhausted.Add(1)
		return nil, ErrSequenceExhausted
	}
	iv := seq
	if sa.testIV != nil {
		iv = *sa.testIV
	}

	// Trailer: pad bytes 1, 2, 3, ..., pad length, next header.
	end := off + n
	tr := buf[end : end+pad+2]
	for i := range pad {
		tr[i] = byte(i + 1)
	}
	tr[pad] = byte(pad)
	tr[pad+1] = nextHeader

	// Nonce and AAD in the scratch and header bytes (see the package
	// documentation): r[0:12] = salt || IV, r[12:] = SPI || [hi] || lo.
	r := buf[off-Headroom : off]
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
	plain := buf[off : end+pad+2]
	sa.aead.Seal(plain[:0], r[0:12], plain, aad)

	// The real header over the scratch layout: SPI, low 32 bits, IV.
	h := r[ScratchLen:]
	binary.BigEndian.PutUint32(h[0:4], sa.spi)
	binary.BigEndian.PutUint32(h[4:8], uint32(seq))
	binary.BigEndian.PutUint64(h[8:16], iv)

	sa.sealed.packets.Add(1)
	sa.sealed.bytes.Add(uint64(n))
	return buf[off-HeaderLen-IVLen : end+pad+2+ICVLen], nil
}
