package esp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// TestDecryptWithStdlib opens packets that Seal produced with nothing but
// crypto/aes + cipher.NewGCM or x/crypto's chacha20poly1305, following the
// RFC formulas: nonce = salt || IV, AAD = SPI || seq (|| with ESN the high
// half in between), plaintext = payload || 1, 2, ... || pad length || next
// header, padded to 4 bytes.
func TestDecryptWithStdlib(t *testing.T) {
	for _, c := range aeadCiphers {
		for _, esn := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/esn=%v", c, esn), func(t *testing.T) {
				key := testKey(c, 42)
				const spi = 0xc0ffee01
				// Start near 2^32 so that ESN packets carry a
				// non-zero high half that is not on the wire.
				start := uint64(0xfffffff0)
				sa := mustSA(t, Config{SPI: spi, Cipher: c, Key: key, ESN: esn, InitialSeq: start})
				aead, salt := rfcAEAD(t, c, key)
				for i, n := range []int{0, 1, 2, 3, 4, 100, 1400} {
					if !esn && start+uint64(i)+1 > 1<<32-1 {
						break
					}
					payload := payloadFor(NextHeaderIPv6, n)
					pkt := seal(t, sa, payload, NextHeaderIPv6)
					seq := start + uint64(i) + 1

					if got := binary.BigEndian.Uint32(pkt[0:4]); got != spi {
						t.Fatalf("SPI on the wire %#x", got)
					}
					if got := binary.BigEndian.Uint32(pkt[4:8]); got != uint32(seq) {
						t.Fatalf("sequence number on the wire %#x, want %#x", got, uint32(seq))
					}
					nonce := append(append([]byte(nil), salt...), pkt[8:16]...)
					plain, err := aead.Open(nil, nonce, pkt[16:], rfcAAD(spi, seq, esn))
					if err != nil {
						t.Fatalf("size %d: standard library cannot open our packet: %v", n, err)
					}
					pad := (4 - (n+2)%4) % 4
					want := append(append([]byte(nil), payload...), []byte{1, 2, 3}[:pad]...)
					want = append(want, byte(pad), NextHeaderIPv6)
					if !bytes.Equal(plain, want) {
						t.Fatalf("size %d: plaintext\n got %x\nwant %x", n, plain, want)
					}
				}
			})
		}
	}
}

// TestCBCWithStdlib crosses Seal and Open with a second implementation of
// RFC 3602 + RFC 4868 built from crypto/aes, crypto/cipher and crypto/hmac
// alone (rfcSealCBC, rfcOpenCBC), for every CBC suite, with and without
// ESN, starting near 2^32 so that the ESN high half (MACed, never sent) is
// not zero.
func TestCBCWithStdlib(t *testing.T) {
	for _, c := range cbcCiphers {
		for _, esn := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/esn=%v", c, esn), func(t *testing.T) {
				key := testKey(c, 42)
				const spi = 0xc0ffee01
				start := uint64(0xfffffff0)
				cfg := Config{SPI: spi, Cipher: c, Key: key, ESN: esn, InitialSeq: start}
				tx := mustSA(t, cfg)
				cfg.InitialSeq = 0
				rx := mustSA(t, cfg)
				// Move the receiver's window up to the sender (test
				// only), so that it infers the ESN high half.
				if err := rx.window.Update(start); err != nil {
					t.Fatal(err)
				}
				for i, n := range []int{0, 1, 13, 14, 15, 16, 100, 1400} {
					seq := start + uint64(i) + 1
					if !esn && seq > 1<<32-1 {
						break
					}
					payload := payloadFor(NextHeaderIPv6, n)
					pkt := seal(t, tx, payload, NextHeaderIPv6)
					plain, err := rfcOpenCBC(t, c, key, seq, esn, pkt)
					if err != nil {
						t.Fatalf("size %d: the standard library cannot open our packet: %v", n, err)
					}
					pad := (16 - (n+2)%16) % 16
					want := append(append(append([]byte(nil), payload...), countUp(pad)...), byte(pad), NextHeaderIPv6)
					if !bytes.Equal(plain, want) {
						t.Fatalf("size %d: plaintext\n got %x\nwant %x", n, plain, want)
					}

					// And the other way: a packet the standard
					// library sealed (its own IV) opens here.
					iv := bytes.Repeat([]byte{byte(i) + 0xa0}, 16)
					ref := rfcSealCBC(t, c, key, spi, seq, esn, iv, want)
					got, nh, err := open(rx, ref)
					if err != nil || nh != NextHeaderIPv6 || !bytes.Equal(got, payload) {
						t.Fatalf("size %d: Open of the standard library's packet = nh %d, %v", n, nh, err)
					}
				}
			})
		}
	}
}
