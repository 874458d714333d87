package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// AttachmentPool is the kind of a remote-access attachment: hosts (not
// site gateways) connect one by one, each leased an address of Pool (and
// of Pool6) by IKEv2 configuration payload (RFC 7296 section 3.15), and
// each may send from that address alone.
const AttachmentPool = "pool"

// AddrPool is a range of addresses to lease, written as a prefix
// ("10.77.0.0/24": every address but the prefix's first and last, which
// hosts of a subnet do not use) or as a range ("10.77.0.10-10.77.0.50",
// both ends included).
type AddrPool struct {
	First, Last netip.Addr
}

// UnmarshalText parses a prefix or a range.
func (p *AddrPool) UnmarshalText(b []byte) error {
	s := string(b)
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(first))
		z, err2 := netip.ParseAddr(strings.TrimSpace(last))
		switch {
		case err1 != nil || err2 != nil || a.Zone() != "" || z.Zone() != "":
			return fmt.Errorf("want a prefix such as 10.77.0.0/24 or a range such as 10.77.0.10-10.77.0.50")
		case a.Is4() != z.Is4():
			return fmt.Errorf("the range's ends are of different families")
		case z.Less(a):
			return fmt.Errorf("the range ends before it starts")
		}
		p.First, p.Last = a, z
		return nil
	}
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("want a prefix such as 10.77.0.0/24 or a range such as 10.77.0.10-10.77.0.50")
	}
	if m := pf.Masked(); m != pf {
		return fmt.Errorf("has host bits set; did you mean %s?", m)
	}
	if pf.Bits() >= pf.Addr().BitLen()-1 {
		return fmt.Errorf("too small: a prefix pool leaves out its first and last address, so it needs at least a /%d", pf.Addr().BitLen()-2)
	}
	p.First, p.Last = pf.Addr().Next(), lastOfPrefix(pf).Prev()
	return nil
}

// IsValid reports whether the pool is set.
func (p AddrPool) IsValid() bool { return p.First.IsValid() }

// Contains reports whether a is in the pool.
func (p AddrPool) Contains(a netip.Addr) bool {
	return p.IsValid() && a.Is4() == p.First.Is4() && p.First.Compare(a) <= 0 && a.Compare(p.Last) <= 0
}

// Overlaps reports whether the pool and prefix q share an address.
func (p AddrPool) Overlaps(q netip.Prefix) bool {
	if !p.IsValid() || !q.IsValid() || p.First.Is4() != q.Addr().Is4() {
		return false
	}
	q = q.Masked()
	return p.First.Compare(lastOfPrefix(q)) <= 0 && q.Addr().Compare(p.Last) <= 0
}

func (p AddrPool) String() string {
	if !p.IsValid() {
		return ""
	}
	return p.First.String() + "-" + p.Last.String()
}

func lastOfPrefix(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ClientPattern reads one entry of a pool's remote-ids: an identity as
// ParseIKEIdentity reads it, or "*.example.com" (any DNS name below
// example.com) or "*@example.com" (any e-mail address at example.com).
// It returns the suffix a pattern matches, or the identity.
func ClientPattern(s string) (suffix string, err error) {
	if rest, ok := strings.CutPrefix(s, "*"); ok {
		if (strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "@")) && isDNSName(rest[1:]) {
			return rest, nil
		}
		return "", fmt.Errorf("a pattern is *.dns.name or *@dns.name")
	}
	_, err = ParseIKEIdentity(s)
	return "", err
}

// poolClient is one entry of a pool's remote-ids and its field path.
type poolClient struct{ id, path string }

// checkClientOverlaps refuses an identity two attachments could claim: a
// pool's remote-ids entry that admits a gateway's remote-id (a gateway
// at any address), or one that another pool's entry admits. IKE picks
// the attachment, and with it the VRF, by the identity alone.
func checkClientOverlaps(bad badFunc, clients []poolClient, gatewayIDs map[string]string) {
	for i, c := range clients {
		for id, path := range gatewayIDs {
			if clientAdmits(c.id, id) {
				bad(c.path, strconv.Quote(c.id), "admits %q, the remote-id of %s: one identity must name one attachment", id, path)
			}
		}
		for _, o := range clients[:i] {
			if clientAdmits(c.id, o.id) || clientAdmits(o.id, c.id) || patternsOverlap(c.id, o.id) {
				bad(c.path, strconv.Quote(c.id), "overlaps %q (%s): one identity must name one pool", o.id, o.path)
			}
		}
	}
}

// clientAdmits reports whether the remote-ids entry pattern admits the
// identity id (itself a literal identity, or a pattern taken literally).
func clientAdmits(pattern, id string) bool {
	suffix, err := ClientPattern(pattern)
	if err != nil {
		return false
	}
	if suffix == "" {
		return strings.EqualFold(pattern, id)
	}
	return len(id) > len(suffix) && !strings.HasPrefix(id, "*") && strings.HasSuffix(strings.ToLower(id), strings.ToLower(suffix)) &&
		strings.Contains(id, "@") == strings.HasPrefix(suffix, "@")
}

// patternsOverlap reports whether two patterns admit a common identity:
// one's suffix ends the other's.
func patternsOverlap(a, b string) bool {
	sa, errA := ClientPattern(a)
	sb, errB := ClientPattern(b)
	if errA != nil || errB != nil || sa == "" || sb == "" || sa[0] != sb[0] {
		return false
	}
	sa, sb = strings.ToLower(sa[1:]), strings.ToLower(sb[1:])
	return sa == sb || strings.HasSuffix(sa, "."+sb) || strings.HasSuffix(sb, "."+sa)
}

// validatePool checks a pool attachment's own keys; sites gets its pools
// (as their prefixes) so that what follows in the VRF may not overlap
// them. statics are the VRF's static routes.
func validatePool(bad badFunc, path string, a IPsecAttachment, v VRF, sites *[]sitePrefix) {
	if len(a.SitePrefixes) > 0 {
		bad(path+".site-prefixes", a.SitePrefixes[0].String(), "not used with kind: pool: each host is given its address from pool")
	}
	switch {
	case !a.Pool.IsValid():
		bad(path+".pool", "", "required with kind: pool: the IPv4 addresses to lease, such as 10.77.0.0/24")
	case !a.Pool.First.Is4():
		bad(path+".pool", a.Pool.String(), "must be IPv4 (pool6 holds IPv6 addresses)")
	default:
		checkPoolOverlaps(bad, path+".pool", a.Pool, v, sites)
	}
	if a.Pool6.IsValid() {
		if a.Pool6.First.Is4() {
			bad(path+".pool6", a.Pool6.String(), "must be IPv6")
		} else {
			checkPoolOverlaps(bad, path+".pool6", a.Pool6, v, sites)
		}
	}
	for k, d := range a.DNS {
		if !d.IsValid() || d.IsUnspecified() || d.Zone() != "" {
			bad(fmt.Sprintf("%s.dns[%d]", path, k), d.String(), "want a DNS server's address")
		}
	}
	if len(a.RemoteIDs) == 0 {
		bad(path+".remote-ids", "", "required with kind: pool: the identities (or *.domain, *@domain patterns) that may connect")
	}
	for k, id := range a.RemoteIDs {
		if _, err := ClientPattern(id); err != nil {
			bad(fmt.Sprintf("%s.remote-ids[%d]", path, k), strconv.Quote(id), "%v", err)
		}
	}
	if a.IKE.RemoteAddress.IsValid() {
		bad(path+".ike.remote-address", a.IKE.RemoteAddress.String(), "not used with kind: pool: hosts connect from any address")
	}
	if a.IKE.RemoteID != "" {
		bad(path+".ike.remote-id", strconv.Quote(a.IKE.RemoteID), "not used with kind: pool: list who may connect in remote-ids")
	}
	if a.IKE.InitiateOrDefault() {
		bad(path+".ike.initiate", "true", "a pool answers its hosts, it never dials them")
	}
}

// checkPoolOverlaps refuses a pool that shares an address with a site
// prefix, another pool or a static route of the same VRF: the VRF routes
// each leased address to its host.
func checkPoolOverlaps(bad badFunc, path string, p AddrPool, v VRF, sites *[]sitePrefix) {
	for k, r := range v.StaticRoutes {
		if p.Overlaps(r.Prefix) {
			bad(path, p.String(), "overlaps static route %s (static-routes[%d]) of the same VRF", r.Prefix, k)
		}
	}
	for _, s := range *sites {
		if p.Overlaps(s.p) {
			bad(path, p.String(), "overlaps %s (%s) of the same VRF: each address of a VRF belongs to one site", s.p, s.path)
		}
	}
	for _, q := range poolPrefixes(p) {
		*sites = append(*sites, sitePrefix{q, path})
	}
}

// poolPrefixes are the fewest prefixes that cover p exactly.
func poolPrefixes(p AddrPool) []netip.Prefix {
	var out []netip.Prefix
	start := p.First
	for start.IsValid() && start.Compare(p.Last) <= 0 {
		q := netip.PrefixFrom(start, start.BitLen())
		for bits := 0; bits <= start.BitLen(); bits++ {
			c := netip.PrefixFrom(start, bits)
			if c.Masked().Addr() == start && lastOfPrefix(c).Compare(p.Last) <= 0 {
				q = c
				break
			}
		}
		out = append(out, q)
		start = lastOfPrefix(q).Next()
	}
	return out
}
