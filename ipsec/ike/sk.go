package ike

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sizes of the AEAD Encrypted payload (RFC 5282 section 3, RFC 7634
// section 3): an 8-byte explicit IV and a 16-byte ICV; the key material is
// the cipher key followed by a 4-byte salt, and the nonce is salt || IV.
const (
	skIVLen   = 8
	skICVLen  = 16
	skSaltLen = 4
)

// skCipher seals or opens Encrypted payloads in one direction of an IKE
// SA (SK_ei and SK_ai, or SK_er and SK_ar). The payload's body is
//
//	IV | ciphertext of (payloads | padding | pad length) | ICV
//
// with the plaintext a multiple of the block size (1 for an AEAD).
type skCipher interface {
	// layout gives the IV and ICV lengths and the block size.
	layout() (iv, icv, block int)
	// seal appends IV || ciphertext || ICV to head, which holds the IKE
	// header and the SK generic header with their final lengths; plain is
	// already padded.
	seal(head, plain []byte) []byte
	// open checks the ICV and decrypts body (IV || ciphertext || ICV);
	// aad is the message from the IKE header through the SK generic
	// header, contiguous with body.
	open(aad, body []byte) ([]byte, error)
}

// newSKCipher builds one direction's cipher for suite s from its
// encryption key material ek (SK_e*) and integrity key ak (SK_a*, empty
// with an AEAD).
func newSKCipher(s ikeSuite, ek, ak []byte) (skCipher, error) {
	if len(ek) != s.Encr.KeyMatLen() || len(ak) != s.Integ.KeyLen() {
		return nil, errors.New("ike: SK key material of the wrong length")
	}
	if s.Encr.IsAEAD() != (s.Integ == IntegNone) {
		return nil, errors.New("ike: SK cipher and integrity algorithm do not match")
	}
	if !s.Encr.IsAEAD() {
		return newCBCSK(s.Integ, ek, ak)
	}
	k := ek[:len(ek)-skSaltLen]
	var aead cipher.AEAD
	var err error
	switch s.Encr.ID {
	case EncrAESGCM16:
		var blk cipher.Block
		if blk, err = aes.NewCipher(k); err == nil {
			aead, err = cipher.NewGCM(blk)
		}
	case EncrChaCha20Poly1305:
		aead, err = chacha20poly1305.New(k)
	default:
		err = errors.New("ike: unsupported encryption transform")
	}
	if err != nil {
		return nil, err
	}
	c := &aeadSK{aead: aead}
	copy(c.salt[:], ek[len(k):])
	return c, nil
}

// aeadSK is the Encrypted payload with an AEAD (RFC 5282, RFC 7634).
type aeadSK struct {
	aead cipher.AEAD
	salt [skSaltLen]byte
	iv   uint64 // last IV sent; a counter never repeats under one key
}

func (c *aeadSK) layout() (iv, icv, block int) { return skIVLen, skICVLen, 1 }

func (c *aeadSK) nonce(iv []byte) []byte {
	n := make([]byte, 0, skSaltLen+skIVLen)
	return append(append(n, c.salt[:]...), iv...)
}

// seal appends IV || AEAD(plain) || ICV to head, which is the associated
// data.
func (c *aeadSK) seal(head, plain []byte) []byte {
	c.iv++
	iv := binary.BigEndian.AppendUint64(nil, c.iv)
	aad := head
	out := append(head[:len(head):len(head)], iv...)
	return c.aead.Seal(out, c.nonce(iv), plain, aad)
}

// open authenticates and decrypts IV || ciphertext || ICV.
func (c *aeadSK) open(aad, body []byte) ([]byte, error) {
	if len(body) < skIVLen+skICVLen {
		return nil, ErrTruncated
	}
	plain, err := c.aead.Open(nil, c.nonce(body[:skIVLen]), body[skIVLen:], aad)
	if err != nil {
		return nil, ErrAuthTag
	}
	return plain, nil
}
