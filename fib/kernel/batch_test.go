package kernel

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Host tests with root (no VM: plain IPv4 routes, which any kernel has)
// of the batched writes: a namespace with one interface,
//
//	core 192.168.0.1/24 (a veth, up)
//
// and /32 routes through it in table 1000, proto 204.

const batchTable = 1000

// newBatchNS makes the namespace drawn above: a Backend in it, its
// handle and core's index.
func newBatchNS(t *testing.T) (*Backend, *netlink.Handle, int) {
	t.Helper()
	requireRootNS(t)
	ns := newNS(t)
	h := handle(t, ns)
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "core"}, PeerName: "peer"}); err != nil {
		t.Fatal(err)
	}
	var idx int
	for _, name := range []string{"peer", "core"} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		idx = l.Attrs().Index
	}
	a, _ := netlink.ParseAddr("192.168.0.1/24")
	l, _ := h.LinkByName("core")
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatal(err)
	}
	b, err := New(nil, Options{NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, h, idx
}

// hostRoutes are n /32s in 10.0.0.0/8 through core, by gateway.
func hostRoutes(n, core int) []*netlink.Route {
	out := make([]*netlink.Route, n)
	for i := range out {
		out[i] = &netlink.Route{Table: batchTable, Protocol: RTProto, Family: netlink.FAMILY_V4, LinkIndex: core,
			Gw: net.IPv4(192, 168, 0, 2).To4(), Dst: &net.IPNet{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To4(), Mask: net.CIDRMask(32, 32)}}
	}
	return out
}

// TestWriteRoutesNamesEachFailure: the routes the kernel refuses
// (through an interface that does not exist: ENETUNREACH) and one that
// cannot be encoded are each named in the error by routeKey, the others
// go in (package nlbatch tests the batches' edges); deleting them all
// then leaves none of ours, a route already gone being no error.
func TestWriteRoutesNamesEachFailure(t *testing.T) {
	b, _, core := newBatchNS(t)
	routes := hostRoutes(10, core)
	routes[3].LinkIndex = 999
	routes[5].Dst = nil
	err := b.replaceRoutes(routes)
	for _, want := range []string{
		"ip route replace " + routeKey(routes[3]) + ": network is unreachable (Nexthop has invalid gateway)",
		"ip route replace inet default table 1000 metric 0: route without a destination",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to name %q", err, want)
		}
	}
	if !errors.Is(err, unix.ENETUNREACH) || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("error %v: want two, one wrapping ENETUNREACH", err)
	}
	if got, err := b.listRoutes(0); err != nil || len(got) != 8 {
		t.Errorf("%d routes of ours in the kernel, want 8 (%v)", len(got), err)
	}
	routes[3].LinkIndex = core
	if err := b.deleteRoutes(append(routes[:5], routes[6:]...)); err != nil {
		t.Errorf("deleting: %v", err)
	}
	if got, err := b.listRoutes(0); err != nil || len(got) != 0 {
		t.Errorf("%d routes of ours left after deleting all (%v)", len(got), err)
	}
}
