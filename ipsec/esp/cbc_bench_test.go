package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/subtle"
	"testing"
)

// rawCBC is the bare work of one AES-CBC + HMAC suite on a packet, with the
// standard library at its cheapest (modes and HMAC made once, IV set with
// SetIV, HMAC Reset): the baseline the CBC benchmarks compare ESP with.
type rawCBC struct {
	enc, dec cbcMode
	mac      interface {
		Reset()
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	sum    [64]byte
	icvLen int
}

func newRawCBC(b *testing.B, c Cipher, key []byte) *rawCBC {
	encKey, macKey := rfcCBCKeys(c, key)
	block, err := aes.NewCipher(encKey)
	if err != nil {
		b.Fatal(err)
	}
	iv := make([]byte, 16)
	return &rawCBC{
		enc:    cipher.NewCBCEncrypter(block, iv).(cbcMode),
		dec:    cipher.NewCBCDecrypter(block, iv).(cbcMode),
		mac:    hmac.New(rfcHash(c), macKey),
		icvLen: c.ICVLen(),
	}
}

// seal encrypts pkt[24:len-icv] with the IV at pkt[8:24] and MACs
// pkt[:len-icv] into the ICV: the same bytes Seal touches.
func (r *rawCBC) seal(pkt []byte) {
	icvAt := len(pkt) - r.icvLen
	r.enc.SetIV(pkt[8:24])
	r.enc.CryptBlocks(pkt[24:icvAt], pkt[24:icvAt])
	r.mac.Reset()
	r.mac.Write(pkt[:icvAt])
	copy(pkt[icvAt:], r.mac.Sum(r.sum[:0])[:r.icvLen])
}

// open checks the ICV and decrypts: the same bytes Open touches.
func (r *rawCBC) open(pkt []byte) bool {
	icvAt := len(pkt) - r.icvLen
	r.mac.Reset()
	r.mac.Write(pkt[:icvAt])
	if subtle.ConstantTimeCompare(r.mac.Sum(r.sum[:0])[:r.icvLen], pkt[icvAt:]) != 1 {
		return false
	}
	r.dec.SetIV(pkt[8:24])
	r.dec.CryptBlocks(pkt[24:icvAt], pkt[24:icvAt])
	return true
}

// BenchmarkCBCHMACSeal and BenchmarkCBCHMACOpen are the raw cipher-plus-MAC
// halves of the BenchmarkESPSeal and BenchmarkESPOpen pairs for the CBC
// suites (same sub-benchmark names, same packet bytes).
func BenchmarkCBCHMACSeal(b *testing.B) {
	benchCases(b, cbcCiphers, func(b *testing.B, c Cipher, size int) {
		raw := newRawCBC(b, c, testKey(c, 1))
		pkt := make([]byte, c.Overhead(size)+size)
		for b.Loop() {
			raw.seal(pkt)
		}
	})
}

func BenchmarkCBCHMACOpen(b *testing.B) {
	benchCases(b, cbcCiphers, func(b *testing.B, c Cipher, size int) {
		raw := newRawCBC(b, c, testKey(c, 1))
		ring := make([][]byte, openRing)
		for i := range ring {
			ring[i] = make([]byte, c.Overhead(size)+size)
			ring[i][0] = byte(i)
			raw.seal(ring[i])
		}
		work := make([]byte, len(ring[0]))
		i := 0
		for b.Loop() {
			if i == openRing {
				i = 0
			}
			copy(work, ring[i])
			i++
			if !raw.open(work) {
				b.Fatal("raw open failed")
			}
		}
	})
}

// BenchmarkESPvsCBCHMAC is BenchmarkESPvsAEAD for the AES-CBC suites: ESP
// Seal and Open against the raw AES-CBC + HMAC (rawCBC) on the same bytes,
// in alternating slices, reporting the throughput ratios raw/ESP
// ("seal-ratio", "open-ratio"; 1.0 means ESP costs nothing over the
// cipher and MAC). ESP's extra work: the sequence number, the IV (one more
// AES block), padding, the pool, the replay window and the counters.
//
//	go test -run='^$' -bench=ESPvsCBCHMAC/aes256-sha256 -benchtime=2s -count=3 ./ipsec/esp/
func BenchmarkESPvsCBCHMAC(b *testing.B) {
	for _, c := range cbcCiphers {
		for _, size := range benchSizes {
			b.Run(c.String()+"/"+itoa(size), func(b *testing.B) {
				raw := newRawCBC(b, c, testKey(c, 1))
				rawPkt := make([]byte, c.Overhead(size)+size)
				rawRing := seal(b, mustSA(b, Config{SPI: 0x1000, Cipher: c, Key: testKey(c, 1)}),
					payloadFor(NextHeaderIPv4, size), NextHeaderIPv4)
				rawWork := make([]byte, len(rawRing))
				ratioBench(b, c, size,
					func() { raw.seal(rawPkt) },
					func() bool {
						copy(rawWork, rawRing)
						return raw.open(rawWork)
					})
			})
		}
	}
}

// BenchmarkCBCModeVsBlock compares the two ways of running CBC without
// allocating per packet: crypto/cipher's mode reused from the pool (what
// Seal and Open do: SetIV, CryptBlocks) against driving the cipher.Block
// directly, one Encrypt or Decrypt and one XOR per 16 bytes.
func BenchmarkCBCModeVsBlock(b *testing.B) {
	block, err := aes.NewCipher(testKey(AES256CBCSHA256, 1)[:32])
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{64, 1408} {
		buf := make([]byte, size)
		iv := make([]byte, 16)
		b.Run("mode-encrypt/"+itoa(size), func(b *testing.B) {
			s, err := newCBCSuite(AES256CBCSHA256, testKey(AES256CBCSHA256, 1))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				w := s.get()
				w.enc.SetIV(iv)
				w.enc.CryptBlocks(buf, buf)
				s.put(w)
			}
		})
		b.Run("block-encrypt/"+itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				prev := iv
				for i := 0; i < len(buf); i += 16 {
					blk := buf[i : i+16]
					subtle.XORBytes(blk, blk, prev)
					block.Encrypt(blk, blk)
					prev = blk
				}
			}
		})
		b.Run("mode-decrypt/"+itoa(size), func(b *testing.B) {
			s, err := newCBCSuite(AES256CBCSHA256, testKey(AES256CBCSHA256, 1))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				w := s.get()
				w.dec.SetIV(iv)
				w.dec.CryptBlocks(buf, buf)
				s.put(w)
			}
		})
		b.Run("block-decrypt/"+itoa(size), func(b *testing.B) {
			// In place, from the last block back, as crypto/cipher does.
			b.SetBytes(int64(size))
			for b.Loop() {
				for i := len(buf) - 16; i >= 0; i -= 16 {
					blk := buf[i : i+16]
					block.Decrypt(blk, blk)
					prev := iv
					if i > 0 {
						prev = buf[i-16 : i]
					}
					subtle.XORBytes(blk, blk, prev)
				}
			}
		})
	}
}
