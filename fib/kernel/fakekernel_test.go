package kernel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// The translation half of the route step, on the host: no root, no VM.
// A fake kernelView stands for this PE's kernel:
//
//	ce1 (3) ─┐                          ┌─ 192.168.1.2 (P, 02:00:00:00:01:02)
//	ce2 (4) ─┤ PE  core (2) 192.168.1.1 ┤     └─ 192.168.2.2 (remote PE)
//	         │     core6 (5) 2001:db8:c::1 ── 2001:db8:c::2 ── 2001:db8:e::2 (remote PE, IPv6 core)
//	vrf-red (10), vrf-blue (11); pgesp-0 (20), pgesp-1 (21): the ESP Gateway's TUNs
//
// The VM (vm_test.go, esp_vm_test.go, daemon_vm_test.go) keeps proving
// that the kernel takes what the translation wants and forwards by it.

// fakeKernel is a kernelView over tables a test fills. It counts its
// route and ARP reads.
type fakeKernel struct {
	links  map[string]int
	routes map[netip.Addr]netlink.Route // ip route get PE
	arp    map[int][]netlink.Neigh      // by interface index
	// reads
	routeGets, neighLists int
}

var errFakeUnreachable = errors.New("network is unreachable")

func (k *fakeKernel) LinkByName(name string) (netlink.Link, error) {
	idx, ok := k.links[name]
	if !ok {
		return nil, fmt.Errorf("link %s not found", name)
	}
	return &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name, Index: idx}}, nil
}

func (k *fakeKernel) RouteGet(dst net.IP) ([]netlink.Route, error) {
	k.routeGets++
	a, _ := netip.AddrFromSlice(dst)
	r, ok := k.routes[a.Unmap()]
	if !ok {
		return nil, errFakeUnreachable
	}
	return []netlink.Route{r}, nil
}

func (k *fakeKernel) NeighList(linkIndex, family int) ([]netlink.Neigh, error) {
	k.neighLists++
	if family != netlink.FAMILY_V4 {
		return nil, fmt.Errorf("fake: family %d: only the ARP table is faked", family)
	}
	return k.arp[linkIndex], nil
}

// names is the fake's index -> name, for lines.
func (k *fakeKernel) names() map[int]string {
	m := map[int]string{}
	for n, i := range k.links {
		m[i] = n
	}
	return m
}

var macP = net.HardwareAddr{2, 0, 0, 0, 1, 2}

// newFakePE is the PE drawn above; with changes applied on top.
func newFakePE(changes ...func(*fakeKernel)) *fakeKernel {
	k := &fakeKernel{
		links: map[string]int{"lo": 1, "core": 2, "ce1": 3, "ce2": 4, "core6": 5,
			"vrf-red": 10, "vrf-blue": 11, "pgesp-0": 20, "pgesp-1": 21},
		routes: map[netip.Addr]netlink.Route{
			addr("192.168.2.2"):   {Gw: net.ParseIP("192.168.1.2"), LinkIndex: 2}, // over P
			addr("192.168.1.2"):   {LinkIndex: 2},                                 // P itself, connected
			addr("2001:db8:e::2"): {Gw: net.ParseIP("2001:db8:c::2"), LinkIndex: 5},
		},
		arp: map[int][]netlink.Neigh{2: {
			{IP: net.ParseIP("192.168.1.9").To4(), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 1, 9}, State: netlink.NUD_REACHABLE},
			{IP: net.ParseIP("192.168.1.2").To4(), HardwareAddr: macP, State: netlink.NUD_STALE},
		}},
	}
	for _, c := range changes {
		c(k)
	}
	return k
}

// lines renders d as ip command lines (dump.go's forms): what the apply
// step will write.
func (d *desired) lines(names map[int]string) []string {
	var out []string
	for _, n := range d.neighbors {
		out = append(out, fmt.Sprintf("ip -6 neigh replace ::ffff:%s lladdr %s dev %s nud permanent", n.IP.To4(), n.MAC, names[n.LinkIndex]))
	}
	for _, r := range d.routes {
		if r.MPLSDst != nil {
			out = append(out, mplsLine(*r, names))
		} else {
			out = append(out, routeLine(*r, names))
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(lineOrder(a), lineOrder(b)) })
	return out
}

// Helpers that build States.

func vrf(name string, table uint32, routes ...fib.Route) *fib.VRF {
	v := &fib.VRF{Name: name, Table: table, Routes: map[netip.Prefix]fib.Route{}}
	for _, r := range routes {
		v.Routes[r.Prefix] = r
		if r.Interface != "" && !slices.Contains(v.Interfaces, r.Interface) {
			v.Interfaces = append(v.Interfaces, r.Interface)
		}
	}
	return v
}

func remote(prefix, pe string, labels ...mpls.Label) fib.Route {
	return fib.Route{Prefix: pfx(prefix), Remote: addr(pe), Labels: labels}
}

func local(prefix, ifn, nextHop string) fib.Route {
	r := fib.Route{Prefix: pfx(prefix), Interface: ifn}
	if nextHop != "" {
		r.NextHop = addr(nextHop)
	}
	return r
}

func vrfs(vs ...*fib.VRF) map[string]*fib.VRF {
	m := map[string]*fib.VRF{}
	for _, v := range vs {
		m[v.Name] = v
	}
	return m
}

var (
	coreDevs = routeDevices{VRFs: map[string]int{"red": 10, "blue": 11}}
	espDevs  = routeDevices{VRFs: map[string]int{"red": 10, "blue": 11}, ESP: true,
		ESPTUNs: map[netip.Addr]string{addr("192.168.2.2"): "pgesp-0", addr("192.168.3.3"): "pgesp-1"}}
)

// unreachables are every VRF table's defaults, for table.
func unreachables(table int) []string {
	return []string{
		fmt.Sprintf("ip route add unreachable default table %d metric 4278198272", table),
		fmt.Sprintf("ip -6 route add unreachable default table %d metric 4278198272", table),
	}
}

// lineDiff lists, sorted, the lines of want that got lacks (-) and those
// of got that want lacks (+); "" if they hold the same lines.
func lineDiff(got, want []string) string {
	count := map[string]int{}
	for _, l := range want {
		count[l]++
	}
	for _, l := range got {
		count[l]--
	}
	var out []string
	for l, n := range count {
		for ; n > 0; n-- {
			out = append(out, "- "+l)
		}
		for ; n < 0; n++ {
			out = append(out, "+ "+l)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(a[2:]+a[:1], b[2:]+b[:1]) })
	return strings.Join(out, "\n")
}
