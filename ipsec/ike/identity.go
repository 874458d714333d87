package ike

import "net/netip"

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
