package kernel

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"

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
	have, listErr := b.listRoutes(max(b.routeCount, len(want)))
	del, replace := routeChanges(have, want)
	b.routeCount = len(have) - len(del) + len(replace)
	return errors.Join(listErr, b.deleteRoutes(del), b.replaceRoutes(replace))
}

// routeChanges compares the routes of protocol 204 the kernel has with
// want: del are those want does not name, replace those it names that
// are missing or differ, in no particular order (sorting 100,000 keys
// costs a tenth of their writes; writeRoutes sorts its errors instead). A route want names is replaced in
// place, never deleted first: its traffic never finds the table without
// it.
func routeChanges(have []netlink.Route, want map[string]*netlink.Route) (del, replace []*netlink.Route) {
	same := make(map[*netlink.Route]bool, min(len(have), len(want))) // by want's route
	var key []byte
	for i := range have {
		r := &have[i]
		key = appendRouteKey(key[:0], r)
		w, ok := want[string(key)] // no string is made for a lookup
		switch {
		case !ok:
			del = append(del, r)
		case sameRoute(w, r):
			same[w] = true
		}
	}
	for _, w := range want {
		if !same[w] {
			replace = append(replace, w)
		}
	}
	return del, replace
}

// routeKey is what makes two routes the same route to the kernel:
// family, table, destination (or label) and metric, an IPv6 route's
// metric 1024 read back as the 0 it was written with:
//
//	inet 10.0.0.1/32 table 1000 metric 0
//	inet6 2001:db8::/64 table 1000 metric 0
//	mpls 100
//
// It is built by appending, not formatted: Apply computes it for every
// route it wants and every route the kernel has.
func routeKey(r *netlink.Route) string {
	var b [80]byte
	return string(appendRouteKey(b[:0], r))
}

// appendRouteKey appends r's routeKey to b.
func appendRouteKey(b []byte, r *netlink.Route) []byte {
	if r.Family == netlink.FAMILY_MPLS || r.MPLSDst != nil {
		if r.MPLSDst == nil {
			return append(b, "mpls ?"...)
		}
		return strconv.AppendInt(append(b, "mpls "...), int64(*r.MPLSDst), 10)
	}
	fam, metric := "inet ", r.Priority
	if r.Family == netlink.FAMILY_V6 || (r.Dst != nil && r.Dst.IP.To4() == nil) {
		fam = "inet6 "
		if metric == 1024 {
			metric = 0 // the kernel's metric for an IPv6 route added without one
		}
	}
	b = appendIPNet(append(b, fam...), r.Dst)
	b = strconv.AppendInt(append(b, " table "...), int64(r.Table), 10)
	return strconv.AppendInt(append(b, " metric "...), int64(metric), 10)
}

// appendIPNet appends n as n.String() writes it ("default" for nil).
func appendIPNet(b []byte, n *net.IPNet) []byte {
	if n == nil {
		return append(b, "default"...)
	}
	ip := n.IP
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	ones, bits := n.Mask.Size()
	a, ok := netip.AddrFromSlice(ip)
	if len(ip) == 4 && bits == 128 && ones >= 96 {
		ones, bits = ones-96, 32 // a 16-byte mask on an IPv4 address: its last 4 bytes
	}
	if !ok || bits == 0 || bits != 8*len(ip) {
		return append(b, n.String()...) // a mask not in canonical form, or not the address's length
	}
	return strconv.AppendInt(append(a.AppendTo(b), '/'), int64(ones), 10)
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
	return encapEqual(want.Encap, got.Encap)
}

// encapEqual compares MPLS encaps by their label stacks, any other by
// its text.
func encapEqual(a, b netlink.Encap) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ma, okA := a.(*netlink.MPLSEncap)
	mb, okB := b.(*netlink.MPLSEncap)
	if okA && okB {
		return slices.Equal(ma.Labels, mb.Labels)
	}
	return okA == okB && a.String() == b.String()
}

func ipEqual(a, b net.IP) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return a.Equal(b)
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
