package config

import "log/slog"

// Secret holds a password or key. Every way of printing it (fmt, slog, JSON,
// YAML) prints "<redacted>", so a secret cannot leak through a log line or a
// show command by accident; Reveal is the one deliberate way out.
type Secret struct{ s string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{s} }

// Reveal returns the secret itself, for handing to the kernel or a peer.
func (s Secret) Reveal() string { return s.s }

// IsSet reports whether a secret was configured.
func (s Secret) IsSet() bool { return s.s != "" }

func (s Secret) String() string {
	if s.s == "" {
		return ""
	}
	return "<redacted>"
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return `config.Secret{"` + s.String() + `"}` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler for JSON and YAML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
