package kernel

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// Host tests with root but no VM: a network namespace of a stock kernel
// (no MPLS, no VRF module needed) built like the fake PE of
// desired_test.go,
//
//	core 192.168.1.1/30 ── peer (192.168.1.2, lladdr 02:00:00:00:01:02, nud permanent)
//	ip route add 192.168.2.0/30 via 192.168.1.2 dev core
//	ce1, ce2, vrf-red, vrf-blue: veths (the host may have no dummy module)
//
// shows that the real kernel, read through *netlink.Handle, translates
// as the fake does, and that the apply step's hand-built neighbor
// message makes the entry `ip -6 neigh` shows.

// requireRootNS skips unless the test can make network namespaces.
func requireRootNS(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: a network namespace")
	}
}

// newHostPE builds the namespace drawn above and returns a Backend in it.
func newHostPE(t *testing.T) (*Backend, *netlink.Handle) {
	t.Helper()
	ns := newNS(t)
	h := handle(t, ns)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	up := func(name string) netlink.Link {
		t.Helper()
		l, err := h.LinkByName(name)
		must("link "+name, err)
		must("up "+name, h.LinkSetUp(l))
		return l
	}
	must("veth", h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "core"}, PeerName: "peer"}))
	for i, d := range []string{"ce1", "ce2", "vrf-red", "vrf-blue"} { // veths: the host may lack dummy
		must("veth "+d, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: d}, PeerName: fmt.Sprint("x", i)}))
		up(d)
	}
	up("lo")
	up("peer")
	core := up("core")
	a, _ := netlink.ParseAddr("192.168.1.1/30")
	must("address", h.AddrAdd(core, a))
	_, dst, _ := net.ParseCIDR("192.168.2.0/30")
	must("route", h.RouteAdd(&netlink.Route{Dst: dst, Gw: net.ParseIP("192.168.1.2").To4(), LinkIndex: core.Attrs().Index}))
	must("arp", h.NeighAdd(&netlink.Neigh{LinkIndex: core.Attrs().Index, Family: netlink.FAMILY_V4,
		IP: net.ParseIP("192.168.1.2").To4(), HardwareAddr: macP, State: netlink.NUD_PERMANENT}))
	b, err := New(nil, Options{NetNS: ns})
	must("backend", err)
	t.Cleanup(func() { _ = b.Close() })
	return b, h
}

// TestTranslateOnARealKernel: the same State translates to the same lines
// from the kernel as from the fake PE: the fake reads as the kernel does.
func TestTranslateOnARealKernel(t *testing.T) {
	requireRootNS(t)
	b, h := newHostPE(t)
	s := &fib.State{
		VRFs: vrfs(
			vrf("red", 1000, local("10.1.0.0/24", "ce1", ""), local("10.9.0.0/16", "ce1", "10.1.0.2"),
				remote("10.2.0.0/24", "192.168.2.2", 2001), remote("2001:db8:2::/64", "192.168.2.2", 2001),
				remote("10.5.0.0/24", "192.168.5.5", 5001), // no route to it
				local("10.7.0.0/24", "ce7", "")),           // no such interface
			vrf("blue", 1001, local("10.1.0.0/24", "ce2", ""), remote("2001:db8:2::/64", "192.168.1.2", 2002))),
		Labels: map[mpls.Label]fib.LabelAction{
			1001: {Kind: fib.PopLookup, VRF: "red"},
			4002: {Kind: fib.PopForward, VRF: "red", Interface: "ce1", NextHop: addr("10.1.0.2")},
		},
	}
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	names := map[int]string{}
	devs := routeDevices{VRFs: map[string]int{}}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
		if v, ok := strings.CutPrefix(l.Attrs().Name, "vrf-"); ok {
			devs.VRFs[v] = l.Attrs().Index
		}
	}
	fromKernel := translate(s, devs, b.h)
	fake := newFakePE()
	fromFake := translate(s, coreDevs, fake)
	if diff := lineDiff(fromKernel.lines(names), fromFake.lines(fake.names())); diff != "" {
		t.Errorf("the kernel (+) and the fake (-) translate differently:\n%s", diff)
	}
	if len(fromKernel.errs) != 2 || len(fromFake.errs) != 2 {
		t.Errorf("errors: kernel %v, fake %v; want two each (no route to 192.168.5.5, no ce7)", fromKernel.errs, fromFake.errs)
	}
	if len(fromKernel.neighbors) != 1 {
		t.Fatalf("%d neighbor entries, want 1 (::ffff:192.168.1.2 for both VRFs)", len(fromKernel.neighbors))
	}
}

// TestWriteNeighbor: the apply step's hand-built RTM_NEWNEIGH makes a
// permanent IPv6 neighbor entry for ::ffff:GW with GW's MAC, as `ip -6
// neigh replace` would (vishvananda/netlink would send 4 bytes), and
// names the command when the kernel refuses it.
func TestWriteNeighbor(t *testing.T) {
	requireRootNS(t)
	b, h := newHostPE(t)
	s := &fib.State{VRFs: vrfs(vrf("red", 1000, remote("2001:db8:2::/64", "192.168.2.2", 2001)))}
	d := translate(s, routeDevices{VRFs: map[string]int{"red": 1}}, b.h)
	if len(d.errs) > 0 || len(d.neighbors) != 1 {
		t.Fatalf("translation: %d neighbors, errors %v", len(d.neighbors), d.errs)
	}
	n := d.neighbors[neighborKey(d.routes["inet6 2001:db8:2::/64 table 1000 metric 0"].LinkIndex, net.ParseIP("::ffff:192.168.1.2"))]
	if n == nil {
		t.Fatalf("no neighbor entry for the 6VPE route: %v", d.lines(nil))
	}
	for range 2 { // replace: a second write is no error
		if err := b.writeNeighbor(n); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := h.NeighList(n.LinkIndex, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ns, func(e netlink.Neigh) bool { return e.IP.Equal(net.ParseIP("::ffff:192.168.1.2")) })
	if i < 0 {
		t.Fatalf("no IPv6 neighbor ::ffff:192.168.1.2 on core: %v", ns)
	}
	if e := ns[i]; len(e.IP) != net.IPv6len || e.State != netlink.NUD_PERMANENT || e.HardwareAddr.String() != macP.String() {
		t.Errorf("neighbor %v (%d bytes) lladdr %s state %#x, want 16 bytes, lladdr %s, permanent", e.IP, len(e.IP), e.HardwareAddr, e.State, macP)
	}

	gone := *n
	gone.LinkIndex = 999
	err = b.writeNeighbor(&gone)
	if err == nil || !strings.Contains(err.Error(), "ip -6 neigh replace ::ffff:192.168.1.2 lladdr 02:00:00:00:01:02") {
		t.Errorf("writing on a missing interface: %v, want an error naming the command", err)
	}
	if errors.Unwrap(err) == nil {
		t.Errorf("%v does not wrap the kernel's error", err)
	}
}

// TestRoutesReadBackUnchanged: routes the backend wrote, read back from
// the kernel, are the routes it wants: a second Apply of the same State
// changes nothing (no delete, no replace, so no instant without a route).
// On the host's kernel (no MPLS) the VRF's own routes and defaults; in
// the VM also the MPLS-encap, 6VPE and label routes, an own transport
// label's to lo among them.
func TestRoutesReadBackUnchanged(t *testing.T) {
	requireRootNS(t)
	b, h := newHostPE(t)
	ce1, err := h.LinkByName("ce1")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"10.1.0.1/24", "2001:db8:1::1/64"} {
		ad, _ := netlink.ParseAddr(a)
		if err := h.AddrAdd(ce1, ad); err != nil {
			t.Fatal(err)
		}
	}
	red := vrf("red", 1000, local("10.1.0.0/24", "ce1", ""), local("2001:db8:1::/64", "ce1", ""))
	fams := []int{netlink.FAMILY_V4, netlink.FAMILY_V6}
	s := &fib.State{VRFs: vrfs(red)}
	_, mplsErr := os.Stat("/proc/sys/net/mpls/platform_labels")
	if mplsErr == nil {
		for _, r := range []fib.Route{remote("10.2.0.0/24", "192.168.2.2", 2001), remote("2001:db8:2::/64", "192.168.2.2", 2001, 16)} {
			red.Routes[r.Prefix] = r
		}
		s.Labels = map[mpls.Label]fib.LabelAction{1001: {Kind: fib.PopLookup, VRF: "red"},
			4001: {Kind: fib.PopForward, VRF: "red", Interface: "core", NextHop: addr("192.168.1.2")}}
		s.LocalTransportLabels = []mpls.Label{200001} // ip -f mpls route 200001 dev lo
		fams = append(fams, netlink.FAMILY_MPLS)
		if err := b.sysctls(s, map[string]bool{"ce1": true}, ""); err != nil {
			t.Fatal(err)
		}
	}
	dev, err := h.LinkByName("vrf-red") // a veth stands for the VRF device

	if err != nil {
		t.Fatal(err)
	}
	d := translate(s, routeDevices{VRFs: map[string]int{"red": dev.Attrs().Index}}, b.h)
	if len(d.errs) > 0 {
		t.Fatal(d.errs)
	}
	if errs := d.writeNeighbors(b.writeNeighbor); len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := b.replaceRoutes(slices.Collect(maps.Values(d.routes))); err != nil {
		t.Fatal(err)
	}
	var have []netlink.Route
	for _, fam := range fams {
		rs, err := h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: RTProto},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			if fam == netlink.FAMILY_MPLS {
				rs[i].Family = netlink.FAMILY_MPLS
			}
		}
		have = append(have, rs...)
	}
	if len(have) != len(d.routes) {
		t.Errorf("wrote %d routes, read back %d", len(d.routes), len(have))
	}
	del, replace := routeChanges(have, d.routes)
	for _, r := range del {
		t.Errorf("a second Apply would delete %s", routeKey(r))
	}
	for _, r := range replace {
		t.Errorf("a second Apply would replace %s", routeKey(r))
	}
	if mplsErr != nil {
		t.Logf("no MPLS here (%v): IPv4 and IPv6 routes only", mplsErr)
	}
}
