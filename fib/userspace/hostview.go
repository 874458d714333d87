package userspace

import (
	"fmt"
	"net/netip"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// hostView is what one Apply reads of the host's interfaces: their
// indexes, their addresses and the local table's routes through them,
// each from one netlink dump. Asking interface by interface (a link
// lookup, an address dump and a local-table dump each, several times
// per Apply) made every Apply cost requests per VRF, each as long as
// the host's tables, and so bring-up quadratic in the VRFs (issue 23).
//
//	ip -o link show; ip -o addr show; ip route show table local
type hostView struct {
	index map[string]int         // link name -> index
	addrs map[int][]netip.Prefix // link index -> its addresses, with prefix length
	local map[int][]localRoute   // link index -> its routes in the local table that mirrorLocal copies
}

// localRoute is a local, broadcast or multicast route of the local
// table, as syncRoutes compares routes: the view lives from one host
// change to the next, and a netlink.Route with its address slices was
// five times the size, per CE interface (issue 23).
type localRoute struct {
	key routeKey
	val routeVal
}

// fullHostReadEvery: one Apply in this many reads the host's tables even
// when the watch heard of no change, for what it does not hear of (a
// local route added by hand).
const fullHostReadEvery = 256

// host returns the host's view: the last one read if the watch says no
// link or address changed since but those of own, the backend's TUNs
// (hostwatch.go), else a fresh read. The view is shared between Applies
// and must not be changed.
func (s *system) host(own map[int32]bool) (*hostView, error) {
	s.hostReads++
	// What comes after this drain is news for the next call.
	news := s.watch.news(own)
	if news.lost {
		s.installed = nil // the next route sync dumps, and puts back what the kernel deleted
	}
	if s.hostView != nil && s.hostReads%fullHostReadEvery != 0 && !news.changed {
		return s.hostView, nil
	}
	s.hostView = nil
	v, err := s.readHost()
	if err != nil {
		return nil, err
	}
	s.hostView = v
	return v, nil
}

// readHost dumps the host's links, addresses and local table.
func (s *system) readHost() (*hostView, error) {
	v := &hostView{index: map[string]int{}, addrs: map[int][]netip.Prefix{}, local: map[int][]localRoute{}}
	links, err := fib.RetryDump(dumpTries, func() ([]netlink.Link, error) { return s.req().LinkList() })
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	for _, l := range links {
		v.index[l.Attrs().Name] = l.Attrs().Index
	}
	addrs, err := fib.RetryDump(dumpTries, func() ([]netlink.Addr, error) { return s.req().AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	for _, ad := range addrs {
		ip, ok := netip.AddrFromSlice(ad.IP)
		if !ok {
			continue
		}
		ones, _ := ad.Mask.Size()
		v.addrs[ad.LinkIndex] = append(v.addrs[ad.LinkIndex], netip.PrefixFrom(ip.Unmap(), ones))
	}
	routes, err := fib.RetryDump(dumpTries, func() ([]netlink.Route, error) {
		return s.req().RouteListFiltered(netlink.FAMILY_ALL,
			&netlink.Route{Table: unix.RT_TABLE_LOCAL}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("listing the local table: %w", err)
	}
	for _, r := range routes {
		switch r.Type {
		case unix.RTN_LOCAL, unix.RTN_BROADCAST, unix.RTN_MULTICAST:
		default:
			continue
		}
		if r.LinkIndex > 0 {
			k, val := keyOf(r)
			v.local[r.LinkIndex] = append(v.local[r.LinkIndex], localRoute{k, val})
		}
	}
	return v, nil
}

// ifAddrs returns the addresses on ifaces, each with its prefix length,
// by interface. A missing interface has none.
func (v *hostView) ifAddrs(ifaces []string) map[string][]netip.Prefix {
	out := map[string][]netip.Prefix{}
	if v == nil {
		return out
	}
	for _, name := range ifaces {
		if i, ok := v.index[name]; ok && len(v.addrs[i]) > 0 {
			out[name] = v.addrs[i]
		}
	}
	return out
}

// mirrorLocal adds to out, for table, the routes of the kernel's local
// table that name ifname (local, broadcast, multicast):
//
//	ip route show table local dev IF
//
// A missing interface has none.
func (v *hostView) mirrorLocal(ifname string, table int, out map[routeKey]routeVal) {
	if v == nil {
		return
	}
	i, ok := v.index[ifname]
	if !ok {
		return
	}
	for _, r := range v.local[i] {
		k := r.key
		k.table = uint32(table)
		out[k] = r.val
	}
}

// ifaceOf names the interface that holds address a, "" if none does.
func (v *hostView) ifaceOf(a netip.Addr) string {
	if v == nil || !a.IsValid() {
		return ""
	}
	for i, ps := range v.addrs {
		for _, p := range ps {
			if p.Addr() == a {
				for name, j := range v.index {
					if j == i {
						return name
					}
				}
			}
		}
	}
	return ""
}
