package ikeparam

import "net/netip"

// IDType is the type of an identification payload (RFC 7296 section 3.5).
type IDType uint8

// The identity types Peregrine speaks.
const (
	IDIPv4   IDType = 1
	IDFQDN   IDType = 2
	IDRFC822 IDType = 3 // an e-mail address, matched against a certificate's e-mail SANs
	IDIPv6   IDType = 5
)

// Identity is what a peer calls itself in IDi/IDr: an address or an FQDN.
type Identity struct {
	Type  IDType
	Addr  netip.Addr // IDIPv4, IDIPv6
	Value string     // IDFQDN, IDRFC822
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

// RFC822Identity is an ID_RFC822_ADDR (e-mail address) identity.
func RFC822Identity(addr string) Identity { return Identity{Type: IDRFC822, Value: addr} }

func (i Identity) String() string {
	if i.Type == IDFQDN || i.Type == IDRFC822 {
		return i.Value
	}
	return i.Addr.String()
}
