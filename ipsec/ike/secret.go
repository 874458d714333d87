package ike

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Secrets print as "<redacted>" whatever asks: every fmt verb (a
// fmt.Formatter sees %d and %x too, which a String method alone does not),
// %#v, encoding/json and encoding.TextMarshaler, and slog. A struct that
// holds one, such as PeerConfig or ChildSA, can be logged or dumped whole.

const redacted = "<redacted>"

// secret holds the bytes behind a pointer: fmt's %p of a struct value
// (a bad verb) prints the fields raw, bypassing Format, but a pointer
// field only as its address.
type secret struct{ b []byte }

func newSecret(b []byte) *secret {
	if len(b) == 0 {
		return nil
	}
	return &secret{b: append([]byte(nil), b...)}
}

func (s *secret) bytes() []byte {
	if s == nil {
		return nil
	}
	return s.b
}

// formatSecret writes shown (redacted or empty) for any verb: quoted for
// %q, goSyntax for %#v. Width and flags are ignored.
func formatSecret(f fmt.State, verb rune, shown, goSyntax string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		shown = goSyntax
	case verb == 'q':
		shown = strconv.Quote(shown)
	}
	_, _ = io.WriteString(f, shown)
}

// PSK is a pre-shared key.
type PSK struct{ s *secret }

// NewPSK copies b into a PSK.
func NewPSK(b []byte) PSK { return PSK{newSecret(b)} }

// Bytes returns the secret, for computing AUTH.
func (k PSK) Bytes() []byte { return k.s.bytes() }

// String is "<redacted>", or "" for an empty key (so a missing key shows).
func (k PSK) String() string {
	if len(k.Bytes()) == 0 {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the secret.
func (k PSK) GoString() string { return `ike.PSK{"` + k.String() + `"}` }

// Format implements fmt.Formatter for every verb.
func (k PSK) Format(f fmt.State, verb rune) { formatSecret(f, verb, k.String(), k.GoString()) }

// LogValue implements slog.LogValuer.
func (k PSK) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText implements encoding.TextMarshaler (JSON, YAML dumps).
func (k PSK) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalJSON implements json.Marshaler.
func (k PSK) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// KeyMaterial is an SA's key material (for a child SA, the cipher key
// followed by the salt, as esp.Config.Key wants it). It redacts itself
// like PSK; Bytes hands it to the dataplane.
type KeyMaterial struct{ s *secret }

// NewKeyMaterial copies b.
func NewKeyMaterial(b []byte) KeyMaterial { return KeyMaterial{newSecret(b)} }

// Bytes returns the key material itself (not a copy): esp.NewSA copies
// what it needs.
func (k KeyMaterial) Bytes() []byte { return k.s.bytes() }

// Len is the length of the key material in bytes.
func (k KeyMaterial) Len() int { return len(k.Bytes()) }

// Equal compares two keys in constant time.
func (k KeyMaterial) Equal(o KeyMaterial) bool {
	return subtle.ConstantTimeCompare(k.Bytes(), o.Bytes()) == 1
}

// String is "<redacted>", or "" when there is no key.
func (k KeyMaterial) String() string {
	if k.Len() == 0 {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the key.
func (k KeyMaterial) GoString() string { return `ike.KeyMaterial{"` + k.String() + `"}` }

// Format implements fmt.Formatter for every verb.
func (k KeyMaterial) Format(f fmt.State, verb rune) {
	formatSecret(f, verb, k.String(), k.GoString())
}

// LogValue implements slog.LogValuer.
func (k KeyMaterial) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText implements encoding.TextMarshaler.
func (k KeyMaterial) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalJSON implements json.Marshaler.
func (k KeyMaterial) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// wipe zeroes key material that is no longer needed, so it leaves memory
// with the SA rather than whenever the collector reuses it.
func wipe(keys ...[]byte) {
	for _, k := range keys {
		clear(k)
	}
}
