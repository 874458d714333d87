package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Cipher is an ESP AEAD transform. Its zero value is invalid.
type Cipher uint8

// The supported transforms, named as in configuration and .sa files.
const (
	// AES128GCM16 is AES-GCM with a 128-bit key and 16-byte ICV (RFC 4106).
	AES128GCM16 Cipher = iota + 1
	// AES256GCM16 is AES-GCM with a 256-bit key and 16-byte ICV (RFC 4106).
	AES256GCM16
	// ChaCha20Poly1305 is ChaCha20-Poly1305 (RFC 7634).
	ChaCha20Poly1305
)

// SaltLen is the salt at the end of every transform's key material.
const SaltLen = 4

var cipherNames = [...]string{
	AES128GCM16:      "aes128gcm16",
	AES256GCM16:      "aes256gcm16",
	ChaCha20Poly1305: "chacha20poly1305",
}

// ParseCipher returns the transform with the given name: "aes128gcm16",
// "aes256gcm16" or "chacha20poly1305".
func ParseCipher(name string) (Cipher, error) {
	for c, n := range cipherNames {
		if n != "" && n == name {
			return Cipher(c), nil
		}
	}
	return 0, fmt.Errorf("esp: unknown cipher %q (want aes128gcm16, aes256gcm16 or chacha20poly1305)", name)
}

// IsValid reports whether c is one of the supported transforms.
func (c Cipher) IsValid() bool {
	return c >= AES128GCM16 && c <= ChaCha20Poly1305
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

// KeyLen returns the length of the key material the transform takes,
// including the 4-byte salt: 20, 36 or 36 bytes (0 for an invalid Cipher).
func (c Cipher) KeyLen() int {
	switch c {
	case AES128GCM16:
		return 16 + SaltLen
	case AES256GCM16:
		return 32 + SaltLen
	case ChaCha20Poly1305:
		return chacha20poly1305.KeySize + SaltLen
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
