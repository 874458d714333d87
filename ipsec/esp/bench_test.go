package esp

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// Benchmarks come in pairs with the same sub-benchmark names, CIPHER/SIZE:
// BenchmarkESPSeal/BenchmarkAEADSeal and BenchmarkESPOpen/BenchmarkAEADOpen.
// The AEAD ones run the bare cipher.AEAD on the same bytes as ESP does: the
// payload plus ESP trailer (same plaintext length), an 8-byte AAD (no ESN)
// and a 12-byte nonce, in place. SIZE is the inner packet; SetBytes counts
// it. One run gives the ESP/AEAD ratio:
//
//	go test -run='^$' -bench='ESP|AEAD' -benchtime=1s -count=3 ./ipsec/esp/

var benchSizes = []int{64, 512, 1400}

// benchOff is where the benchmarks put the payload: room for an outer IPv6
// and UDP header (48 bytes) and the ESP header and IV (16) in front of it, as
// the send path lays buffers out. It also puts the payload on the same
// 64-byte alignment as the AEAD benchmarks' plaintext.
const benchOff = 64

// openRing is how many distinct sealed packets an Open benchmark cycles
// through: small enough to stay in cache, and a whole ring of numbers
// before the replay window must be emptied.
const openRing = 64

func benchCases(b *testing.B, ciphers []Cipher, f func(b *testing.B, c Cipher, size int)) {
	for _, c := range ciphers {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", c, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				f(b, c, size)
			})
		}
	}
}

func BenchmarkESPSeal(b *testing.B) {
	benchCases(b, allCiphers, func(b *testing.B, c Cipher, size int) {
		sa := mustSA(b, Config{SPI: 0x1000, Cipher: c, Key: testKey(c, 1)})
		buf := make([]byte, benchOff+size+MaxTrailer)
		copy(buf[benchOff:], payloadFor(NextHeaderIPv4, size))
		for b.Loop() {
			// Seals whatever the last round left in place: the
			// cost does not depend on the bytes.
			if _, err := sa.Seal(buf, benchOff, size, NextHeaderIPv4); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAEADSeal(b *testing.B) {
	benchCases(b, aeadCiphers, func(b *testing.B, c Cipher, size int) {
		aead, _ := rfcAEAD(b, c, testKey(c, 1))
		nonce, aad := make([]byte, 12), make([]byte, 8)
		plain := make([]byte, size+c.padLen(size)+2, size+c.padLen(size)+2+ICVLen)
		for b.Loop() {
			aead.Seal(plain[:0], nonce, plain, aad)
		}
	})
}

// BenchmarkESPOpen opens a ring of pre-sealed packets with consecutive
// sequence numbers. Open decrypts in place, so each op first copies the
// packet into the work buffer (BenchmarkAEADOpen does the same copy). After
// every openRing packets the test empties the replay window (test-only
// reset, amortized over the ring) so the numbers can be used again; the
// window check and update stay in the measured path.
func BenchmarkESPOpen(b *testing.B) {
	benchCases(b, allCiphers, func(b *testing.B, c Cipher, size int) {
		cfg := Config{SPI: 0x1000, Cipher: c, Key: testKey(c, 1)}
		tx, rx := mustSA(b, cfg), mustSA(b, cfg)
		ring := make([][]byte, openRing)
		for i := range ring {
			ring[i] = seal(b, tx, payloadFor(NextHeaderIPv4, size), NextHeaderIPv4)
		}
		off := espOff(c, benchOff) // where the ESP packet starts
		work := make([]byte, off+len(ring[0]))
		i := 0
		for b.Loop() {
			if i == openRing {
				i = 0
				_ = rx.window.Init(0)
			}
			p := ring[i]
			i++
			copy(work[off:], p)
			if _, _, err := rx.Open(work, off, len(p)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAEADOpen(b *testing.B) {
	benchCases(b, aeadCiphers, func(b *testing.B, c Cipher, size int) {
		aead, _ := rfcAEAD(b, c, testKey(c, 1))
		nonce, aad := make([]byte, 12), make([]byte, 8)
		ring := make([][]byte, openRing)
		for i := range ring {
			aad[0] = byte(i) // distinct ciphertexts, like the ESP ring
			ring[i] = aead.Seal(nil, nonce, make([]byte, size+c.padLen(size)+2), aad)
		}
		work := make([]byte, len(ring[0]))
		i := 0
		for b.Loop() {
			if i == openRing {
				i = 0
			}
			aad[0] = byte(i)
			copy(work, ring[i])
			i++
			if _, err := aead.Open(work[:0], nonce, work, aad); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// nullAEAD is a do-nothing cipher.AEAD: it makes ESP's own cost visible
// (BenchmarkESPOverhead) apart from the cipher's.
type nullAEAD struct{}

func (nullAEAD) NonceSize() int { return 12 }
func (nullAEAD) Overhead() int  { return ICVLen }
func (nullAEAD) Seal(dst, _, plain, _ []byte) []byte {
	return dst[:len(plain)+ICVLen]
}
func (nullAEAD) Open(dst, _, ct, _ []byte) ([]byte, error) {
	return dst[:len(ct)-ICVLen], nil
}

// BenchmarkESPOverhead measures Seal and Open around a null cipher: the
// sequence counter, padding, header, replay window and counters.
func BenchmarkESPOverhead(b *testing.B) {
	const size = 1400
	newSA := func() *SA {
		sa := mustSA(b, Config{SPI: 0x1000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 1)})
		sa.aead = nullAEAD{}
		return sa
	}
	buf := make([]byte, benchOff+size+MaxTrailer)
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		sa := newSA()
		for b.Loop() {
			if _, err := sa.Seal(buf, benchOff, size, NextHeaderIPv4); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		tx, rx := newSA(), newSA()
		pkt, err := tx.Seal(buf, benchOff, size, NextHeaderIPv4)
		if err != nil {
			b.Fatal(err)
		}
		const off = benchOff - HeaderLen - IVLen
		var seq uint32
		for b.Loop() {
			// Stamp a fresh sequence number; the null cipher
			// left the trailer in clear text.
			seq++
			binary.BigEndian.PutUint32(buf[off:], tx.spi)
			binary.BigEndian.PutUint32(buf[off+4:], seq)
			if _, _, err := rx.Open(buf, off, len(pkt)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
