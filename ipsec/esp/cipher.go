package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Cipher is an ESP transform suite: an AEAD, or AES-CBC (RFC 3602) with an
// HMAC-SHA2 integrity check (RFC 4868), encrypt-then-MAC. Its zero value is
// invalid.
type Cipher uint8

// The supported transforms, named as in configuration and .sa files.
const (
	// AES128GCM16 is AES-GCM with a 128-bit key and 16-byte ICV (RFC 4106).
	AES128GCM16 Cipher = iota + 1
	// AES256GCM16 is AES-GCM with a 256-bit key and 16-byte ICV (RFC 4106).
	AES256GCM16
	// ChaCha20Poly1305 is ChaCha20-Poly1305 (RFC 7634).
	ChaCha20Poly1305

	// AES128CBCSHA256 is AES-CBC with a 128-bit key (RFC 3602) and
	// HMAC-SHA-256-128 (RFC 4868).
	AES128CBCSHA256
	// AES128CBCSHA384 is AES-128-CBC with HMAC-SHA-384-192.
	AES128CBCSHA384
	// AES128CBCSHA512 is AES-128-CBC with HMAC-SHA-512-256.
	AES128CBCSHA512
	// AES256CBCSHA256 is AES-CBC with a 256-bit key and HMAC-SHA-256-128.
	AES256CBCSHA256
	// AES256CBCSHA384 is AES-256-CBC with HMAC-SHA-384-192.
	AES256CBCSHA384
	// AES256CBCSHA512 is AES-256-CBC with HMAC-SHA-512-256.
	AES256CBCSHA512
)

// SaltLen is the salt at the end of an AEAD transform's key material (the
// AES-CBC suites have none).
const SaltLen = 4

var cipherNames = [...]string{
	AES128GCM16:      "aes128gcm16",
	AES256GCM16:      "aes256gcm16",
	ChaCha20Poly1305: "chacha20poly1305",
	AES128CBCSHA256:  "aes128-sha256",
	AES128CBCSHA384:  "aes128-sha384",
	AES128CBCSHA512:  "aes128-sha512",
	AES256CBCSHA256:  "aes256-sha256",
	AES256CBCSHA384:  "aes256-sha384",
	AES256CBCSHA512:  "aes256-sha512",
}

// ParseCipher returns the transform with the given name: "aes128gcm16",
// "aes256gcm16", "chacha20poly1305", or for AES-CBC with HMAC-SHA2
// "aes128-sha256", "aes128-sha384", "aes128-sha512", "aes256-sha256",
// "aes256-sha384", "aes256-sha512" (strongSwan's names).
func ParseCipher(name string) (Cipher, error) {
	for c, n := range cipherNames {
		if n != "" && n == name {
			return Cipher(c), nil
		}
	}
	return 0, fmt.Errorf("esp: unknown cipher %q (want aes128gcm16, aes256gcm16, chacha20poly1305, or aes128|aes256 with -sha256|-sha384|-sha512)", name)
}

// IsValid reports whether c is one of the supported transforms.
func (c Cipher) IsValid() bool {
	return c >= AES128GCM16 && c <= AES256CBCSHA512
}

// String returns the transform's name, as ParseCipher accepts it.
func (c Cipher) String() string {
	if !c.IsValid() {
		return fmt.Sprintf("Cipher(%d)", uint8(c))
	}
	return cipherNames[c]
}

// MarshalText implements encoding.TextMarshaler.
func (c Cipher) MarshalText() ([]byte, error) {
	if !c.IsValid() {
		return nil, fmt.Errorf("esp: invalid cipher %d", uint8(c))
	}
	return []byte(cipherNames[c]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Cipher) UnmarshalText(text []byte) error {
	p, err := ParseCipher(string(text))
	if err != nil {
		return err
	}
	*c = p
	return nil
}

// IsAEAD reports whether c is an AEAD (GCM, ChaCha20-Poly1305) rather than
// AES-CBC with a separate HMAC.
func (c Cipher) IsAEAD() bool {
	return c >= AES128GCM16 && c <= ChaCha20Poly1305
}

// KeyLen returns the length of the key material the transform takes: for
// the AEADs the key and the 4-byte salt (20, 36 or 36 bytes); for AES-CBC
// the encryption key followed by the integrity key (RFC 4301 section 4.4.2
// order, which RFC 7296 section 2.17 follows): 16 or 32 bytes and then 32,
// 48 or 64. 0 for an invalid Cipher.
func (c Cipher) KeyLen() int {
	switch c {
	case AES128CBCSHA256, AES128CBCSHA384, AES128CBCSHA512,
		AES256CBCSHA256, AES256CBCSHA384, AES256CBCSHA512:
		return c.cbcKeyLen() + c.integKeyLen()
	case AES128GCM16:
		return 16 + SaltLen
	case AES256GCM16:
		return 32 + SaltLen
	case ChaCha20Poly1305:
		return chacha20poly1305.KeySize + SaltLen
	}
	return 0
}

// cbcKeyLen is the AES key length of a CBC suite (0 for an AEAD).
func (c Cipher) cbcKeyLen() int {
	switch c {
	case AES128CBCSHA256, AES128CBCSHA384, AES128CBCSHA512:
		return 16
	case AES256CBCSHA256, AES256CBCSHA384, AES256CBCSHA512:
		return 32
	}
	return 0
}

// integKeyLen is the HMAC key length of a CBC suite, the hash's output
// size (RFC 4868 section 2.1.1); 0 for an AEAD.
func (c Cipher) integKeyLen() int {
	switch c {
	case AES128CBCSHA256, AES256CBCSHA256:
		return 32
	case AES128CBCSHA384, AES256CBCSHA384:
		return 48
	case AES128CBCSHA512, AES256CBCSHA512:
		return 64
	}
	return 0
}

// newAEAD builds the AEAD from key material without the salt.
func (c Cipher) newAEAD(key []byte) (cipher.AEAD, error) {
	switch c {
	case AES128GCM16, AES256GCM16:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	case ChaCha20Poly1305:
		return chacha20poly1305.New(key)
	}
	return nil, fmt.Errorf("esp: invalid cipher %d", uint8(c))
}

// KeyLayout describes the key material KeyLen counts, for error messages:
// "key and 4-byte salt" for an AEAD, "16-byte AES key, then 32-byte HMAC
// key" and so on for AES-CBC.
func (c Cipher) KeyLayout() string {
	if c.IsAEAD() || !c.IsValid() {
		return "key and 4-byte salt"
	}
	return fmt.Sprintf("%d-byte AES key, then %d-byte HMAC key", c.cbcKeyLen(), c.integKeyLen())
}
