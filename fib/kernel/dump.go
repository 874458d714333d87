package kernel

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Lines renders what the backend owns in the kernel as `ip` command lines,
// in the form the fake backend uses: VRF devices and their members, the
// routes of protocol 204 in the VRF tables, and the MPLS routes. Tests
// compare them with golden files; operators can read them.
func (b *Backend) Lines() ([]string, error) {
	links, err := b.h.LinkList()
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	tables := map[int]string{} // table -> VRF device
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
		if v, ok := l.(*netlink.Vrf); ok {
			tables[int(v.Table)] = l.Attrs().Name
		}
	}
	var out []string
	for _, l := range links {
		if v, ok := l.(*netlink.Vrf); ok {
			out = append(out, fmt.Sprintf("ip link add %s type vrf table %d", l.Attrs().Name, v.Table))
		}
	}
	for _, l := range links {
		if m := l.Attrs().MasterIndex; m != 0 && strings.HasPrefix(names[m], "vrf-") {
			out = append(out, fmt.Sprintf("ip link set %s master %s", l.Attrs().Name, names[m]))
		}
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := b.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: RTProto},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out = append(out, routeLine(r, names))
		}
	}
	rs, err := b.h.RouteListFiltered(netlink.FAMILY_MPLS, &netlink.Route{Protocol: RTProto}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.MPLSDst == nil {
			continue
		}
		out = append(out, mplsLine(r, names))
	}
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(lineOrder(a), lineOrder(b)) })
	return out, nil
}

// lineOrder sorts links first, then routes, then labels, each by text.
func lineOrder(l string) string {
	switch {
	case strings.HasPrefix(l, "ip link add"):
		return "0" + l
	case strings.HasPrefix(l, "ip link set"):
		return "1" + l
	case strings.HasPrefix(l, "ip -f mpls"):
		return "3" + l
	}
	return "2" + l
}

func routeLine(r netlink.Route, names map[int]string) string {
	cmd := "ip route add "
	if r.Family == netlink.FAMILY_V6 {
		cmd = "ip -6 route add "
	}
	dst := "default"
	if r.Dst != nil {
		if ones, _ := r.Dst.Mask.Size(); ones != 0 || !r.Dst.IP.IsUnspecified() {
			dst = r.Dst.String()
		}
	}
	if r.Type == unix.RTN_UNREACHABLE {
		return fmt.Sprintf("%sunreachable %s table %d metric %d", cmd, dst, r.Table, r.Priority)
	}
	if r.Type == unix.RTN_BLACKHOLE {
		return fmt.Sprintf("%sblackhole %s table %d", cmd, dst, r.Table)
	}
	line := cmd + dst
	if m, ok := r.Encap.(*netlink.MPLSEncap); ok {
		labels := make([]string, len(m.Labels))
		for i, l := range m.Labels {
			labels[i] = fmt.Sprint(l)
		}
		line += " encap mpls " + strings.Join(labels, "/")
	}
	switch {
	case r.Family == netlink.FAMILY_V6 && r.Gw.To4() != nil: // 6VPE: an IPv4-mapped gateway
		line += " via ::ffff:" + r.Gw.To4().String()
	case r.Gw != nil:
		line += " via " + r.Gw.String()
	case r.Via != nil:
		line += " via " + viaText(r.Via)
	}
	line += " dev " + names[r.LinkIndex]
	if r.Flags&int(netlink.FLAG_ONLINK) != 0 {
		line += " onlink"
	}
	return fmt.Sprintf("%s table %d", line, r.Table)
}

// mplsLine renders a label route r (MPLSDst set).
func mplsLine(r netlink.Route, names map[int]string) string {
	line := fmt.Sprintf("ip -f mpls route add %d", *r.MPLSDst)
	if r.Via != nil {
		line += " via " + viaText(r.Via)
	}
	return line + " dev " + names[r.LinkIndex]
}

func viaText(d netlink.Destination) string {
	if v, ok := d.(*netlink.Via); ok {
		fam := "inet"
		if v.AddrFamily == netlink.FAMILY_V6 {
			fam = "inet6"
		}
		return fam + " " + net.IP(v.Addr).String()
	}
	return d.String()
}
