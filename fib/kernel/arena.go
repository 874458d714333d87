package kernel

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/mpls"
)

// routeArena hands out routes and their small pieces from a few large
// allocations: a dump or a translation of 100,000 routes would
// otherwise allocate each route, address, mask, network and label stack
// on its own (and the garbage collector would mark each). What it hands
// out lives as long as any of it is referenced; nothing it hands out is
// written after it is filled in (masks and label stacks are shared).
type routeArena struct {
	b      []byte
	n      []int
	nets   []net.IPNet
	routes []netlink.Route
	// last is the MPLS encap made last, reused for the next route with
	// the same label stack (a VRF's routes from one PE share one).
	last       *netlink.MPLSEncap
	lastLabels []mpls.Label
}

// route is a new zero route.
func (a *routeArena) route() *netlink.Route {
	if len(a.routes) == cap(a.routes) {
		a.routes = make([]netlink.Route, 0, arenaChunk)
	}
	a.routes = a.routes[:len(a.routes)+1]
	return &a.routes[len(a.routes)-1]
}

// prefix is p as a *net.IPNet (an IPv4 prefix's address in 4 bytes).
func (a *routeArena) prefix(p netip.Prefix) *net.IPNet {
	var ip net.IP
	if p.Addr().Is4() {
		v := p.Addr().As4()
		ip, _ = a.ip(v[:], unix.AF_INET)
	} else {
		v := p.Addr().As16()
		ip, _ = a.ip(v[:], unix.AF_INET6)
	}
	return a.ipNet(ip, p.Bits())
}

// encap is the MPLS encap pushing labels, outermost first.
func (a *routeArena) encap(labels []mpls.Label) *netlink.MPLSEncap {
	if a.last != nil && slices.Equal(labels, a.lastLabels) {
		return a.last
	}
	ints := a.ints(len(labels))
	for i, l := range labels {
		ints[i] = int(l)
	}
	a.last, a.lastLabels = &netlink.MPLSEncap{Labels: ints}, slices.Clone(labels)
	return a.last
}

const arenaChunk = 4096

// ip copies v, an address of family fam (4 or 16 bytes).
func (a *routeArena) ip(v []byte, fam uint8) (net.IP, error) {
	want := 0
	switch fam {
	case unix.AF_INET:
		want = 4
	case unix.AF_INET6:
		want = 16
	}
	if want == 0 || len(v) != want {
		return nil, fmt.Errorf("%d bytes for family %d", len(v), fam)
	}
	if len(a.b)+len(v) > cap(a.b) {
		a.b = make([]byte, 0, arenaChunk*16)
	}
	start := len(a.b)
	a.b = append(a.b, v...)
	return net.IP(a.b[start:len(a.b):len(a.b)]), nil
}

func (a *routeArena) ints(n int) []int {
	if len(a.n)+n > cap(a.n) {
		a.n = make([]int, 0, max(arenaChunk, n))
	}
	start := len(a.n)
	a.n = a.n[:start+n]
	return a.n[start : start+n : start+n]
}

// ipNet is ip/bits with a shared, read-only mask.
func (a *routeArena) ipNet(ip net.IP, bits int) *net.IPNet {
	if len(a.nets) == cap(a.nets) {
		a.nets = make([]net.IPNet, 0, arenaChunk)
	}
	a.nets = append(a.nets, net.IPNet{IP: ip, Mask: prefixMask(bits, 8*len(ip))})
	return &a.nets[len(a.nets)-1]
}

// masks holds every IPv4 and IPv6 prefix mask, shared by parsed routes
// (nothing writes a route's mask).
var masks = func() (m [2][129]net.IPMask) {
	for bits := range 33 {
		m[0][bits] = net.CIDRMask(bits, 32)
	}
	for bits := range 129 {
		m[1][bits] = net.CIDRMask(bits, 128)
	}
	return m
}()

func prefixMask(bits, size int) net.IPMask {
	if size == 32 {
		return masks[0][bits]
	}
	return masks[1][bits]
}
