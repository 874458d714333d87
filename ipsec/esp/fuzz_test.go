package esp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// fuzzSAs returns fresh receivers (one SA per cipher, SPI 0x1000 + its
// index, ESN on for ChaCha20-Poly1305) and the packets sealed for them,
// which alone may open.
func fuzzSAs(t testing.TB) ([]*SA, [][]byte) {
	var rxs []*SA
	var sealed [][]byte
	for i, c := range allCiphers {
		cfg := Config{SPI: 0x1000 + uint32(i), Cipher: c, Key: testKey(c, 0x5a), ESN: c == ChaCha20Poly1305}
		rxs = append(rxs, mustSA(t, cfg))
		tx := mustSA(t, cfg)
		// CBC IVs come from a random per-SA key: fix them, so that
		// the fuzzing workers, which build their own SAs, seal the
		// same packets as the process that added the seeds.
		iv := fixedIV{cbc: &[CBCIVLen]byte{0x10, byte(i)}}
		for _, n := range []int{0, 3, 64} {
			sealed = append(sealed, sealFixedIV(t, tx, payloadFor(NextHeaderIPv4, n), NextHeaderIPv4, iv))
		}
	}
	return rxs, sealed
}

// FuzzOpen opens arbitrary bytes with the SA its SPI names, or, for an
// SPI no SA has (or fewer than 4 bytes), with SA number which (the SPI
// check must catch it). Dispatch by SPI is esptransport.InboundTable's,
// fuzzed there. With withHeader set, the bytes are prefixed with a valid
// ESP header (SPI number which, sequence number 1) so that the fuzzer gets
// past the SPI and window checks to the ICV. Open must never panic, and
// must succeed only for a packet this test sealed, with the SA it names.
func FuzzOpen(f *testing.F) {
	rxs, sealed := fuzzSAs(f)
	for _, p := range sealed {
		f.Add(false, uint8(0), p)
		if binary.BigEndian.Uint32(p[4:8]) == 1 {
			f.Add(true, uint8(binary.BigEndian.Uint32(p[0:4])-0x1000), p[HeaderLen:])
		}
	}
	f.Add(false, uint8(0), []byte{})
	f.Add(false, uint8(0), []byte{0, 0, 0x10, 0})
	f.Add(true, uint8(2), make([]byte, 40))
	f.Add(true, uint8(1), bytes.Repeat([]byte{0xff}, 100))
	f.Fuzz(func(t *testing.T, withHeader bool, which uint8, data []byte) {
		// Empty the windows (test only) so every input meets the
		// same SAs; the fuzzer runs inputs one at a time.
		for _, rx := range rxs {
			_ = rx.window.Init(0)
		}
		pkt := data
		if withHeader {
			spi := 0x1000 + uint32(which)%uint32(len(rxs))
			pkt = binary.BigEndian.AppendUint32(nil, spi)
			pkt = binary.BigEndian.AppendUint32(pkt, 1)
			pkt = append(pkt, data...)
		}
		rx := rxs[int(which)%len(rxs)]
		named := false
		if len(pkt) >= 4 {
			if i := binary.BigEndian.Uint32(pkt) - 0x1000; i < uint32(len(rxs)) {
				rx, named = rxs[i], true
			}
		}
		buf := make([]byte, ScratchLen+len(pkt))
		copy(buf[ScratchLen:], pkt)
		payload, _, err := rx.Open(buf, ScratchLen, len(pkt))
		if err != nil {
			if payload != nil {
				t.Fatalf("error %v with payload %x", err, payload)
			}
			return
		}
		if !named {
			t.Fatalf("SA 0x%08x opened a packet with SPI %x", rx.SPI(), pkt[:4])
		}
		for _, s := range sealed {
			if bytes.Equal(s, pkt) {
				return
			}
		}
		t.Fatalf("Open accepted a packet nobody sealed: %x", pkt)
	})
}

// FuzzOpenTrailer seals arbitrary bytes as the encrypted part of a packet
// (payload, padding, pad length, next header) with the right key, so that
// the fuzzer reaches the trailer checks behind the ICV, and compares Open
// with a direct reading of RFC 4303 section 2.4.
func FuzzOpenTrailer(f *testing.F) {
	const c = AES128GCM16
	key := testKey(c, 0x33)
	cfg := Config{SPI: 0x1000, Cipher: c, Key: key}
	rx := mustSA(f, cfg)
	f.Add([]byte{0x45, 0, 0, 0, 1, 2, 2, 4})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 6, 41})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{1, 2, 2, 137})
	f.Add([]byte{1, 3, 2, 4})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, plain []byte) {
		_ = rx.window.Init(0) // test only: every input uses seq 1
		pkt := rfcSeal(t, c, key, cfg.SPI, 1, false, 1, plain)
		buf := make([]byte, ScratchLen+len(pkt))
		copy(buf[ScratchLen:], pkt)
		payload, nh, err := rx.Open(buf, ScratchLen, len(pkt))

		if len(plain) < 4 || len(plain)%4 != 0 {
			if err != ErrTruncated {
				t.Fatalf("%d-byte encrypted part: %v, want ErrTruncated", len(plain), err)
			}
			return
		}
		checkTrailer(t, plain, payload, nh, err)
	})
}

// FuzzOpenTrailerCBC is FuzzOpenTrailer for AES-CBC + HMAC-SHA-384: the
// fuzzer's bytes are the plaintext of a packet the standard library seals
// (rfcSealCBC) with the receiver's keys, so that it gets past the ICV to
// the block alignment and trailer checks.
func FuzzOpenTrailerCBC(f *testing.F) {
	const c = AES256CBCSHA384
	key := testKey(c, 0x33)
	cfg := Config{SPI: 0x1000, Cipher: c, Key: key}
	rx := mustSA(f, cfg)
	iv := bytes.Repeat([]byte{0x5c}, CBCIVLen)
	f.Add(append(countUp(14), 14, 4))
	f.Add(append([]byte{0x45, 0, 0, 0}, append(countUp(10), 10, 4)...))
	f.Add(make([]byte, 16))
	f.Add(append(countUp(13), 1, 13, 41)) // pad byte 1 where 13 belongs
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Add(make([]byte, 12))
	f.Fuzz(func(t *testing.T, plain []byte) {
		if len(plain)%16 != 0 {
			// Not whole blocks: seal a truncated packet by hand
			// (Open must reject it before the ICV).
			pkt := rfcSealCBC(t, c, key, cfg.SPI, 1, false, iv, make([]byte, 16))
			pkt = append(pkt[:24], append(plain, pkt[24+16:]...)...)
			buf := make([]byte, ScratchLen+len(pkt))
			copy(buf[ScratchLen:], pkt)
			_ = rx.window.Init(0)
			if _, _, err := rx.Open(buf, ScratchLen, len(pkt)); err != ErrTruncated {
				t.Fatalf("%d-byte encrypted part: %v, want ErrTruncated", len(plain), err)
			}
			return
		}
		_ = rx.window.Init(0) // test only: every input uses seq 1
		pkt := rfcSealCBC(t, c, key, cfg.SPI, 1, false, iv, plain)
		buf := make([]byte, ScratchLen+len(pkt))
		copy(buf[ScratchLen:], pkt)
		payload, nh, err := rx.Open(buf, ScratchLen, len(pkt))
		if len(plain) == 0 {
			if err != ErrTruncated {
				t.Fatalf("no encrypted block: %v, want ErrTruncated", err)
			}
			return
		}
		checkTrailer(t, plain, payload, nh, err)
	})
}

// checkTrailer judges Open's answer for a packet whose decrypted part was
// plain: bad padding (RFC 4303 2.4: 1, 2, 3, ...) must be ErrBadPadding,
// good padding must give back the payload and next header before it.
func checkTrailer(t *testing.T, plain, payload []byte, nh uint8, err error) {
	t.Helper()
	last := len(plain) - 2
	pad := int(plain[last])
	ok := pad <= last
	for i := 0; ok && i < pad; i++ {
		ok = plain[last-pad+i] == byte(i+1)
	}
	switch {
	case !ok && err != ErrBadPadding:
		t.Fatalf("trailer %x: %v, want ErrBadPadding", plain[max(0, last-pad):], err)
	case ok && err != nil:
		t.Fatalf("valid trailer %x: %v", plain[last-pad:], err)
	case ok && (nh != plain[last+1] || !bytes.Equal(payload, plain[:last-pad])):
		t.Fatalf("Open = nh %d %x, want nh %d %x", nh, payload, plain[last+1], plain[:last-pad])
	}
}
