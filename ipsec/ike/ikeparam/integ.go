package ikeparam

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// Integ is an integrity transform (type 3): HMAC-SHA2 truncated to half
// the hash (RFC 4868), for AES-CBC proposals (AEAD proposals carry none),
// and for AH proposals (RFC 4302) HMAC-SHA2-256-128 or AES-GMAC (RFC
// 4543), which only AH takes (ValidAH).
type Integ uint16

// Integrity transforms (IANA "Transform Type 3"). IntegNone is what an
// AEAD proposal may name (RFC 5282 section 8); it is never offered.
const (
	IntegNone          Integ = 0
	IntegHMACSHA256128 Integ = 12 // RFC 4868: 32-byte key, 16-byte ICV
	IntegHMACSHA384192 Integ = 13 // RFC 4868: 48-byte key, 24-byte ICV
	IntegHMACSHA512256 Integ = 14 // RFC 4868: 64-byte key, 32-byte ICV

	// AH only (RFC 4543 section 7): AES-GMAC, a 16-byte ICV. Their KEYMAT
	// is the AES key and a 4-byte salt (RFC 4543 section 8.1), as for
	// AES-GCM.
	IntegAES128GMAC Integ = 9
	IntegAES256GMAC Integ = 11
)

// Hash is the hash function of i's HMAC; nil for IntegNone or an
// unsupported transform.
func (i Integ) Hash() func() hash.Hash {
	switch i {
	case IntegHMACSHA256128:
		return sha256.New
	case IntegHMACSHA384192:
		return sha512.New384
	case IntegHMACSHA512256:
		return sha512.New
	}
	return nil
}

// Valid reports whether i is one of the supported HMACs (not IntegNone),
// what IKE SAs and AES-CBC ESP take.
func (i Integ) Valid() bool { return i.Hash() != nil }

// ValidAH reports whether i is one of the transforms an AH child SA takes
// (the ones package ipsec/ah implements): HMAC-SHA2-256-128, AES-128-GMAC
// and AES-256-GMAC.
func (i Integ) ValidAH() bool {
	return i == IntegHMACSHA256128 || i == IntegAES128GMAC || i == IntegAES256GMAC
}

// AHKeyMatLen is the KEYMAT one direction of an AH child takes (RFC 7296
// section 2.17: the integrity key alone): the HMAC key, or the AES key
// and its 4-byte salt for AES-GMAC (RFC 4543 section 8.1); 0 for a
// transform AH does not take.
func (i Integ) AHKeyMatLen() int {
	switch i {
	case IntegHMACSHA256128:
		return i.KeyLen()
	case IntegAES128GMAC:
		return 16 + 4
	case IntegAES256GMAC:
		return 32 + 4
	}
	return 0
}

// KeyLen is the key length, the hash's output size (RFC 4868 section
// 2.1.1): SK_ai and SK_ar, and the second half of a CBC child's KEYMAT.
func (i Integ) KeyLen() int {
	if h := i.Hash(); h != nil {
		return h().Size()
	}
	return 0
}

// ICVLen is the truncated checksum's length, half the hash (RFC 4868
// section 2.1.2).
func (i Integ) ICVLen() int { return i.KeyLen() / 2 }

// PRF is the PRF strongSwan takes for an IKE proposal that names no PRF:
// the integrity algorithm's hash; 0 for none.
func (i Integ) PRF() PRF {
	switch i {
	case IntegHMACSHA256128:
		return PRFHMACSHA256
	case IntegHMACSHA384192:
		return PRFHMACSHA384
	case IntegHMACSHA512256:
		return PRFHMACSHA512
	}
	return 0
}

// String is strongSwan's name for i.
func (i Integ) String() string {
	switch i {
	case IntegNone:
		return "none"
	case IntegHMACSHA256128:
		return "sha256"
	case IntegHMACSHA384192:
		return "sha384"
	case IntegHMACSHA512256:
		return "sha512"
	case IntegAES128GMAC:
		return "aes128gmac"
	case IntegAES256GMAC:
		return "aes256gmac"
	}
	return fmt.Sprintf("INTEG(%d)", uint16(i))
}
