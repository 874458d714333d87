package fib

import (
	"net/netip"
	"slices"
)

// Attachment is a customer site's IPsec tunnel into one VRF: tunnel-mode
// ESP between this PE and the site's gateway, keyed by IKEv2 (config's
// vrfs[].ipsec-attachments). It is not a PE tunnel: what it opens is an
// IP packet of the VRF, never a label stack, and what it seals is the
// VRF's IP packet to the site.
//
// While it has an outbound SA, the State's VRF routes each of
// SitePrefixes through it (Route.Attachment); without one it has no
// routes and the site's traffic falls to the VRF's other routes or its
// blackhole default: nothing goes out in clear.
type Attachment struct {
	// Name is unique among the State's attachments.
	Name string
	// VRF is the VRF the site's packets enter.
	VRF string
	// Remote is the gateway's outer address and, with UDP, the port its
	// ESP-in-UDP comes from (RFC 3948: behind a NAT, not 4500).
	Remote netip.AddrPort
	UDP    bool
	// Out seals toward the gateway, In opens from it; RetiringIn are a
	// rekey's older inbound SAs, as Tunnel's.
	Out, In    *SAParams
	RetiringIn []*SAParams
	// SitePrefixes are the negotiated traffic selectors on the gateway's
	// side: the only inner sources an opened packet may have, and the
	// prefixes the VRF routes to the site. LocalPrefixes are ours: the
	// only inner destinations. A packet outside either is dropped and
	// counted (RFC 4301 section 5.2).
	SitePrefixes, LocalPrefixes []netip.Prefix
	// SiteSelectors and LocalSelectors are the same selectors with
	// the IP protocol and port ranges IKE negotiated (RFC 7296 section
	// 3.13.1). When one of them is narrower than any protocol, any port,
	// a packet must also match them in protocol and ports; nil means
	// every selector is any protocol and port (the prefixes alone).
	SiteSelectors, LocalSelectors []Selector
	// Pool and Client are set for a remote-access host (kind: pool):
	// the pool attachment's name and the host's IKE identity. Its
	// SitePrefixes are then its leased addresses alone.
	Pool, Client string
}

// Selector is one address prefix of a negotiated traffic selector with
// its IP protocol (0: any) and port range, inclusive. For ICMP (1) and
// ICMPv6 (58) the range is over the 16-bit value type<<8 | code (RFC
// 4301 section 4.4.1.1); 0..65535 is any port (or type and code).
type Selector struct {
	Prefix             netip.Prefix
	Protocol           uint8
	StartPort, EndPort uint16
}

// AnyPort reports whether s leaves ports (or ICMP type and code) open.
func (s Selector) AnyPort() bool { return s.StartPort == 0 && s.EndPort == 65535 }

// Up reports whether the attachment seals: it has an outbound SA.
func (a *Attachment) Up() bool { return a.Out != nil }

// AllowsIn reports whether an opened packet from src to dst may enter the
// VRF.
func (a *Attachment) AllowsIn(src, dst netip.Addr) bool {
	return prefixesHold(a.SitePrefixes, src) && prefixesHold(a.LocalPrefixes, dst)
}

func prefixesHold(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// attachmentRoutes are the routes the up attachments of vrf give it.
func attachmentRoutes(atts []Attachment, vrf string) map[netip.Prefix]Route {
	var out map[netip.Prefix]Route
	for _, a := range atts {
		if a.VRF != vrf || !a.Up() {
			continue
		}
		for _, p := range a.SitePrefixes {
			if out == nil {
				out = map[netip.Prefix]Route{}
			}
			out[p] = Route{Prefix: p, Attachment: a.Name}
		}
	}
	return out
}

func cloneAttachment(a Attachment) Attachment {
	a.Out, a.In = cloneSA(a.Out), cloneSA(a.In)
	retiring := make([]*SAParams, 0, len(a.RetiringIn))
	for _, p := range a.RetiringIn {
		retiring = append(retiring, cloneSA(p))
	}
	a.RetiringIn = retiring
	a.Remote = netip.AddrPortFrom(a.Remote.Addr().Unmap(), a.Remote.Port())
	a.SitePrefixes, a.LocalPrefixes = slices.Clone(a.SitePrefixes), slices.Clone(a.LocalPrefixes)
	a.SiteSelectors, a.LocalSelectors = slices.Clone(a.SiteSelectors), slices.Clone(a.LocalSelectors)
	return a
}
