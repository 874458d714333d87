package fake

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// Lines returns the whole configuration an ip-driven backend would hold
// for s, one `ip ... add` command per line, in the order it would run
// them (devices before the rules and routes that name them, VRFs before
// the LFIB that points into them, VRFs by name, routes by prefix). It is
// a pure function of s; a nil State gives no lines.
//
// Per VRF, the userspace design:
//
//	ip tuntap add dev pg-red mode tun                      TUN to the Go fast path
//	ip rule add iif ce1 lookup 1000 pref 1000              CE traffic uses red's table (and -6)
//	ip rule add iif pg-red lookup 1000 pref 1000           so does traffic the fast path decapsulated
//	ip route add unreachable default table 1000 metric ..  a miss stays in the VRF (and -6)
//	ip route add 10.1.0.0/24 via 10.1.255.2 dev ce1 table 1000
//	ip route add 10.2.0.0/24 dev pg-red table 1000 # via 10.0.0.2 label 100 rd 65000:2
//
// A remote route's label stack and PE are the fast path's business, not
// the kernel's, so they follow the command as a shell comment; a change
// of label still shows as a changed line. The LFIB is written the kernel
// backend's way so that both backends share these goldens:
//
//	ip -f mpls route add 1000 dev vrf-red                  per-VRF: pop, look up in red
//	ip -f mpls route add 1001 via inet 10.1.255.2 dev ce1  per-prefix: pop, forward
//
// Tunnels have no ip command (ESP is in userspace) and are comments that
// name the SAs by SPI and transform, never by key:
//
//	# tunnel add 10.0.0.2 local 10.0.0.1 udp out spi 0x00001001 aes128gcm16 in spi 0x00002001 aes128gcm16
func Lines(s *fib.State) []string {
	es := entries(s)
	keys := slices.SortedFunc(maps.Keys(es), func(a, b string) int {
		return cmp.Or(cmp.Compare(es[a], es[b]), cmp.Compare(a, b))
	})
	return keys
}

// entries maps each line of s to its sort key. Keys group lines by phase
// (1 VRFs, 2 LFIB, 3 tunnels), then by VRF, then by kind and value,
// zero-padded so that string order is numeric order.
func entries(s *fib.State) map[string]string {
	out := map[string]string{}
	if s == nil {
		return out
	}
	for name, v := range s.VRFs {
		vrfEntries(out, name, v)
	}
	for l, a := range s.Labels {
		out[labelLine(l, a)] = fmt.Sprintf("2 %07d", uint32(l))
	}
	for addr, t := range s.Tunnels {
		out[tunnelLine(s.LocalAddress, addr, t)] = "3 " + addrKey(addr)
	}
	for name, a := range s.Attachments {
		out[attachmentLine(a)] = "4 " + name
	}
	return out
}

// families are the ip flags for IPv4 and IPv6: a VRF gets both, whatever
// its routes, so that neither family falls through to the main table.
var families = []string{"", "-6 "}

func vrfEntries(out map[string]string, name string, v *fib.VRF) {
	group := "1 " + name + " "
	tun := fib.TUNName(name)
	out["ip tuntap add dev "+tun+" mode tun"] = group + "0"
	for _, ifn := range append(slices.Clone(v.Interfaces), tun) {
		for i, fam := range families {
			line := fmt.Sprintf("ip %srule add iif %s lookup %d pref %d", fam, ifn, v.Table, fib.RulePriority)
			out[line] = fmt.Sprintf("%s1 %s %d", group, ifn, i)
		}
	}
	for i, fam := range families {
		line := fmt.Sprintf("ip %sroute add unreachable default table %d metric %d", fam, v.Table, uint64(fib.UnreachableMetric))
		out[line] = fmt.Sprintf("%s2 %d", group, i)
	}
	for p, r := range v.Routes {
		out[routeLine(p, r, tun, v.Table)] = group + "3 " + prefixKey(p)
	}
}

func routeLine(p netip.Prefix, r fib.Route, tun string, table uint32) string {
	var b strings.Builder
	b.WriteString("ip ")
	if p.Addr().Is6() {
		b.WriteString("-6 ")
	}
	b.WriteString("route add ")
	switch {
	case r.Attachment != "":
		fmt.Fprintf(&b, "%s dev %s table %d # attachment %s", p, tun, table, r.Attachment)
		return b.String()
	case r.IsRemote():
		fmt.Fprintf(&b, "%s dev %s table %d # via %s", p, tun, table, r.Remote)
		if len(r.Labels) > 0 {
			b.WriteString(" label " + labelStack(r.Labels))
		}
		if r.RD.IsValid() {
			b.WriteString(" rd " + r.RD.String())
		}
		return b.String()
	case !r.NextHop.IsValid() && r.Interface == "":
		// Never built by the reconciler; shown as what a careful backend
		// would do with it: drop, rather than leak to another table.
		fmt.Fprintf(&b, "blackhole %s", p)
	default:
		b.WriteString(p.String())
		b.WriteString(via(p.Addr(), r.NextHop, r.Interface))
	}
	fmt.Fprintf(&b, " table %d", table)
	return b.String()
}

// via renders " via [inet|inet6] NH dev IF", naming the family only when
// it differs from the destination's (an IPv4 route over an IPv6 next hop,
// RFC 5549) or the destination is a label (family "mpls").
func via(dst, nh netip.Addr, ifn string) string {
	var b strings.Builder
	if nh.IsValid() {
		b.WriteString(" via ")
		if !dst.IsValid() || dst.Is4() != nh.Is4() {
			if nh.Is4() {
				b.WriteString("inet ")
			} else {
				b.WriteString("inet6 ")
			}
		}
		b.WriteString(nh.String())
	}
	if ifn != "" {
		b.WriteString(" dev " + ifn)
	}
	return b.String()
}

func labelLine(l mpls.Label, a fib.LabelAction) string {
	head := fmt.Sprintf("ip -f mpls route add %d", uint32(l))
	switch a.Kind {
	case fib.PopLookup:
		return head + " dev " + fib.VRFDevice(a.VRF)
	case fib.PopForward:
		if !a.NextHop.IsValid() && a.Interface == "" {
			return head + " dev " + fib.VRFDevice(a.VRF) // nothing to forward to: look up
		}
		return head + via(netip.Addr{}, a.NextHop, a.Interface)
	}
	return fmt.Sprintf("# label add %d unknown action %d vrf %s", uint32(l), a.Kind, a.VRF)
}

func labelStack(ls []mpls.Label) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = fmt.Sprint(uint32(l))
	}
	return strings.Join(s, "/")
}

func tunnelLine(local, remote netip.Addr, t *fib.Tunnel) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# tunnel add %s", remote)
	if local.IsValid() {
		fmt.Fprintf(&b, " local %s", local)
	}
	if t.UDP {
		b.WriteString(" udp")
	} else {
		b.WriteString(" esp")
	}
	b.WriteString(" out" + saText(t.Out, false))
	b.WriteString(" in" + saText(t.In, true))
	for i, r := range t.Resources {
		fmt.Fprintf(&b, " resource %d out%s in%s", i+1, saText(r.Out, false), saText(r.In, true))
	}
	for _, p := range t.RetiringIn {
		b.WriteString(" retiring" + saText(p, true))
	}
	return b.String()
}

// attachmentLine is an attachment's comment: its VRF, gateway, selectors
// and SAs by SPI, never by key.
//
//	# attachment add site-red vrf red remote 10.0.9.2:4500 udp site 10.9.0.0/24 local 0.0.0.0/0 out spi ... in spi ...
func attachmentLine(a *fib.Attachment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# attachment add %s vrf %s remote %s", a.Name, a.VRF, a.Remote)
	if a.UDP {
		b.WriteString(" udp")
	} else {
		b.WriteString(" esp")
	}
	fmt.Fprintf(&b, " site %v local %v", a.SitePrefixes, a.LocalPrefixes)
	b.WriteString(" out" + saText(a.Out, false))
	b.WriteString(" in" + saText(a.In, true))
	for _, p := range a.RetiringIn {
		b.WriteString(" retiring" + saText(p, true))
	}
	return b.String()
}

// saText names an SA by SPI, transform and flags. It reads no key.
func saText(p *fib.SAParams, in bool) string {
	if p == nil {
		return " none"
	}
	s := fmt.Sprintf(" spi 0x%08x %s", p.SPI, p.Transform())
	if p.ESN {
		s += " esn"
	}
	if in && p.NoAntiReplay {
		s += " replay off"
	} else if in && p.ReplayWindow > 0 {
		s += fmt.Sprintf(" replay %d", p.ReplayWindow)
	}
	return s
}

func prefixKey(p netip.Prefix) string {
	fam := "4"
	if p.Addr().Is6() {
		fam = "6"
	}
	return fmt.Sprintf("%s %x %03d", fam, p.Addr().AsSlice(), p.Bits())
}

func addrKey(a netip.Addr) string {
	if a.Is4() {
		return fmt.Sprintf("4 %x", a.AsSlice())
	}
	return fmt.Sprintf("6 %x", a.AsSlice())
}
