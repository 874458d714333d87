package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// allCiphers is every suite; aeadCiphers and cbcCiphers the two kinds.
var (
	aeadCiphers = []Cipher{AES128GCM16, AES256GCM16, ChaCha20Poly1305}
	cbcCiphers  = []Cipher{
		AES128CBCSHA256, AES128CBCSHA384, AES128CBCSHA512,
		AES256CBCSHA256, AES256CBCSHA384, AES256CBCSHA512,
	}
	allCiphers = append(append([]Cipher(nil), aeadCiphers...), cbcCiphers...)
)

// unhex decodes hex with any spaces or newlines in it.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// testKey returns deterministic key material (key and salt) for c.
func testKey(c Cipher, seed byte) []byte {
	k := make([]byte, c.KeyLen())
	for i := range k {
		k[i] = seed + byte(i)*7
	}
	return k
}

func mustSA(t testing.TB, cfg Config) *SA {
	t.Helper()
	sa, err := NewSA(cfg)
	if err != nil {
		t.Fatalf("NewSA: %v", err)
	}
	return sa
}

// pair returns a sender and a receiver sharing one SA's parameters.
func pair(t testing.TB, c Cipher, esn bool) (tx, rx *SA) {
	t.Helper()
	cfg := Config{SPI: 0x1000, Cipher: c, Key: testKey(c, 1), ESN: esn}
	return mustSA(t, cfg), mustSA(t, cfg)
}

// seal seals a copy of payload and returns the ESP packet in a buffer of
// its own (no headroom or tailroom left).
func seal(t testing.TB, sa *SA, payload []byte, nh uint8) []byte {
	t.Helper()
	buf := make([]byte, Headroom+len(payload)+MaxTrailer)
	copy(buf[Headroom:], payload)
	pkt, err := sa.Seal(buf, Headroom, len(payload), nh)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return append([]byte(nil), pkt...)
}

// espOff is where Seal puts the ESP packet for a payload at off.
func espOff(c Cipher, off int) int { return off - HeaderLen - c.IVLen() }

// open opens a copy of pkt, so the caller's copy survives.
func open(sa *SA, pkt []byte) ([]byte, uint8, error) {
	buf := make([]byte, ScratchLen+len(pkt))
	copy(buf[ScratchLen:], pkt)
	return sa.Open(buf, ScratchLen, len(pkt))
}

// payloadFor returns n bytes that look like the start of a packet of the
// kind nh announces, then a counting pattern.
func payloadFor(nh uint8, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*13 + 5)
	}
	if n == 0 {
		return p
	}
	switch nh {
	case NextHeaderIPv4:
		p[0] = 0x45 // version 4, IHL 5
	case NextHeaderIPv6:
		p[0] = 0x60 // version 6
	case NextHeaderMPLS:
		if n >= 4 {
			// Label 100, TC 0, S=1, TTL 64.
			binary.BigEndian.PutUint32(p, 100<<12|1<<8|64)
		}
	}
	return p
}

// rfcAEAD builds the transform's AEAD straight from the standard library or
// x/crypto, without going through this package, and returns it and the salt.
func rfcAEAD(t testing.TB, c Cipher, keymat []byte) (cipher.AEAD, []byte) {
	t.Helper()
	key, salt := keymat[:len(keymat)-4], keymat[len(keymat)-4:]
	var aead cipher.AEAD
	var err error
	if c == ChaCha20Poly1305 {
		aead, err = chacha20poly1305.New(key)
	} else {
		var block cipher.Block
		block, err = aes.NewCipher(key)
		if err == nil {
			aead, err = cipher.NewGCM(block)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return aead, salt
}

// rfcAAD returns SPI || seq (8 bytes) or SPI || seq-high || seq-low
// (12 bytes with ESN), RFC 4106 section 5 and RFC 7634 section 3.
func rfcAAD(spi uint32, seq uint64, esn bool) []byte {
	aad := binary.BigEndian.AppendUint32(nil, spi)
	if esn {
		return binary.BigEndian.AppendUint64(aad, seq)
	}
	return binary.BigEndian.AppendUint32(aad, uint32(seq))
}

// rfcSeal builds an ESP packet from the RFC formulas alone: plain must
// already hold payload, padding, pad length and next header.
func rfcSeal(t testing.TB, c Cipher, keymat []byte, spi uint32, seq uint64, esn bool, iv uint64, plain []byte) []byte {
	t.Helper()
	aead, salt := rfcAEAD(t, c, keymat)
	nonce := binary.BigEndian.AppendUint64(append([]byte(nil), salt...), iv)
	pkt := binary.BigEndian.AppendUint32(nil, spi)
	pkt = binary.BigEndian.AppendUint32(pkt, uint32(seq))
	pkt = binary.BigEndian.AppendUint64(pkt, iv)
	return aead.Seal(pkt, nonce, plain, rfcAAD(spi, seq, esn))
}

// countUp returns the pad bytes 1, 2, ..., n.
func countUp(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

// sealRFC seals plain (payload, padding, pad length, next header) from
// the RFC formulas with the standard library alone: rfcSeal with the
// sequence number as IV for an AEAD, rfcSealCBC with a fixed IV for CBC.
func sealRFC(t testing.TB, c Cipher, keymat []byte, spi uint32, seq uint64, esn bool, plain []byte) []byte {
	t.Helper()
	if c.IsAEAD() {
		return rfcSeal(t, c, keymat, spi, seq, esn, seq, plain)
	}
	iv := unhex(t, "000102030405060708090a0b0c0d0e0f")
	return rfcSealCBC(t, c, keymat, spi, seq, esn, iv, plain)
}

// rfcHash is the hash of a CBC suite's HMAC, from its integrity key length.
func rfcHash(c Cipher) func() hash.Hash {
	switch c {
	case AES128CBCSHA384, AES256CBCSHA384:
		return sha512.New384
	case AES128CBCSHA512, AES256CBCSHA512:
		return sha512.New
	}
	return sha256.New
}

// rfcCBCKeys splits CBC key material: AES key (16 or 32 bytes: 128 and
// 256 in the suite's name), then the HMAC key.
func rfcCBCKeys(c Cipher, keymat []byte) (encKey, macKey []byte) {
	n := 16
	if strings.HasPrefix(c.String(), "aes256") {
		n = 32
	}
	return keymat[:n], keymat[n:]
}

// rfcSealCBC builds an AES-CBC + HMAC ESP packet from RFC 3602 and RFC 4868
// with crypto/aes, crypto/cipher and crypto/hmac alone: SPI || seq || IV ||
// CBC(plain) || HMAC(SPI..ciphertext [|| seq high half with ESN]) truncated
// to half the hash. plain must fill whole 16-byte blocks.
func rfcSealCBC(t testing.TB, c Cipher, keymat []byte, spi uint32, seq uint64, esn bool, iv, plain []byte) []byte {
	t.Helper()
	encKey, macKey := rfcCBCKeys(c, keymat)
	block, err := aes.NewCipher(encKey)
	if err != nil {
		t.Fatal(err)
	}
	pkt := binary.BigEndian.AppendUint32(nil, spi)
	pkt = binary.BigEndian.AppendUint32(pkt, uint32(seq))
	pkt = append(pkt, iv...)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	pkt = append(pkt, ct...)
	mac := hmac.New(rfcHash(c), macKey)
	mac.Write(pkt)
	if esn {
		mac.Write(binary.BigEndian.AppendUint32(nil, uint32(seq>>32)))
	}
	sum := mac.Sum(nil)
	return append(pkt, sum[:len(sum)/2]...)
}

// rfcOpenCBC checks a CBC packet's ICV and decrypts it with the standard
// library alone, and returns the plaintext (payload and trailer).
func rfcOpenCBC(t testing.TB, c Cipher, keymat []byte, seq uint64, esn bool, pkt []byte) ([]byte, error) {
	t.Helper()
	encKey, macKey := rfcCBCKeys(c, keymat)
	mac := hmac.New(rfcHash(c), macKey)
	icvLen := mac.Size() / 2
	if len(pkt) < 8+16+icvLen || (len(pkt)-8-16-icvLen)%16 != 0 {
		return nil, fmt.Errorf("%d-byte packet is not whole blocks", len(pkt))
	}
	body, icv := pkt[:len(pkt)-icvLen], pkt[len(pkt)-icvLen:]
	mac.Write(body)
	if esn {
		mac.Write(binary.BigEndian.AppendUint32(nil, uint32(seq>>32)))
	}
	if !hmac.Equal(mac.Sum(nil)[:icvLen], icv) {
		return nil, errors.New("ICV mismatch")
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, len(body)-24)
	cipher.NewCBCDecrypter(block, body[8:24]).CryptBlocks(plain, body[24:])
	return plain, nil
}
