package keying

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ike"
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
// gateway address and narrowed selectors.
func (s *Service) attachment(name string, cs map[uint32]*child, now time.Time) fib.Attachment {
	t := s.tunnel(netip.Addr{}, cs, now)
	a := fib.Attachment{Name: name, VRF: s.opts.Attachments[name].VRF, UDP: t.UDP, Out: t.Out, In: t.In, RetiringIn: t.RetiringIn}
	sorted := newestFirst(cs)
	cur := sorted[0].sa
	for _, c := range sorted {
		if !c.retired {
			cur = c.sa
			break
		}
	}
	a.Remote = cur.Remote
	a.SitePrefixes = tsPrefixes(cur.RemoteTS)
	a.LocalPrefixes = tsPrefixes(cur.LocalTS)
	return a
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
// exactly (a range need not be a prefix). Ports and protocols are not
// kept: the dataplane checks addresses.
func tsPrefixes(tss []ike.TrafficSelector) []netip.Prefix {
	var out []netip.Prefix
	for _, ts := range tss {
		out = append(out, rangePrefixes(ts.Start, ts.End)...)
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
