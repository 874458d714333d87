package esp

import (
	"crypto/subtle"
	"encoding/binary"
)

// Open authenticates and decrypts the ESP packet buf[off:off+n] in place and
// returns its payload (a subslice of buf, at off+HeaderLen+Cipher.IVLen())
// and next header.
//
// The ScratchLen bytes in front of the packet, buf[off-ScratchLen:off], may
// be overwritten (read the outer header first), and so may the ESP header.
// On any error the payload bytes are undefined.
//
// Order of checks (RFC 4303 section 3.4): length, SPI, anti-replay window,
// ICV, padding, window update. The ICV is checked before anything is
// decrypted, and a packet that fails authentication, or whose padding is
// wrong, never moves the window. Open allocates nothing, never panics, and on every drop bumps the
// counter its error names. Errors: ErrNoHeadroom, ErrTruncated,
// ErrUnknownSPI, ErrReplayed, ErrTooOld, ErrAuthFailed, ErrBadPadding.
//
// With ESN, a packet from below the window is read as one 2^32 numbers
// ahead (RFC 4303 appendix A) and fails with ErrAuthFailed, not ErrTooOld.
//
// A payload with next header NoNextHeader is a dummy packet: discard it.
func (sa *SA) Open(buf []byte, off, n int) (payload []byte, nextHeader uint8, err error) {
	if off < ScratchLen {
		sa.opened.malformed.Add(1)
		return nil, 0, ErrNoHeadroom
	}
	if n < HeaderLen+sa.ivLen+sa.blockMask+1+sa.icvLen || off > len(buf) || n > len(buf)-off ||
		(n-HeaderLen-sa.ivLen-sa.icvLen)&sa.blockMask != 0 {
		sa.opened.malformed.Add(1)
		return nil, 0, ErrTruncated
	}
	pkt := buf[off : off+n]
	spi := binary.BigEndian.Uint32(pkt[0:4])
	lo := binary.BigEndian.Uint32(pkt[4:8])
	if spi != sa.spi {
		sa.opened.malformed.Add(1)
		return nil, 0, ErrUnknownSPI
	}
	seq, ok := sa.inferSeq(lo)
	if !ok {
		sa.opened.tooOld.Add(1)
		return nil, 0, ErrTooOld
	}
	if err := sa.window.Check(seq); err != nil && !sa.noReplay {
		return nil, 0, sa.countReplay(err)
	}

	var plain []byte
	if sa.cbc != nil {
		plain, ok = sa.openCBC(pkt, seq)
	} else {
		plain, ok = sa.openAEAD(buf[off-ScratchLen:off+n], seq)
	}
	if !ok {
		sa.opened.authFailed.Add(1)
		return nil, 0, ErrAuthFailed
	}

	// Trailer: ... pad 1, 2, 3, ..., pad length, next header.
	last := len(plain) - 2
	pad := int(plain[last])
	if pad > last {
		sa.opened.badPadding.Add(1)
		return nil, 0, ErrBadPadding
	}
	body := last - pad
	for i := range pad {
		if plain[body+i] != byte(i+1) {
			sa.opened.badPadding.Add(1)
			return nil, 0, ErrBadPadding
		}
	}

	// The window counts the packet in the swap that records its number:
	// two atomic additions fewer per packet (see Counters).
	if sa.noReplay {
		// The window is not consulted; keep its top for show output.
		_ = sa.window.Update(seq)
		sa.opened.packets.Add(1)
		sa.opened.bytes.Add(uint64(body))
	} else if err := sa.window.UpdateCounted(seq, uint64(body)); err != nil {
		return nil, 0, sa.countReplay(err)
	}
	return plain[:body:body], plain[last+1], nil
}

// openAEAD authenticates and decrypts the packet in r[ScratchLen:], with
// the ScratchLen bytes in front of it to lay out nonce and AAD, and returns
// the plaintext (payload and trailer).
func (sa *SA) openAEAD(r []byte, seq uint64) ([]byte, bool) {
	pkt := r[ScratchLen:]
	iv := binary.BigEndian.Uint64(pkt[8:16])
	// Nonce and AAD over the scratch bytes and the header, as in Seal.
	binary.BigEndian.PutUint32(r[0:4], sa.salt)
	binary.BigEndian.PutUint64(r[4:12], iv)
	aad := r[12 : ScratchLen+HeaderLen+IVLen]
	binary.BigEndian.PutUint32(aad[0:4], sa.spi)
	if sa.esn {
		binary.BigEndian.PutUint64(aad[4:12], seq)
	} else {
		aad = aad[:8]
		binary.BigEndian.PutUint32(aad[4:8], uint32(seq))
	}
	ct := pkt[HeaderLen+IVLen:]
	plain, err := sa.aead.Open(ct[:0], r[0:12], ct, aad)
	return plain, err == nil
}

// openCBC checks the packet's ICV in constant time and only then decrypts
// the ciphertext in place and returns it (payload and trailer).
func (sa *SA) openCBC(pkt []byte, seq uint64) ([]byte, bool) {
	icvAt := len(pkt) - sa.icvLen
	w := sa.cbc.get()
	defer sa.cbc.put(w)
	if subtle.ConstantTimeCompare(sa.cbc.mac(w, pkt[:icvAt], sa.esn, seq), pkt[icvAt:]) != 1 {
		return nil, false
	}
	ct := pkt[HeaderLen+CBCIVLen : icvAt]
	w.dec.SetIV(pkt[HeaderLen : HeaderLen+CBCIVLen])
	w.dec.CryptBlocks(ct, ct)
	return ct, true
}

// countReplay bumps the counter for a window rejection and returns err.
func (sa *SA) countReplay(err error) error {
	if err == ErrTooOld {
		sa.opened.tooOld.Add(1)
	} else {
		sa.opened.replayed.Add(1)
	}
	return err
}
