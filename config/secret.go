package config

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// redacted is what every secret prints as.
const redacted = "<redacted>"

// Secret holds a password or pre-shared key. Every way of printing it
// prints "<redacted>" (or "" when unset): every fmt verb and flag (it is a
// fmt.Formatter), slog (LogValuer), JSON, YAML and text (TextMarshaler).
// The value sits behind a pointer so that fmt, printing a struct that holds
// a Secret in an unexported field (where it cannot call Format), shows an
// address rather than the characters. Reveal is the one deliberate way out.
type Secret struct{ p *string }

// NewSecret wraps s.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{&s}
}

// Reveal returns the secret itself, for handing to the kernel or a peer.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsSet reports whether a secret was configured.
func (s Secret) IsSet() bool { return s.p != nil }

func (s Secret) String() string { return redactedIf(s.IsSet()) }

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return `config.Secret{` + strconv.Quote(s.String()) + `}` }

// Format implements fmt.Formatter, so that no verb (%d, %x, %q, %#v...)
// reaches the value.
func (s Secret) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String(), s.GoString()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler for JSON and YAML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Key is secret key material (an ESP SA's key and salt). It prints as
// Secret does, and for the same reason keeps its bytes behind pointers:
// two of them, because fmt, naming a bad verb for an unexported *[]byte,
// prints what it points to; a **[]byte it prints as an address.
type Key struct{ p **[]byte }

// NewKey wraps b, which the Key then owns.
func NewKey(b []byte) Key {
	if len(b) == 0 {
		return Key{}
	}
	pb := &b
	return Key{&pb}
}

// Bytes returns the key material, for handing to the ESP engine.
func (k Key) Bytes() []byte {
	if k.p == nil {
		return nil
	}
	return **k.p
}

func (k Key) String() string { return redactedIf(k.p != nil) }

// GoString keeps %#v from printing the key.
func (k Key) GoString() string { return `config.Key{` + strconv.Quote(k.String()) + `}` }

// Format implements fmt.Formatter, so that no verb (%d, %x, %v of the
// bytes...) reaches the key.
func (k Key) Format(f fmt.State, verb rune) { formatRedacted(f, verb, k.String(), k.GoString()) }

// LogValue implements slog.LogValuer.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText implements encoding.TextMarshaler for JSON and YAML output.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func redactedIf(set bool) string {
	if !set {
		return ""
	}
	return redacted
}

// formatRedacted writes a secret's redacted form for any verb: %#v gets
// the Go syntax, %q a quoted string, every other verb the plain text.
// Width and flags are ignored: the output is the same whatever the secret.
func formatRedacted(f fmt.State, verb rune, text, goSyntax string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, goSyntax)
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(text))
	default:
		_, _ = io.WriteString(f, text)
	}
}
