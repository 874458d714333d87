// Package config is Peregrine's configuration: the YAML schema, typed values
// (netip addresses, labels), defaults, and validation whose every error names
// the field's path and the bad value.
//
// Loading is strict. An unknown key is an error, not a warning: a misspelt
// "import-targets" that is silently ignored leaks one customer's routes into
// another's VRF. A configuration that fails to load never replaces the
// running one; the daemon keeps what it has and reports the errors.
package config

import (
	"net/netip"
)

// Config is the whole router configuration. The zero value is not valid; use
// Load or Parse, which apply Defaults first.
type Config struct {
	Router Router `config:"router"`
	Log    Log    `config:"log"`
	MPLS   MPLS   `config:"mpls"`
}

// Router identifies this PE.
type Router struct {
	// ID is the BGP router identifier, an IPv4 address (RFC 6286 allows any
	// 32-bit value, but operators write and read it as an address).
	ID netip.Addr `config:"id"`
	// ASN is the local autonomous system number, 1..4294967295 (RFC 6793).
	ASN uint32 `config:"asn"`
}

// Log sets how the daemon logs.
type Log struct {
	Level  string `config:"level"`  // debug, info, warn or error
	Format string `config:"format"` // text or json
}

// MPLS sets the label space this PE allocates from and how it treats TTL.
type MPLS struct {
	// LabelMin and LabelMax bound the labels this PE hands out for its VRFs
	// and prefixes. Labels 0-15 are reserved (RFC 3032, RFC 7274) and may
	// not be allocated.
	LabelMin uint32 `config:"label-min"`
	LabelMax uint32 `config:"label-max"`
	// TTLMode is "uniform" or "pipe" (RFC 3443).
	TTLMode string `config:"ttl-mode"`
}

// Defaults returns the values a key takes when the file leaves it out.
func Defaults() Config {
	return Config{
		Log:  Log{Level: "info", Format: "text"},
		MPLS: MPLS{LabelMin: 1000, LabelMax: 99999, TTLMode: "uniform"},
	}
}
