package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
)

// cbcSuite is the keyed state of an AES-CBC + HMAC-SHA2 SA: the data key's
// block cipher, the IV generator's block cipher, the integrity key, and a
// pool of per-call working state.
type cbcSuite struct {
	block  cipher.Block // AES with the encryption key
	ivGen  cipher.Block // AES with a random key of the SA's own (see nextIV)
	integ  []byte       // HMAC key
	newSum func() hash.Hash
	icvLen int
	// work hands out *cbcWork: the CBC modes and the HMAC carry state
	// through a call, and constructing them allocates, so each call
	// borrows a set and returns it. sync.Pool keeps one per P, so
	// concurrent Seal and Open calls on one SA take no lock.
	work sync.Pool
}

// cbcWork is what one Seal or Open call on a CBC SA works with.
type cbcWork struct {
	enc, dec cbcMode
	mac      hash.Hash
	sum      [64]byte // the full HMAC output, before truncation
	hi       [4]byte  // the ESN high half, MACed but not sent
}

// cbcMode is a CBC encrypter or decrypter whose IV can be set again, as
// crypto/cipher's are (crypto/tls uses the same method).
type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

// newCBCSuite builds the suite from key material: the AES key followed by
// the HMAC key (Cipher.KeyLen).
func newCBCSuite(c Cipher, key []byte) (*cbcSuite, error) {
	encKey, integ := key[:c.cbcKeyLen()], key[c.cbcKeyLen():]
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	var ivKey [16]byte
	if _, err := rand.Read(ivKey[:]); err != nil {
		return nil, fmt.Errorf("drawing the IV generator's key: %w", err)
	}
	ivGen, err := aes.NewCipher(ivKey[:])
	clear(ivKey[:])
	if err != nil {
		return nil, err
	}
	s := &cbcSuite{
		block:  block,
		ivGen:  ivGen,
		integ:  append([]byte(nil), integ...),
		newSum: c.newHash(),
		icvLen: c.ICVLen(),
	}
	s.work.New = func() any { return s.newWork() }
	// Probe the modes once: a BlockMode without SetIV would make
	// every packet allocate, which NewSA refuses rather than hides.
	if _, ok := cipher.NewCBCEncrypter(block, make([]byte, aes.BlockSize)).(cbcMode); !ok {
		return nil, fmt.Errorf("crypto/cipher's CBC mode cannot reset its IV")
	}
	return s, nil
}

func (s *cbcSuite) newWork() *cbcWork {
	var zero [aes.BlockSize]byte
	return &cbcWork{
		enc: cipher.NewCBCEncrypter(s.block, zero[:]).(cbcMode),
		dec: cipher.NewCBCDecrypter(s.block, zero[:]).(cbcMode),
		mac: hmac.New(s.newSum, s.integ),
	}
}

func (s *cbcSuite) get() *cbcWork  { return s.work.Get().(*cbcWork) }
func (s *cbcSuite) put(w *cbcWork) { s.work.Put(w) }

// newHash returns the hash constructor of a CBC suite's HMAC.
func (c Cipher) newHash() func() hash.Hash {
	switch c.integKeyLen() {
	case 48:
		return sha512.New384
	case 64:
		return sha512.New
	}
	return sha256.New
}

// nextIV writes the IV of the packet with sequence number seq into iv (16
// bytes): the AES encryption, under the SA's IV key, of seq followed by
// eight zero bytes.
//
// RFC 3602 section 3 requires CBC IVs an attacker cannot predict. The IV
// key is drawn from crypto/rand when the SA is made, is used for nothing
// else and never leaves the SA, so the IVs are a pseudorandom permutation
// of the sequence numbers: unpredictable without the key, although the
// sequence numbers themselves are public. They also never repeat, since
// Seal never uses a sequence number twice. Encrypting the public counter
// with the data key instead would hand an attacker a chosen-plaintext
// oracle on it, and the bare counter would be predictable (the attack on
// TLS 1.0's chained IVs). The computation needs no lock and no state
// beyond the sequence number, which Seal already draws atomically, so
// concurrent Seal calls cost one AES block each.
func (s *cbcSuite) nextIV(iv []byte, seq uint64) {
	binary.BigEndian.PutUint64(iv[0:8], seq)
	clear(iv[8:16])
	s.ivGen.Encrypt(iv, iv)
}

// mac computes the truncated HMAC over data (SPI through the last
// ciphertext block) and, with ESN, the high 32 bits of the sequence number
// (RFC 4303 sections 2.2.1 and 3.3.2.1: part of the MAC input, never sent),
// and returns it in w.sum.
func (s *cbcSuite) mac(w *cbcWork, data []byte, esn bool, seq uint64) []byte {
	w.mac.Reset()
	w.mac.Write(data)
	if esn {
		binary.BigEndian.PutUint32(w.hi[:], uint32(seq>>32))
		w.mac.Write(w.hi[:])
	}
	return w.mac.Sum(w.sum[:0])[:s.icvLen]
}
