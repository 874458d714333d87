package ikeparam

import "net/netip"

// IDType is the type of an identification payload (RFC 7296 section 3.5).
type IDType uint8

// The identity types Peregrine speaks.
const (
	IDIPv4 IDType = 1
	IDFQDN IDType = 2
	IDIPv6 IDType = 5
)

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

func (i Identity) String() string {
	if i.Type == IDFQDN {
		return i.Value
	}
	return i.Addr.String()
}
