package keying

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ike"
	"github.com/peregrine-net/peregrine/ipsec/leases"
)

// AttachmentPeer is what the Service knows of an IKE peer that is an IPsec
// attachment: the VRF its children open into.
type AttachmentPeer struct {
	VRF string
}

// Attachments maps each configured attachment's name (its IKE peer's) to
// its VRF, for Options.Attachments.
func Attachments(cfg *config.Config) map[string]AttachmentPeer {
	m := map[string]AttachmentPeer{}
	for _, v := range cfg.VRFs {
		for _, a := range v.IPsecAttachments {
			m[a.Name] = AttachmentPeer{VRF: v.Name}
		}
	}
	return m
}

// attachmentPeer is an attachment's IKE peer: tunnel mode, the site's
// prefixes as the remote selectors (a wider proposal is narrowed to
// them, RFC 7296 section 2.9) and local-prefixes as ours.
func attachmentPeer(a config.IPsecAttachment, encap bool) ike.PeerConfig {
	pc := peerConfig(a.Name, a.IKE, encap)
	pc.Mode = ike.Tunnel
	for _, p := range a.SitePrefixes {
		pc.RemoteTS = append(pc.RemoteTS, ike.TSFromPrefix(p))
	}
	for _, p := range a.LocalPrefixes {
		pc.LocalTS = append(pc.LocalTS, ike.TSFromPrefix(p))
	}
	return pc
}

// attachment is an attachment's SAs, chosen among its children as a
// PE's tunnel's are (Service.tunnel), with the newest live child's
// gateway address and narrowed selectors. A pool's host is an
// attachment of its own, named PoolHostName.
func (s *Service) attachment(k peerKey, cs map[uint32]*child, now time.Time) fib.Attachment {
	t := s.tunnel(netip.Addr{}, cs, now)
	name := k.att
	if k.host.IsValid() {
		name = PoolHostName(k.att, k.host)
	}
	a := fib.Attachment{Name: name, VRF: s.opts.Attachments[k.att].VRF, UDP: t.UDP, Out: t.Out, In: t.In, RetiringIn: t.RetiringIn}
	sorted := newestFirst(cs)
	cur := sorted[0].sa
	for _, c := range sorted {
		if !c.retired {
			cur = c.sa
			break
		}
	}
	a.Remote, a.Pool, a.Client = cur.Remote, cur.Peer, cur.Client
	if !k.host.IsValid() {
		a.Pool = ""
	}
	a.SitePrefixes = tsPrefixes(cur.RemoteTS)
	a.LocalPrefixes = tsPrefixes(cur.LocalTS)
	a.SiteSelectors = tsSelectors(cur.RemoteTS)
	a.LocalSelectors = tsSelectors(cur.LocalTS)
	return a
}

// PoolHostName is the fib.Attachment name of a pool's host: the pool's
// name and the host's leased address ("ra-red/10.77.0.2"), which no
// configured name can be (they have no '/').
func PoolHostName(pool string, leased netip.Addr) string {
	return pool + "/" + leased.String()
}

// poolPeer is a pool attachment's IKE peer: tunnel mode, our selectors
// local-prefixes, each host's its leased addresses, leased from pools
// that live as long as the engine.
func poolPeer(a config.IPsecAttachment, encap bool) ike.PeerConfig {
	pc := peerConfig(a.Name, a.IKE, encap)
	pc.Mode = ike.Tunnel
	for _, p := range a.LocalPrefixes {
		pc.LocalTS = append(pc.LocalTS, ike.TSFromPrefix(p))
	}
	ra := &ike.RemoteAccess{DNS: a.DNS}
	// The ranges were validated at load.
	p4, _ := leases.New(a.Pool.First, a.Pool.Last)
	ra.Pool4 = p4
	if a.Pool6.IsValid() {
		p6, _ := leases.New(a.Pool6.First, a.Pool6.Last)
		ra.Pool6 = p6
	}
	for _, id := range a.RemoteIDs {
		suffix, _ := config.ClientPattern(id)
		c := ike.ClientID{Suffix: suffix}
		if suffix == "" {
			c.ID, _ = config.ParseIKEIdentity(id)
		}
		ra.Clients = append(ra.Clients, c)
	}
	pc.RemoteAccess = ra
	return pc
}

// announce gives Options.OnAttached the up attachments' site prefixes by
// VRF, when they differ from what it was last given.
func (s *Service) announce(st *state, atts []fib.Attachment) {
	if s.opts.OnAttached == nil {
		return
	}
	now := map[string][]netip.Prefix{}
	for _, a := range atts {
		if a.Up() {
			now[a.VRF] = append(now[a.VRF], a.SitePrefixes...)
		}
	}
	for vrf, ps := range now {
		slices.SortFunc(ps, netip.Prefix.Compare)
		now[vrf] = slices.Compact(ps)
	}
	if st.attached != nil && maps.EqualFunc(now, st.attached, slices.Equal) {
		return
	}
	st.attached = now
	s.opts.OnAttached(maps.Clone(now))
}

// tsPrefixes is the prefixes that cover the address ranges of tss
// exactly (a range need not be a prefix): what the VRF routes to the
// site. Protocols and ports are in tsSelectors.
func tsPrefixes(tss []ike.TrafficSelector) []netip.Prefix {
	var out []netip.Prefix
	for _, ts := range tss {
		out = append(out, rangePrefixes(ts.Start, ts.End)...)
	}
	return out
}

// tsSelectors is tsPrefixes with each selector's protocol and port
// range kept per prefix, for the dataplane to enforce.
func tsSelectors(tss []ike.TrafficSelector) []fib.Selector {
	var out []fib.Selector
	for _, ts := range tss {
		for _, p := range rangePrefixes(ts.Start, ts.End) {
			out = append(out, fib.Selector{Prefix: p, Protocol: ts.Protocol, StartPort: ts.StartPort, EndPort: ts.EndPort})
		}
	}
	return out
}

// rangePrefixes splits start..end into the fewest prefixes.
func rangePrefixes(start, end netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	if !start.IsValid() || start.Is4() != end.Is4() {
		return nil
	}
	for start.Compare(end) <= 0 {
		p := netip.PrefixFrom(start, start.BitLen())
		for bits := 0; bits <= start.BitLen(); bits++ {
			q := netip.PrefixFrom(start, bits)
			if q.Masked().Addr() == start && lastOf(q).Compare(end) <= 0 {
				p = q
				break
			}
		}
		out = append(out, p)
		last := lastOf(p)
		if start = last.Next(); !start.IsValid() {
			break
		}
	}
	return out
}

func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
