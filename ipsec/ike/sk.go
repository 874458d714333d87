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
// SA (SK_ei or SK_er).
type skCipher struct {
	aead cipher.AEAD
	salt [skSaltLen]byte
	iv   uint64 // last IV sent; a counter never repeats under one key
}

func newSKCipher(e Encr, keymat []byte) (*skCipher, error) {
	if len(keymat) != e.KeyMatLen() {
		return nil, errors.New("ike: SK key material of the wrong length")
	}
	k := keymat[:len(keymat)-skSaltLen]
	var aead cipher.AEAD
	var err error
	switch e.ID {
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
	c := &skCipher{aead: aead}
	copy(c.salt[:], keymat[len(k):])
	return c, nil
}

func (c *skCipher) nonce(iv []byte) []byte {
	n := make([]byte, 0, skSaltLen+skIVLen)
	return append(append(n, c.salt[:]...), iv...)
}

// seal appends IV || AEAD(plain) || ICV to head, which holds the IKE
// header and SK generic header (the associated data, with final lengths).
func (c *skCipher) seal(head, plain []byte) []byte {
	c.iv++
	iv := binary.BigEndian.AppendUint64(nil, c.iv)
	aad := head
	out := append(head[:len(head):len(head)], iv...)
	return c.aead.Seal(out, c.nonce(iv), plain, aad)
}

// open authenticates and decrypts IV || ciphertext || ICV.
func (c *skCipher) open(aad, body []byte) ([]byte, error) {
	if len(body) < skIVLen+skICVLen {
		return nil, ErrTruncated
	}
	plain, err := c.aead.Open(nil, c.nonce(body[:skIVLen]), body[skIVLen:], aad)
	if err != nil {
		return nil, ErrAuthTag
	}
	return plain, nil
}
