package ikeparam

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// Transform IDs (IANA "IKEv2 Transform Type N Values").
const (
	EncrAESCBC           uint16 = 12 // RFC 7296 section 3.3.2 (IKE), RFC 3602 (ESP)
	EncrAESGCM16         uint16 = 20 // RFC 5282 (IKE), RFC 4106 (ESP)
	EncrChaCha20Poly1305 uint16 = 28 // RFC 7634
)

// Encr is an encryption transform with its key length in bits (0 for
// ChaCha20-Poly1305, which takes no Key Length attribute). An AEAD
// proposal carries no INTEG transform, or INTEG NONE (RFC 5282 section 8);
// an AES-CBC proposal needs one (RFC 7296 section 3.3.3).
type Encr struct {
	ID     uint16
	KeyLen uint16
}

// The transforms Peregrine speaks, for IKE and ESP alike.
var (
	AES128GCM16      = Encr{EncrAESGCM16, 128}
	AES256GCM16      = Encr{EncrAESGCM16, 256}
	ChaCha20Poly1305 = Encr{EncrChaCha20Poly1305, 0}
	AES128CBC        = Encr{EncrAESCBC, 128}
	AES256CBC        = Encr{EncrAESCBC, 256}
)

// Valid reports whether e is one of the supported transforms.
func (e Encr) Valid() bool {
	return e.IsAEAD() || e == AES128CBC || e == AES256CBC
}

// IsAEAD reports whether e is one of the supported AEADs, which need no
// integrity transform.
func (e Encr) IsAEAD() bool {
	return e == AES128GCM16 || e == AES256GCM16 || e == ChaCha20Poly1305
}

// KeyMatLen is the encryption key material one direction takes: for an
// AEAD the key and the 4-byte salt (RFC 5282 section 7.1, RFC 7634
// section 4, RFC 4106 section 8.1), for AES-CBC the key alone.
func (e Encr) KeyMatLen() int {
	switch e {
	case AES128GCM16:
		return 16 + 4
	case AES256GCM16:
		return 32 + 4
	case ChaCha20Poly1305:
		return 32 + 4
	case AES128CBC:
		return 16
	case AES256CBC:
		return 32
	}
	return 0
}

// String is strongSwan's name for e.
func (e Encr) String() string {
	switch e {
	case AES128GCM16:
		return "aes128gcm16"
	case AES256GCM16:
		return "aes256gcm16"
	case ChaCha20Poly1305:
		return "chacha20poly1305"
	case AES128CBC:
		return "aes128"
	case AES256CBC:
		return "aes256"
	}
	return fmt.Sprintf("ENCR(%d,%d)", e.ID, e.KeyLen)
}

// PRF is a pseudo-random function transform.
type PRF uint16

// PRFs (RFC 4868).
const (
	PRFHMACSHA256 PRF = 5
	PRFHMACSHA384 PRF = 6
	PRFHMACSHA512 PRF = 7
)

// Hash is the hash function of p's HMAC; nil for an unsupported PRF.
func (p PRF) Hash() func() hash.Hash {
	switch p {
	case PRFHMACSHA256:
		return sha256.New
	case PRFHMACSHA384:
		return sha512.New384
	case PRFHMACSHA512:
		return sha512.New
	}
	return nil
}

// KeyLen is the preferred key length of an HMAC PRF, its output size (RFC
// 7296 section 2.14: SK_d, SK_pi and SK_pr take it).
func (p PRF) KeyLen() int {
	if h := p.Hash(); h != nil {
		return h().Size()
	}
	return 0
}

func (p PRF) String() string {
	switch p {
	case PRFHMACSHA256:
		return "prfsha256"
	case PRFHMACSHA384:
		return "prfsha384"
	case PRFHMACSHA512:
		return "prfsha512"
	}
	return fmt.Sprintf("PRF(%d)", uint16(p))
}

// DHGroup is a Diffie-Hellman group (transform type 4).
type DHGroup uint16

// Supported groups. DHNone appears only in ESP proposals without PFS.
const (
	DHNone       DHGroup = 0
	DHModp2048   DHGroup = 14 // RFC 3526
	DHECP256     DHGroup = 19 // RFC 5903
	DHCurve25519 DHGroup = 31 // RFC 8031
)

func (g DHGroup) String() string {
	switch g {
	case DHNone:
		return "none"
	case DHModp2048:
		return "modp2048"
	case DHECP256:
		return "ecp256"
	case DHCurve25519:
		return "x25519"
	}
	return fmt.Sprintf("DH(%d)", uint16(g))
}
