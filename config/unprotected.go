package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// PeerPrefix is one entry of ipsec.unprotected-peers: a remote PE's
// address ("10.0.0.2", taken as 10.0.0.2/32) or a prefix of them
// ("10.9.0.0/16"). A prefix must be written masked: "10.9.0.1/16" is
// refused, since it reads like one PE but means 65536.
type PeerPrefix struct{ netip.Prefix }

// UnmarshalText parses an address or a masked prefix.
func (p *PeerPrefix) UnmarshalText(b []byte) error {
	s := string(b)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("want a remote PE's address or a prefix such as 10.9.0.0/16")
		}
		if a.Zone() != "" {
			return fmt.Errorf("must not carry a zone")
		}
		a = a.Unmap()
		p.Prefix = netip.PrefixFrom(a, a.BitLen())
		return nil
	}
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("want a remote PE's address or a prefix such as 10.9.0.0/16")
	}
	if m := pf.Masked(); m != pf {
		return fmt.Errorf("has host bits set; did you mean %s?", m)
	}
	p.Prefix = pf
	return nil
}

// validateUnprotected checks ipsec.unprotected-peers and
// dataplane.mpls-interfaces. A remote PE is protected (a manual tunnel or
// an IKE peer) or unprotected, never both: an entry that covers a
// protected peer's address is refused, naming both, rather than guessing
// which the operator meant. Unprotected peers need core interfaces to
// send and receive labelled packets on.
func (c *Config) validateUnprotected(bad badFunc) {
	type protectedPeer struct {
		addr  netip.Addr
		where string
	}
	var protected []protectedPeer
	for i, t := range c.IPsec.Tunnels {
		if t.Remote.IsValid() {
			protected = append(protected, protectedPeer{t.Remote.Unmap(), fmt.Sprintf("ipsec.tunnels[%d].remote", i)})
		}
	}
	for i, p := range c.IPsec.IKEPeers {
		if p.RemoteAddress.IsValid() {
			protected = append(protected, protectedPeer{p.RemoteAddress.Unmap(), fmt.Sprintf("ipsec.ike-peers[%d].remote-address", i)})
		}
	}
	for i, u := range c.IPsec.UnprotectedPeers {
		path := fmt.Sprintf("ipsec.unprotected-peers[%d]", i)
		if !u.IsValid() {
			bad(path, "", "required: a remote PE's address or a prefix")
			continue
		}
		for _, pp := range protected {
			if u.Contains(pp.addr) {
				bad(path, u.String(), "covers %s %s, a protected peer: a remote PE is protected or unprotected, not both", pp.where, pp.addr)
			}
		}
		if a := c.IPsec.LocalAddress; a.IsValid() && u.Bits() == a.BitLen() && u.Addr() == a.Unmap() {
			bad(path, u.String(), "is this PE's own ipsec.local-address")
		}
		for j, o := range c.IPsec.UnprotectedPeers[:i] {
			if o.IsValid() && o.Overlaps(u.Prefix) {
				bad(path, u.String(), "overlaps ipsec.unprotected-peers[%d] %s", j, o)
			}
		}
	}
	vrfIfaces := map[string]string{}
	for i, v := range c.VRFs {
		for j, ifn := range v.Interfaces {
			vrfIfaces[ifn] = fmt.Sprintf("vrfs[%d].interfaces[%d] (vrf %s)", i, j, v.Name)
		}
	}
	seen := map[string]int{}
	for i, ifn := range c.Dataplane.MPLSInterfaces {
		path := fmt.Sprintf("dataplane.mpls-interfaces[%d]", i)
		switch {
		case !validName(ifn):
			bad(path, strconv.Quote(ifn), "is not a Linux interface name (1-15 characters)")
		case vrfIfaces[ifn] != "":
			bad(path, strconv.Quote(ifn), "is a CE interface, %s: labelled packets from a CE must never reach a VRF", vrfIfaces[ifn])
		default:
			if j, dup := seen[ifn]; dup {
				bad(path, strconv.Quote(ifn), "already listed as dataplane.mpls-interfaces[%d]", j)
			}
			seen[ifn] = i
		}
	}
	remotes := map[netip.Addr]int{}
	for i, tl := range c.Dataplane.TransportLabels {
		path := fmt.Sprintf("dataplane.transport-labels[%d]", i)
		switch {
		case !tl.Remote.IsValid():
			bad(path+".remote", "", "required: the unprotected remote PE the label leads to")
		case !slices.ContainsFunc(c.IPsec.UnprotectedPeers, func(u PeerPrefix) bool { return u.Contains(tl.Remote.Unmap()) }):
			bad(path+".remote", tl.Remote.String(), "is not in ipsec.unprotected-peers: a transport label is for plain MPLS, and protected traffic crosses the core in IP")
		default:
			if j, dup := remotes[tl.Remote.Unmap()]; dup {
				bad(path+".remote", tl.Remote.String(), "already has a transport label: dataplane.transport-labels[%d]", j)
			}
			remotes[tl.Remote.Unmap()] = i
		}
		if tl.Label < firstUnreservedLabel || tl.Label > maxLabel {
			bad(path+".label", fmt.Sprint(tl.Label), "must be %d..%d (0-15 are reserved; leave the entry out for implicit null)", firstUnreservedLabel, maxLabel)
		}
	}
	c.validateLocalTransportLabels(bad)
	if len(c.IPsec.UnprotectedPeers) > 0 && len(c.Dataplane.MPLSInterfaces) == 0 {
		bad("dataplane.mpls-interfaces", "", "required with ipsec.unprotected-peers: the core interfaces plain MPLS is sent and accepted on")
	}
}

// validateLocalTransportLabels checks dataplane.local-transport-labels:
// unreserved, apart from the VPN labels this PE allocates (a label is
// either popped to look at the one beneath or looked up in a VRF, never
// both), listed once, and only where plain MPLS arrives at all.
func (c *Config) validateLocalTransportLabels(bad badFunc) {
	seen := map[uint32]int{}
	for i, l := range c.Dataplane.LocalTransportLabels {
		path := fmt.Sprintf("dataplane.local-transport-labels[%d]", i)
		switch {
		case l < firstUnreservedLabel || l > maxLabel:
			bad(path, fmt.Sprint(l), "must be %d..%d (0-15 are reserved: implicit and explicit null need no entry)", firstUnreservedLabel, maxLabel)
		case l >= c.MPLS.LabelMin && l <= c.MPLS.LabelMax:
			bad(path, fmt.Sprint(l), "is inside mpls.label-min..label-max (%d..%d), where this PE allocates its VPN labels", c.MPLS.LabelMin, c.MPLS.LabelMax)
		default:
			if j, dup := seen[l]; dup {
				bad(path, fmt.Sprint(l), "already listed as dataplane.local-transport-labels[%d]", j)
			}
			seen[l] = i
		}
	}
	if len(c.Dataplane.LocalTransportLabels) > 0 && len(c.Dataplane.MPLSInterfaces) == 0 {
		bad("dataplane.local-transport-labels", "", "needs dataplane.mpls-interfaces: transport labels arrive with plain MPLS on a core interface")
	}
}
