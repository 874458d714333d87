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

// tableKeys is the routeKey of every route of protocol 204 in batchTable.
func tableKeys(t *testing.T, h *netlink.Handle) map[string]bool {
	t.Helper()
	rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: batchTable, Protocol: RTProto},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for i := range rs {
		out[routeKey(&rs[i])] = true
	}
	return out
}

// TestWriteRoutesNamesEachFailure: among many routes written (in
// batches: package nlbatch tests their edges), the ones the kernel
// refuses (through an interface that does not exist: ENETUNREACH,
// "Nexthop has invalid gateway") and one that cannot be encoded are each
// named in the error by routeKey, and every other route is in the
// kernel; deleting them all then leaves the table empty, a route already
// gone being no error.
func TestWriteRoutesNamesEachFailure(t *testing.T) {
	b, h, core := newBatchNS(t)
	routes := hostRoutes(100, core)
	bad := map[int]bool{0: true, 6: true, 7: true, 50: true, 99: true} // a batch's first, last, next's first, the last route
	for i := range bad {
		routes[i].LinkIndex = 999
	}
	routes[30].Dst = nil // no destination: not sent
	err := b.replaceRoutes(routes)
	if err == nil {
		t.Fatal("no error for 6 bad routes")
	}
	for i, r := range routes {
		if i == 30 {
			if !strings.Contains(err.Error(), "ip route replace inet default table 1000 metric 0: route without a destination") {
				t.Errorf("route 30, without a destination, not named in %v", err)
			}
			continue
		}
		named := strings.Contains(err.Error(), "ip route replace "+routeKey(r)+": ")
		if named != bad[i] {
			t.Errorf("route %d (%s): named in the error %v, bad %v", i, routeKey(r), named, bad[i])
		}
	}
	if !errors.Is(err, unix.ENETUNREACH) || !strings.Contains(err.Error(), "(Nexthop has invalid gateway)") {
		t.Errorf("error %v does not wrap ENETUNREACH with the kernel's reason", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
		t.Errorf("%d errors, want 6:\n%v", n, err)
	}
	have := tableKeys(t, h)
	for i, r := range routes {
		if in := have[routeKey(r)]; in == (bad[i] || i == 30) {
			t.Errorf("route %d (%s) in the kernel: %v", i, routeKey(r), in)
		}
	}
	if len(have) != 94 {
		t.Errorf("%d routes in table %d, want 94", len(have), batchTable)
	}

	// Delete all of them, the ones never written (ESRCH) included.
	for i := range bad {
		routes[i].LinkIndex = core
	}
	routes = append(routes[:30], routes[31:]...)
	if err := b.deleteRoutes(routes); err != nil {
		t.Errorf("deleting: %v", err)
	}
	if have := tableKeys(t, h); len(have) != 0 {
		t.Errorf("%d routes left in table %d after deleting all", len(have), batchTable)
	}
}
