package ikeparam

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// Integ is an integrity transform (type 3): HMAC-SHA2 truncated to half
// the hash (RFC 4868), for AES-CBC proposals. AEAD proposals carry none.
type Integ uint16

// Integrity transforms (IANA "Transform Type 3"). IntegNone is what an
// AEAD proposal may name (RFC 5282 section 8); it is never offered.
const (
	IntegNone          Integ = 0
	IntegHMACSHA256128 Integ = 12 // RFC 4868: 32-byte key, 16-byte ICV
	IntegHMACSHA384192 Integ = 13 // RFC 4868: 48-byte key, 24-byte ICV
	IntegHMACSHA512256 Integ = 14 // RFC 4868: 64-byte key, 32-byte ICV
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

// Valid reports whether i is one of the supported HMACs (not IntegNone).
func (i Integ) Valid() bool { return i.Hash() != nil }

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
	}
	return fmt.Sprintf("INTEG(%d)", uint16(i))
}
