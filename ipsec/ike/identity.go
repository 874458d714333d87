package ike

import (
	"log/slog"
	"net/netip"
)

// PSK is a pre-shared key. It prints as "<redacted>" in every format and
// in structured logs, so a PeerConfig can be logged whole.
type PSK struct{ b []byte }

// NewPSK copies b into a PSK.
func NewPSK(b []byte) PSK { return PSK{b: append([]byte(nil), b...)} }

// Bytes returns the secret, for computing AUTH.
func (k PSK) Bytes() []byte { return k.b }

func (k PSK) String() string {
	if len(k.b) == 0 {
		return ""
	}
	return "<redacted>"
}

// GoString keeps %#v from printing the secret.
func (k PSK) GoString() string { return `ike.PSK{"` + k.String() + `"}` }

// LogValue implements slog.LogValuer.
func (k PSK) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText implements encoding.TextMarshaler (JSON, YAML dumps).
func (k PSK) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Identity is what a peer calls itself in IDi/IDr: an address or an FQDN.
type Identity struct {
	Type  IDType
	Addr  netip.Addr // IDIPv4, IDIPv6
	Value string     // IDFQDN
}

// AddrIdentity is the ID_IPV4_ADDR or ID_IPV6_ADDR identity of a.
func AddrIdentity(a netip.Addr) Identity {
	if a.Is4() {
		return Identity{Type: IDIPv4, Addr: a}
	}
	return Identity{Type: IDIPv6, Addr: a}
}

// FQDNIdentity is an ID_FQDN identity.
func FQDNIdentity(name string) Identity { return Identity{Type: IDFQDN, Value: name} }

func (i Identity) id() ID {
	if i.Type == IDFQDN {
		return ID{Type: IDFQDN, Data: []byte(i.Value)}
	}
	return ID{Type: i.Type, Data: i.Addr.AsSlice()}
}

func (i Identity) matches(id ID) bool {
	want := i.id()
	return want.Type == id.Type && string(want.Data) == string(id.Data)
}

func (i Identity) String() string {
	if i.Type == IDFQDN {
		return i.Value
	}
	return i.Addr.String()
}
