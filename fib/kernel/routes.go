package kernel

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"runtime"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// applyRoutes writes d: its neighbor entries first, then its routes
// (syncRoutes).
func (b *Backend) applyRoutes(d *desired) error {
	errs := d.writeNeighbors(b.writeNeighbor)
	return errors.Join(append(errs, b.syncRoutes(d.routes))...)
}

// writeNeighbors writes each of d's neighbor entries with write. A route
// through an entry that could not be written is withheld from d.routes,
// so that the kernel does not keep it either (without the entry it could
// not forward), and named in an error.
func (d *desired) writeNeighbors(write func(*mappedNeighbor) error) []error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(d.neighbors)) {
		n := d.neighbors[k]
		if err := write(n); err != nil {
			for _, u := range n.users {
				delete(d.routes, u.key)
				errs = append(errs, fmt.Errorf("%s: %w", u.what, err))
			}
		}
	}
	return errs
}

// writeNeighbor is `ip -6 neigh replace ::ffff:GW lladdr MAC dev OIF nud
// permanent`, by hand: vishvananda/netlink sends an IPv4-mapped address
// as 4 bytes.
func (b *Backend) writeNeighbor(n *mappedNeighbor) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWNEIGH, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	req.AddData(&netlink.Ndmsg{Family: unix.AF_INET6, Index: uint32(n.LinkIndex), State: netlink.NUD_PERMANENT})
	req.AddData(nl.NewRtAttr(unix.NDA_DST, []byte(n.IP.To16())))
	req.AddData(nl.NewRtAttr(unix.NDA_LLADDR, []byte(n.MAC)))
	if err := b.inNS(func() error { _, err := req.Execute(unix.NETLINK_ROUTE, 0); return err }); err != nil {
		return fmt.Errorf("ip -6 neigh replace ::ffff:%s lladdr %s: %w", n.IP.To4(), n.MAC, err)
	}
	return nil
}

// syncRoutes replaces the routes of want and deletes every other route of
// protocol 204 (in the VRF tables and the MPLS table).
func (b *Backend) syncRoutes(want map[string]*netlink.Route) error {
	var errs []error
	var have []netlink.Route
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6, netlink.FAMILY_MPLS} {
		rs, err := b.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: RTProto},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing routes: %w", err))
			continue
		}
		for i := range rs {
			if fam == netlink.FAMILY_MPLS {
				rs[i].Family = netlink.FAMILY_MPLS
			}
		}
		have = append(have, rs...)
	}
	del, replace := routeChanges(have, want)
	errs = append(errs, b.deleteRoutes(del), b.replaceRoutes(replace))
	return errors.Join(errs...)
}

// routeChanges compares the routes of protocol 204 the kernel has with
// want: del are those want does not name, replace (sorted by key) those
// it names that are missing or differ. A route want names is replaced in
// place, never deleted first: its traffic never finds the table without
// it.
func routeChanges(have []netlink.Route, want map[string]*netlink.Route) (del, replace []*netlink.Route) {
	same := map[string]bool{}
	for i := range have {
		r := &have[i]
		k := routeKey(r)
		w, ok := want[k]
		switch {
		case !ok:
			del = append(del, r)
		case sameRoute(w, r):
			same[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if !same[k] {
			replace = append(replace, want[k])
		}
	}
	return del, replace
}

// routeKey is what makes two routes the same route to the kernel:
// family, table, destination (or label) and metric, an IPv6 route's
// metric 1024 read back as the 0 it was written with.
func routeKey(r *netlink.Route) string {
	if r.Family == netlink.FAMILY_MPLS || r.MPLSDst != nil {
		if r.MPLSDst == nil {
			return "mpls ?"
		}
		return fmt.Sprintf("mpls %d", *r.MPLSDst)
	}
	dst := "default"
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	fam, metric := "inet", r.Priority
	if r.Family == netlink.FAMILY_V6 || (r.Dst != nil && r.Dst.IP.To4() == nil) {
		fam = "inet6"
		if metric == 1024 {
			metric = 0 // the kernel's metric for an IPv6 route added without one
		}
	}
	return fmt.Sprintf("%s %s table %d metric %d", fam, dst, r.Table, metric)
}

// sameRoute compares what the backend sets: type, interface, gateway and
// label stack.
func sameRoute(want, got *netlink.Route) bool {
	if want.Type == unix.RTN_UNREACHABLE || want.Type == unix.RTN_BLACKHOLE {
		return got.Type == want.Type // the kernel shows IPv6 ones on lo
	}
	if want.Type != 0 && want.Type != got.Type || want.LinkIndex != got.LinkIndex {
		return false
	}
	if !ipEqual(want.Gw, got.Gw) {
		return false
	}
	if (want.Via == nil) != (got.Via == nil) || want.Via != nil && want.Via.String() != got.Via.String() {
		return false
	}
	return encapString(want.Encap) == encapString(got.Encap)
}

func encapString(e netlink.Encap) string {
	if e == nil {
		return ""
	}
	if m, ok := e.(*netlink.MPLSEncap); ok {
		return fmt.Sprint(m.Labels)
	}
	return e.String()
}

func ipEqual(a, b net.IP) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return a.Equal(b)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func defaultDst(fam int) *net.IPNet {
	if fam == netlink.FAMILY_V4 {
		return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	}
	return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
}

// via is an MPLS or cross-family next hop; netlink v1.3.1 sends Addr's
// bytes as they are, so an IPv4 next hop must be its 4-byte form.
func via(ip net.IP) *netlink.Via {
	if v4 := ip.To4(); v4 != nil {
		return &netlink.Via{AddrFamily: netlink.FAMILY_V4, Addr: v4}
	}
	return &netlink.Via{AddrFamily: netlink.FAMILY_V6, Addr: ip}
}

// onThreadIn runs f on a locked OS thread switched into ns and back.
func onThreadIn(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
	}()
	return <-errc
}
