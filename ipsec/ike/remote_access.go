package ike

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Remote access (a pool of hosts, config's kind: pool): many hosts share
// one PeerConfig, each with its own IKE SA. In IKE_AUTH a host names
// itself (IDi, which must be one of Clients), asks for an address in a
// CFG_REQUEST, and is given one leased from Pool4 (and Pool6) in a
// CFG_REPLY (RFC 7296 sections 2.19 and 3.15):
//
//	HDR, SK {IDi, [CERT,] [CERTREQ,] AUTH, CP(CFG_REQUEST), SAi2, TSi, TSr}  -->
//	                  <--  HDR, SK {IDr, [CERT,] AUTH, CP(CFG_REPLY), SAr2, TSi, TSr}
//
// The host's selectors are narrowed to its leased addresses, in IKE_AUTH
// and in every later CREATE_CHILD_SA, so the dataplane's inbound check
// (inner source within the SA's remote selectors) is exactly "from this
// host's address". The lease follows the IKE SA through IKE rekeys and is
// released when the IKE SA ends (Delete, DPD, lifetime, failure).
//
// A host that sends no CP gets FAILED_CP_REQUIRED, one the pool cannot
// serve INTERNAL_ADDRESS_FAILURE; in both cases the IKE SA is made without
// a child (section 1.2), and the host is expected to delete it.

// RemoteAccess makes a PeerConfig a pool of remote-access hosts.
// RemoteAddr and RemoteID must be unset; RemoteTS is unused (each host's
// selectors are its leased addresses).
type RemoteAccess struct {
	// Clients are who may connect.
	Clients []ClientID
	// Pool4 leases IPv4 addresses (required); Pool6, if set, IPv6 ones.
	Pool4, Pool6 Leaser
	// DNS are handed to hosts that ask (INTERNAL_IP4_DNS, _IP6_DNS).
	DNS []netip.Addr
}

// Leaser hands out a pool's addresses, one per owner (*leases.Pool).
type Leaser interface {
	Lease(owner string) (netip.Addr, error)
	Release(owner string) (netip.Addr, bool)
}

// ClientID admits a host's identity: exactly ID, or, with Suffix set
// (".example.com" or "@example.com"), any ID_FQDN or ID_RFC822_ADDR
// identity ending in it.
type ClientID struct {
	ID     Identity
	Suffix string
}

// admits reports whether the host's identity id is one of Clients.
func (r *RemoteAccess) admits(id ID) bool {
	got, ok := idIdentity(id)
	if !ok {
		return false
	}
	for _, c := range r.Clients {
		if c.Suffix == "" {
			if c.ID == got {
				return true
			}
			continue
		}
		if (got.Type == IDFQDN || got.Type == IDRFC822) && len(got.Value) > len(c.Suffix) &&
			strings.HasSuffix(strings.ToLower(got.Value), strings.ToLower(c.Suffix)) &&
			(got.Type == IDRFC822) == strings.HasPrefix(c.Suffix, "@") {
			return true
		}
	}
	return false
}

// idIdentity is the Identity a received ID payload names.
func idIdentity(id ID) (Identity, bool) {
	switch id.Type {
	case IDFQDN:
		return FQDNIdentity(string(id.Data)), len(id.Data) > 0
	case IDRFC822:
		return RFC822Identity(string(id.Data)), len(id.Data) > 0
	case IDIPv4, IDIPv6:
		a, ok := netip.AddrFromSlice(id.Data)
		return AddrIdentity(a), ok && a.Is4() == (id.Type == IDIPv4)
	}
	return Identity{}, false
}

// raLease is a host's leased addresses, held by its IKE SA.
type raLease struct {
	owner  string
	client Identity
	v4, v6 netip.Addr
}

// remoteID is the identity the peer must prove: a remote-access host's
// own, else the configured one.
func (sa *ikeSA) remoteID() Identity {
	if sa.client.Type != 0 {
		return sa.client
	}
	return sa.peer.RemoteID
}

// remoteSelectors are what the peer's child SAs may carry on its side:
// a remote-access host's leased addresses, else the configured ones.
func (sa *ikeSA) remoteSelectors() []TrafficSelector {
	if sa.peer.RemoteAccess == nil {
		return sa.peer.RemoteTS
	}
	if sa.lease == nil {
		return nil
	}
	ts := []TrafficSelector{TSHost(sa.lease.v4)}
	if sa.lease.v6.IsValid() {
		ts = append(ts, TSHost(sa.lease.v6))
	}
	return ts
}

// answerCP leases the host its addresses for a CFG_REQUEST and returns
// the CFG_REPLY, or the notify that refuses the first child.
func (sa *ikeSA) answerCP(m *Message) (Payload, *NotifyError) {
	ra := sa.peer.RemoteAccess
	p, ok := m.first(PayloadCP)
	if !ok {
		return Payload{}, notifyErr(NotifyFailedCPRequired, "remote-access host sent no configuration request")
	}
	cp, err := ParseCP(p.Body)
	if err != nil || cp.Type != CFGRequest {
		return Payload{}, notifyErr(NotifyInvalidSyntax, "bad configuration request")
	}
	owner := hex64(sa.spiI) + hex64(sa.spiR)
	l := &raLease{owner: owner, client: sa.client}
	if l.v4, err = ra.Pool4.Lease(owner); err != nil {
		return Payload{}, notifyErr(NotifyInternalAddressFailure, "no IPv4 address for %s: %v", sa.client, err)
	}
	if ra.Pool6 != nil && cp.Asks(AttrInternalIP6Address) {
		if l.v6, err = ra.Pool6.Lease(owner); err != nil {
			ra.Pool4.Release(owner)
			return Payload{}, notifyErr(NotifyInternalAddressFailure, "no IPv6 address for %s: %v", sa.client, err)
		}
	}
	sa.lease = l
	reply := CP{Type: CFGReply, Attrs: []CFGAttr{AddrAttr(AttrInternalIP4Address, l.v4)}}
	if l.v6.IsValid() {
		reply.Attrs = append(reply.Attrs, AddrAttr(AttrInternalIP6Address, l.v6))
	}
	for _, d := range ra.DNS {
		switch {
		case d.Is4() && cp.Asks(AttrInternalIP4DNS):
			reply.Attrs = append(reply.Attrs, AddrAttr(AttrInternalIP4DNS, d))
		case d.Is6() && cp.Asks(AttrInternalIP6DNS):
			reply.Attrs = append(reply.Attrs, AddrAttr(AttrInternalIP6DNS, d))
		}
	}
	sa.e.log.Info("address leased", sa.logArgs("client", sa.client.String(), "ip4", l.v4, "ip6", l.v6)...)
	return reply.Payload(), nil
}

// takeCFGReply keeps the address a responder gave us (RequestAddress).
func (sa *ikeSA) takeCFGReply(m *Message) {
	p, ok := m.first(PayloadCP)
	if !ok {
		return
	}
	cp, err := ParseCP(p.Body)
	if err != nil || cp.Type != CFGReply {
		return
	}
	for _, a := range cp.Attrs {
		if a.Type == AttrInternalIP4Address && a.Addr().IsValid() {
			sa.gotIP4 = a.Addr()
		}
	}
}

// errInitialContact is why a host's older IKE SAs went: the host said,
// with INITIAL_CONTACT, that it has no state of them (RFC 7296 section
// 2.4), typically after a reboot.
var errInitialContact = errors.New("ike: replaced by the host's new IKE SA (INITIAL_CONTACT)")

// dropHostsOlderSAs drops the other IKE SAs of sa's pool host, without a
// Delete (the host would not know them): their children go down and
// their leases back to the pool, instead of lingering until DPD.
func (sa *ikeSA) dropHostsOlderSAs() {
	for _, o := range sa.e.sasSorted() {
		if o != sa && o.peer == sa.peer && o.client == sa.client && (o.state == stateEstablished || o.state == stateDeleting) {
			sa.e.log.Info("host's older IKE SA dropped: INITIAL_CONTACT", o.logArgs("client", sa.client.String())...)
			o.drop(errInitialContact)
		}
	}
}

// releaseLease gives the IKE SA's addresses back to the pool.
func (sa *ikeSA) releaseLease() {
	l := sa.lease
	if l == nil {
		return
	}
	sa.lease = nil
	ra := sa.peer.RemoteAccess
	ra.Pool4.Release(l.owner)
	if ra.Pool6 != nil {
		ra.Pool6.Release(l.owner)
	}
	sa.e.log.Info("address released", sa.logArgs("client", l.client.String(), "ip4", l.v4, "ip6", l.v6)...)
}

// errRemoteAccessConfig is wrapped by a PeerConfig whose RemoteAccess
// is incomplete or contradicts its other fields.
var errRemoteAccessConfig = errors.New("ike: remote-access peer")

func (r *RemoteAccess) check(p *PeerConfig) error {
	switch {
	case r.Pool4 == nil:
		return fmt.Errorf("%w %s: no IPv4 pool", errRemoteAccessConfig, p.Name)
	case len(r.Clients) == 0:
		return fmt.Errorf("%w %s: no clients", errRemoteAccessConfig, p.Name)
	case p.RemoteAddr.IsValid() || p.RemoteID.Type != 0 || p.Initiate:
		return fmt.Errorf("%w %s: hosts connect from any address with their own identities; remote address, remote ID and initiate must be unset", errRemoteAccessConfig, p.Name)
	}
	return nil
}
