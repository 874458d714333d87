package ah

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
)

// Integ is an AH integrity transform. The zero value is invalid.
type Integ uint8

// The transforms. Their IKEv2 integrity transform IDs (RFC 7296, RFC 4543
// section 7) are in the comments; ipsec/ike maps them (ahIntegOf).
const (
	// HMACSHA256128 is HMAC-SHA-256 truncated to 128 bits (RFC 4868;
	// IKEv2 AUTH_HMAC_SHA2_256_128, 12). Key: 32 bytes.
	HMACSHA256128 Integ = iota + 1
	// AES128GMAC is AES-GMAC with a 128-bit key (RFC 4543; IKEv2
	// AUTH_AES_128_GMAC, 9). Key: 16 bytes of AES key and 4 of salt.
	AES128GMAC
	// AES256GMAC is AES-GMAC with a 256-bit key (RFC 4543; IKEv2
	// AUTH_AES_256_GMAC, 11). Key: 32 bytes of AES key and 4 of salt.
	AES256GMAC
)

var integNames = [...]string{
	HMACSHA256128: "hmac-sha256-128",
	AES128GMAC:    "aes128gmac",
	AES256GMAC:    "aes256gmac",
}

// IsValid reports whether i names a transform.
func (i Integ) IsValid() bool { return i >= HMACSHA256128 && i <= AES256GMAC }

// String returns the transform's name, as `show ipsec sa` prints it.
func (i Integ) String() string {
	if !i.IsValid() {
		return fmt.Sprintf("integ(%d)", uint8(i))
	}
	return integNames[i]
}

// ParseInteg returns the transform that String names.
func ParseInteg(s string) (Integ, error) {
	for i := HMACSHA256128; i <= AES256GMAC; i++ {
		if integNames[i] == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("ah: unknown integrity transform %q (want hmac-sha256-128, aes128gmac or aes256gmac)", s)
}

// MarshalText implements encoding.TextMarshaler (configuration, JSON).
// The zero value, "no AH transform" (an ESP SA's), is the empty text.
func (i Integ) MarshalText() ([]byte, error) {
	if i == 0 {
		return nil, nil
	}
	if !i.IsValid() {
		return nil, fmt.Errorf("ah: invalid integrity transform %d", uint8(i))
	}
	return []byte(integNames[i]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (i *Integ) UnmarshalText(text []byte) error {
	p, err := ParseInteg(string(text))
	if err != nil {
		return err
	}
	*i = p
	return nil
}

// IsGMAC reports whether the transform is AES-GMAC.
func (i Integ) IsGMAC() bool { return i == AES128GMAC || i == AES256GMAC }

// KeyLen returns the length of the key material: 32 for
// HMAC-SHA-256-128 (RFC 4868 2.1.1: the hash's output size), the AES key
// and a 4-byte salt for AES-GMAC (RFC 4543 section 6).
func (i Integ) KeyLen() int {
	switch i {
	case HMACSHA256128:
		return 32
	case AES128GMAC:
		return 16 + SaltLen
	case AES256GMAC:
		return 32 + SaltLen
	}
	return 0
}

// IVLen returns the explicit IV carried after the sequence number: 8 for
// AES-GMAC (RFC 4543 section 3.1), none for HMAC.
func (i Integ) IVLen() int {
	if i.IsGMAC() {
		return GMACIVLen
	}
	return 0
}

// ICVLen returns the length of the integrity check value: 16 for every
// transform here.
func (i Integ) ICVLen() int { return ICVLen }

// HeaderLen returns the length of the AH header Seal writes for the
// transform, over IPv4 and IPv6 alike: the fixed 12 bytes, the IV and the
// ICV, padded with zeros to a multiple of 8 bytes (32 for HMAC, 40 for
// AES-GMAC).
//
// RFC 4302 section 3.3.3.2.1 asks only for 4-byte alignment over IPv4,
// which would make HMAC-SHA-256-128's header 28 bytes; but Linux's ah4
// pads to 8 bytes over IPv4 too and drops any other length (ah4_input
// compares with XFRM_ALIGN8), so a 28-byte header would not interoperate
// with the kernel XFRM peers Peregrine meets (strongSwan, FRR and Linux
// hosts all use it). Open accepts both forms over IPv4 (minHeaderLen4).
func (i Integ) HeaderLen() int {
	return (FixedLen + i.IVLen() + i.ICVLen() + 7) &^ 7
}

// minHeaderLen4 is the AH header length of RFC 4302's 4-byte alignment
// over IPv4, which RFC-minimal senders (FreeBSD's, for one) use and Open
// accepts beside HeaderLen.
func (i Integ) minHeaderLen4() int {
	return (FixedLen + i.IVLen() + i.ICVLen() + 3) &^ 3
}

// newGMAC returns AES-GCM under key (the AES key, without salt), used with
// empty plaintext: GMAC.
func newGMAC(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// newHMAC returns a keyed HMAC-SHA-256.
func newHMAC(key []byte) hash.Hash { return hmac.New(sha256.New, key) }
