package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

var allCiphers = []Cipher{AES128GCM16, AES256GCM16, ChaCha20Poly1305}

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
