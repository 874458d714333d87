package ike

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"encoding/binary"
	"hash"
)

// cbcSK is the Encrypted payload with AES-CBC and a truncated HMAC-SHA2
// (RFC 7296 section 3.14, RFC 3602, RFC 4868): encrypt, then MAC
//
//	IKE header | ... | SK header | IV | ciphertext      <- ICV covers this
//
// and the ICV, the HMAC's first icvLen bytes, ends the message. open
// checks it in constant time before it decrypts anything.
//
// IVs: RFC 7296 wants a new unpredictable IV for every message and points
// to NIST SP 800-38A, whose Appendix C makes one by encrypting a nonce
// under the message key. The nonce here is a per-direction counter, so the
// IV never repeats under a key, is unpredictable without it, and cannot
// fail the way a random read can.
type cbcSK struct {
	blk  cipher.Block
	mac  func() hash.Hash
	ak   []byte
	icv  int
	sent uint64 // messages sealed: the IV nonce
}

func newCBCSK(i Integ, ek, ak []byte) (*cbcSK, error) {
	blk, err := aes.NewCipher(ek)
	if err != nil {
		return nil, err
	}
	return &cbcSK{blk: blk, mac: i.Hash(), ak: append([]byte(nil), ak...), icv: i.ICVLen()}, nil
}

func (c *cbcSK) layout() (iv, icv, block int) { return aes.BlockSize, c.icv, aes.BlockSize }

// nextIV is E(K, 0^64 || counter), SP 800-38A Appendix C's first method.
func (c *cbcSK) nextIV() []byte {
	c.sent++
	iv := make([]byte, aes.BlockSize)
	binary.BigEndian.PutUint64(iv[8:], c.sent)
	c.blk.Encrypt(iv, iv)
	return iv
}

// seal appends IV || CBC(plain) || ICV to head; plain is whole blocks.
func (c *cbcSK) seal(head, plain []byte) []byte {
	iv := c.nextIV()
	out := append(append(head, iv...), plain...)
	ct := out[len(head)+len(iv):]
	cipher.NewCBCEncrypter(c.blk, iv).CryptBlocks(ct, ct)
	m := hmac.New(c.mac, c.ak)
	m.Write(out)
	return append(out, m.Sum(nil)[:c.icv]...)
}

// open checks the ICV over aad || IV || ciphertext in constant time,
// then decrypts into a new buffer.
func (c *cbcSK) open(aad, body []byte) ([]byte, error) {
	bs := aes.BlockSize
	ctLen := len(body) - bs - c.icv
	if ctLen < bs {
		return nil, ErrTruncated
	}
	if ctLen%bs != 0 {
		return nil, ErrMalformed
	}
	m := hmac.New(c.mac, c.ak)
	m.Write(aad)
	m.Write(body[:bs+ctLen])
	if !hmac.Equal(m.Sum(nil)[:c.icv], body[bs+ctLen:]) {
		return nil, ErrAuthTag
	}
	plain := make([]byte, ctLen)
	cipher.NewCBCDecrypter(c.blk, body[:bs]).CryptBlocks(plain, body[bs:bs+ctLen])
	return plain, nil
}
