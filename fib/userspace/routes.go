package userspace

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/internal/nlbatch"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeKey is what names a route in the kernel: its table, destination
// and metric. It and routeVal hold no pointer (rawPrefix, routekey.go).
type routeKey struct {
	table  uint32
	metric uint32
	dst    rawPrefix
}

// routeVal is what a route does: unicast out of oif (via gw), or
// unreachable.
type routeVal struct {
	oif int32
	typ uint8
	gw  rawAddr
}

// syncRoutes makes the routes of protocol 204, in every table, exactly
// those vrfs need (see the package documentation for the list), with
// `ip route replace` for missing or different ones and `ip route del` for
// the rest. tunIndex gives each VRF's TUN ifindex. Routes it cannot
// install (a CE interface that does not exist yet) are reported and the
// rest installed; the next Apply tries again.
func (s *system) syncRoutes(vrfs map[string]*fib.VRF, tunIndex map[string]int, host *hostView) error {
	var errs []error
	// Each VRF table also holds its CE interfaces' local, broadcast and
	// multicast routes, since the `lookup local` rule now comes after
	// the VRF's: without them a CE could not ARP for, ND for or ping its
	// PE-side address.
	ownRoutes := map[routeKey]routeVal{}
	for _, v := range vrfs {
		for _, ifname := range v.Interfaces {
			host.mirrorLocal(ifname, int(v.Table), ownRoutes)
		}
	}
	index := func(name string) (int, error) {
		if i, ok := host.index[name]; ok {
			return i, nil
		}
		return 0, fmt.Errorf("no interface %s", name)
	}
	want := map[routeKey]routeVal{}
	for name, v := range vrfs {
		t := v.Table
		for _, d := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} {
			want[routeKey{t, unreachableMetric, rawPrefixOf(d)}] = routeVal{typ: unix.RTN_BLACKHOLE}
		}
		for p, r := range v.Routes {
			val := routeVal{typ: unix.RTN_UNICAST, gw: rawAddrOf(r.NextHop)}
			var err error
			switch {
			case r.IsRemote(), r.Attachment != "":
				val.gw = rawAddr{}
				if val.oif = int32(tunIndex[name]); val.oif == 0 {
					err = errors.New("no TUN device")
				}
			case r.Interface != "":
				var i int
				i, err = index(r.Interface)
				val.oif = int32(i)
			case !r.NextHop.IsValid():
				err = errors.New("neither interface nor next hop")
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("vrf %s route %s: %w", name, p, err))
				continue
			}
			want[routeKey{t, 0, rawPrefixOf(p.Masked())}] = val
		}
	}
	for k, v := range ownRoutes {
		want[k] = v
	}

	s.syncs++
	if s.installed != nil && s.syncs%fullSyncEvery != 0 {
		return errors.Join(append(errs, s.syncRoutesFrom(s.installed, want))...)
	}
	// A full sync: against what the kernel has, found by dumping it.
	s.installed = nil
	routes, err := fib.RetryDump(dumpTries, func() ([]netlink.Route, error) {
		return s.req().RouteListFiltered(netlink.FAMILY_ALL,
			&netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: RTProto},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing routes: %w", err))...)
	}
	have, stale, staleVals := sortDumped(routes, want)
	errs = append(errs, s.deleteRoutes(stale, staleVals)...)
	errs = append(errs, s.replaceRoutes(want, func(k routeKey, _ routeVal) bool { return have[k] })...)
	if len(errs) == 0 {
		s.installed = want
	}
	return errors.Join(errs...)
}

// sortDumped sorts a dump of the backend's routes into those want holds
// as they are (have) and the rest (stale, with their values). A route
// the dump lists twice is one route, kept: the kernel holds no two
// routes alike (it refuses the second), but a dump the kernel's own
// changes cut into (addrconf adding a TUN's routes, a table made
// meanwhile) can list a route twice, and deleting the "extra" copy
// deleted the only one.
func sortDumped(routes []netlink.Route, want map[routeKey]routeVal) (have map[routeKey]bool, stale []routeKey, staleVals []routeVal) {
	have = map[routeKey]bool{}
	for _, r := range routes {
		k, v := keyOf(r)
		if w, ok := want[k]; ok && w == v {
			have[k] = true
			continue
		}
		stale, staleVals = append(stale, k), append(staleVals, v)
	}
	return have, stale, staleVals
}

// replaceRoutes installs each route of want that present does not say is
// there already.
func (s *system) replaceRoutes(want map[routeKey]routeVal, present func(routeKey, routeVal) bool) []error {
	var routes []*netlink.Route
	for k, v := range want {
		if !present(k, v) {
			routes = append(routes, netlinkRoute(k, v))
		}
	}
	s.changes += len(routes)
	return s.writeRoutes(nlbatch.ReplaceRoute, routes)
}

// deleteRoutes removes the routes keys (with vals), by key, in batches;
// a route already gone is no error.
func (s *system) deleteRoutes(keys []routeKey, vals []routeVal) []error {
	routes := make([]*netlink.Route, len(keys))
	for i, k := range keys {
		routes[i] = netlinkRoute(k, vals[i])
	}
	s.changes += len(routes)
	return s.writeRoutes(nlbatch.DeleteRoute, routes)
}

// writeRoutes asks op of the kernel for routes and returns every route
// it refused, named as `ip route` would: "ip route del DST table T".
func (s *system) writeRoutes(op nlbatch.Op, routes []*netlink.Route) []error {
	if err := s.send(nlbatch.RouteRequests(op, routes, routeName)); err != nil {
		return []error{err}
	}
	return nil
}

// routeName is r's destination and table, as errors name a route.
func routeName(r *netlink.Route) string {
	return fmt.Sprintf("%v table %d", r.Dst, r.Table)
}

// fullSyncEvery: one sync in this many dumps the kernel's routes even when
// the last one went well, to repair what someone else changed in the
// backend's tables.
const fullSyncEvery = 256

// syncRoutesFrom changes the kernel's routes from have, what the last sync
// left there, to want: only the routes that differ, so an Apply that adds
// one route to a million-route VRF makes one netlink call and no dump.
// Any error forgets have, and the next sync is a full one.
func (s *system) syncRoutesFrom(have, want map[routeKey]routeVal) error {
	var stale []routeKey
	var staleVals []routeVal
	for k, v := range have {
		if w, ok := want[k]; ok && w == v {
			continue
		}
		if _, replaced := want[k]; replaced {
			continue // the replace below overwrites it
		}
		stale, staleVals = append(stale, k), append(staleVals, v)
	}
	errs := s.deleteRoutes(stale, staleVals)
	errs = append(errs, s.replaceRoutes(want, func(k routeKey, v routeVal) bool { h, ok := have[k]; return ok && h == v })...)
	if len(errs) == 0 {
		s.installed = want
	} else {
		s.installed = nil
	}
	return errors.Join(errs...)
}

// keyOf reads a dumped route back into the form syncRoutes compares.
func keyOf(r netlink.Route) (routeKey, routeVal) {
	var dst netip.Prefix
	if r.Dst != nil {
		a, _ := netip.AddrFromSlice(r.Dst.IP)
		if r.Family == netlink.FAMILY_V4 {
			a = a.Unmap()
		}
		ones, _ := r.Dst.Mask.Size()
		dst = netip.PrefixFrom(a, ones)
	} else if r.Family == netlink.FAMILY_V6 {
		dst = netip.MustParsePrefix("::/0")
	} else {
		dst = netip.MustParsePrefix("0.0.0.0/0")
	}
	gw, _ := netip.AddrFromSlice(r.Gw)
	if gw.Is4In6() {
		gw = gw.Unmap()
	}
	v := routeVal{typ: uint8(r.Type), oif: int32(r.LinkIndex), gw: rawAddrOf(gw)}
	if r.Type == unix.RTN_UNREACHABLE || r.Type == unix.RTN_BLACKHOLE {
		v.oif = 0 // the kernel shows IPv6 ones on lo
	}
	metric := r.Priority
	if r.Family == netlink.FAMILY_V6 && metric == 1024 {
		metric = 0 // the kernel's default IPv6 metric for a route added without one
	}
	return routeKey{uint32(r.Table), uint32(metric), rawPrefixOf(dst)}, v
}

// netlinkRoute is the route for k and v:
//
//	ip route replace local ADDR dev IF table T proto 204           (scope host; broadcast and multicast alike, scope link)
//	ip route replace blackhole DST table T metric M proto 204
//	ip route replace DST dev IF table T proto 204                (scope link)
//	ip route replace DST via GW dev IF onlink table T proto 204
func netlinkRoute(k routeKey, v routeVal) *netlink.Route {
	dst := k.dst.prefix()
	r := &netlink.Route{
		Table: int(k.table), Priority: int(k.metric), Protocol: RTProto, Type: int(v.typ),
		Dst: &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())},
	}
	r.Family = netlink.FAMILY_V6
	if dst.Addr().Is4() {
		r.Family = netlink.FAMILY_V4
	}
	switch v.typ {
	case unix.RTN_UNREACHABLE, unix.RTN_BLACKHOLE:
		return r
	case unix.RTN_LOCAL:
		r.LinkIndex, r.Scope = int(v.oif), netlink.SCOPE_HOST
		return r
	case unix.RTN_BROADCAST, unix.RTN_MULTICAST, unix.RTN_ANYCAST:
		r.LinkIndex, r.Scope = int(v.oif), netlink.SCOPE_LINK
		return r
	}
	r.LinkIndex = int(v.oif)
	if gw := v.gw.addr(); gw.IsValid() {
		r.Gw = gw.AsSlice()
		if v.oif != 0 {
			r.Flags = int(netlink.FLAG_ONLINK)
		}
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	return r
}
