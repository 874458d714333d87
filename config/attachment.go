package config

import (
	"fmt"
	"net/netip"
	"strconv"
)

// IPsecAttachment is a customer site that enters its VRF through an IPsec
// tunnel (tunnel-mode ESP, keyed by IKEv2) from the site's own gateway,
// instead of over a CE interface: "VRF-aware IPsec" at the edge. See
// docs/ATTACHMENTS.md.
//
// A packet the gateway sends enters the VRF only if its inner source lies
// in the traffic selectors negotiated for its SA (never more than
// SitePrefixes), else it is dropped and counted (RFC 4301 section 5.2).
// While the attachment has a child SA, the VRF routes the negotiated site
// prefixes through it and they are exported to the other PEs as VPN
// routes with the VRF's label; without one, they are neither (fail
// closed).
type IPsecAttachment struct {
	// Name names the attachment in logs, show output and metrics, and
	// its IKE peer; unique among attachments and ipsec.ike-peers.
	Name string `config:"name"`
	// Kind is "gateway" (the default): a site gateway with fixed
	// subnets behind it; or "pool": remote-access hosts, each leased one
	// address of Pool (see AttachmentPool).
	Kind string `config:"kind"`
	// SitePrefixes are the prefixes the gateway may use as its traffic
	// selectors (the inner sources it may send from). The responder
	// narrows a wider proposal to them (RFC 7296 section 2.9). They may
	// overlap prefixes of other VRFs, not of this VRF's other
	// attachments.
	SitePrefixes []netip.Prefix `config:"site-prefixes"`
	// LocalPrefixes are the destinations the site may reach in the VRF,
	// our side's traffic selectors; default the whole VRF (0.0.0.0/0 and
	// ::/0).
	LocalPrefixes []netip.Prefix `config:"local-prefixes"`
	// IKE is the IKEv2 peer, with the keys of an ipsec.ike-peers entry
	// but name (the attachment's). Its remote-address may be left out
	// ("any": a gateway behind a changing address), which needs a
	// remote-id and initiate false. Initiate defaults to false: the
	// gateway dials in.
	IKE IKEPeer `config:"ike"`

	// Pool (IPv4, required with kind: pool) and Pool6 (optional) are
	// the addresses leased to hosts by configuration payload, one each
	// per host while its IKE SA lives. They may overlap pools and
	// prefixes of other VRFs, not of this one.
	Pool  AddrPool `config:"pool"`
	Pool6 AddrPool `config:"pool6"`
	// DNS are the servers handed to hosts (INTERNAL_IP4_DNS,
	// INTERNAL_IP6_DNS) when they ask.
	DNS []netip.Addr `config:"dns"`
	// RemoteIDs are who may connect to a pool: IKE identities, or
	// "*.example.com" and "*@example.com" patterns (see ClientPattern).
	// With auth: cert the host's certificate must also name the identity
	// it claims and chain to ike.ca-bundle.
	RemoteIDs []string `config:"remote-ids"`
}

// AttachmentGateway is the IPsecAttachment kind of a site gateway.
const AttachmentGateway = "gateway"

// DefaultLocalPrefixes are an attachment's local-prefixes when the file
// leaves them out: all of the VRF.
var DefaultLocalPrefixes = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

func (c *Config) applyAttachmentDefaults() {
	for i := range c.VRFs {
		for j := range c.VRFs[i].IPsecAttachments {
			a := &c.VRFs[i].IPsecAttachments[j]
			if a.Kind == "" {
				a.Kind = AttachmentGateway
			}
			if len(a.LocalPrefixes) == 0 {
				a.LocalPrefixes = append([]netip.Prefix(nil), DefaultLocalPrefixes...)
			}
			if a.IKE.Initiate == nil {
				a.IKE.Initiate = new(bool)
			}
			c.ikePeerDefaults(&a.IKE)
		}
	}
}

// validateAttachments checks every VRF's ipsec-attachments. names and
// remotes are those ipsec.ike-peers and static tunnels took (peer names,
// remote addresses): an attachment is an IKE peer of the same engine.
func (c *Config) validateAttachments(bad badFunc, names map[string]int, remotes map[netip.Addr]string) {
	attNames := map[string]string{}
	anyIDs := map[string]string{}
	var clients []poolClient // every pool's remote-ids, checked last
	for i, v := range c.VRFs {
		var sites []sitePrefix // this VRF's, to refuse overlaps
		statics := map[netip.Prefix]int{}
		for k, r := range v.StaticRoutes {
			statics[r.Prefix] = k
		}
		for j, a := range v.IPsecAttachments {
			path := fmt.Sprintf("vrfs[%d].ipsec-attachments[%d]", i, j)
			switch {
			case a.Name == "":
				bad(path+".name", "", "required: names the attachment in logs, show output and metrics")
			case !validName(a.Name):
				bad(path+".name", strconv.Quote(a.Name), "must be 1-15 characters with no '/', ':' or spaces")
			default:
				if k, dup := names[a.Name]; dup {
					bad(path+".name", strconv.Quote(a.Name), "already used by ipsec.ike-peers[%d]", k)
				} else if other, dup := attNames[a.Name]; dup {
					bad(path+".name", strconv.Quote(a.Name), "already used by %s", other)
				}
				attNames[a.Name] = path
			}
			pool := a.Kind == AttachmentPool
			if a.Kind != AttachmentGateway && !pool {
				bad(path+".kind", strconv.Quote(a.Kind), "want gateway or pool")
			}
			if pool {
				validatePool(bad, path, a, v, &sites)
				for k, id := range a.RemoteIDs {
					clients = append(clients, poolClient{id, fmt.Sprintf("%s.remote-ids[%d]", path, k)})
				}
				for k, p := range a.LocalPrefixes {
					validAttachmentPrefix(bad, fmt.Sprintf("%s.local-prefixes[%d]", path, k), p)
				}
				c.attachmentLocalAddress(bad, path+".ike", a.IKE)
				validateIKEPeerCommon(bad, path+".ike", a.IKE)
				refuseAttachmentAH(bad, path+".ike", a.IKE)
				continue
			}
			if a.Pool.IsValid() || a.Pool6.IsValid() || len(a.DNS) > 0 || len(a.RemoteIDs) > 0 {
				bad(path+".kind", strconv.Quote(a.Kind), "pool, pool6, dns and remote-ids need kind: pool")
			}
			if len(a.SitePrefixes) == 0 {
				bad(path+".site-prefixes", "", "required: the prefixes behind the gateway, such as 10.9.0.0/24")
			}
			for k, p := range a.SitePrefixes {
				pp := fmt.Sprintf("%s.site-prefixes[%d]", path, k)
				if !validAttachmentPrefix(bad, pp, p) {
					continue
				}
				if k, dup := statics[p]; dup {
					bad(pp, p.String(), "is also vrfs[%d].static-routes[%d], which would take the site's traffic", i, k)
				}
				for _, s := range sites {
					if s.p.Overlaps(p) {
						bad(pp, p.String(), "overlaps %s (%s) of the same VRF: each address of a VRF belongs to one site", s.p, s.path)
					}
				}
				sites = append(sites, sitePrefix{p, pp})
			}
			for k, p := range a.LocalPrefixes {
				validAttachmentPrefix(bad, fmt.Sprintf("%s.local-prefixes[%d]", path, k), p)
			}
			c.validateAttachmentIKE(bad, path+".ike", a.IKE, remotes, anyIDs)
		}
	}
	checkClientOverlaps(bad, clients, anyIDs)
}

type sitePrefix struct {
	p    netip.Prefix
	path string
}

func validAttachmentPrefix(bad badFunc, path string, p netip.Prefix) bool {
	switch {
	case !p.IsValid():
		bad(path, "", "not a prefix such as 10.9.0.0/24")
	case p.Masked() != p:
		bad(path, p.String(), "has host bits set; did you mean %s?", p.Masked())
	case p.Addr().Is4In6():
		bad(path, p.String(), "write an IPv4 prefix as such")
	default:
		return true
	}
	return false
}

// validateAttachmentIKE checks an attachment's ike: its addresses (the
// remote may be "any"), then what every IKE peer checks.
func (c *Config) validateAttachmentIKE(bad badFunc, path string, p IKEPeer, remotes map[netip.Addr]string, anyIDs map[string]string) {
	if p.Name != "" {
		bad(path+".name", strconv.Quote(p.Name), "not used here: the attachment's name names its IKE peer")
	}
	switch {
	case !c.attachmentLocalAddress(bad, path, p):
	case !p.RemoteAddress.IsValid():
		// Any address: the gateway is found by its identity alone.
		switch {
		case p.RemoteID == "":
			bad(path+".remote-id", "", "required without remote-address: a gateway at any address is known by its identity")
		case p.InitiateOrDefault():
			bad(path+".initiate", "true", "needs a remote-address to send to")
		default:
			if other, dup := anyIDs[p.RemoteID]; dup {
				bad(path+".remote-id", strconv.Quote(p.RemoteID), "already names %s: two gateways at any address need distinct identities", other)
			}
			anyIDs[p.RemoteID] = path
		}
	case p.RemoteAddress == p.LocalAddress:
		bad(path+".remote-address", p.RemoteAddress.String(), "is this PE's own address")
	case p.RemoteAddress.Is4() != p.LocalAddress.Is4():
		bad(path+".remote-address", p.RemoteAddress.String(), "is not of the family of local address %s", p.LocalAddress)
	default:
		if other, dup := remotes[p.RemoteAddress]; dup {
			bad(path+".remote-address", p.RemoteAddress.String(), "already has %s: IKE tells peers apart by address", other)
		}
		remotes[p.RemoteAddress] = path
	}
	validateIKEPeerCommon(bad, path, p)
	refuseAttachmentAH(bad, path, p)
}

// attachmentLocalAddress checks an attachment's ike.local-address
// against ipsec.local-address, the one tunnel endpoint.
func (c *Config) attachmentLocalAddress(bad badFunc, path string, p IKEPeer) bool {
	s := c.IPsec
	switch {
	case !s.LocalAddress.IsValid():
		bad("ipsec.local-address", "", "required with ipsec-attachments (%s): this PE's IKE and tunnel endpoint", path)
	case p.LocalAddress != s.LocalAddress:
		bad(path+".local-address", p.LocalAddress.String(), "differs from ipsec.local-address %s, the dataplane's only tunnel endpoint", s.LocalAddress)
	default:
		return true
	}
	return false
}

// HasAttachments reports whether any VRF has an IPsec attachment.
func (c *Config) HasAttachments() bool {
	for _, v := range c.VRFs {
		if len(v.IPsecAttachments) > 0 {
			return true
		}
	}
	return false
}
