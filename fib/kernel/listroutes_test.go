package kernel

import (
	"encoding/binary"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib/internal/nlbatch"
)

// asDumped turns a request nlbatch.AppendRouteMsg made into what a dump answers:
// an RTM_NEWROUTE.
func asDumped(msg []byte) []byte {
	binary.NativeEndian.PutUint16(msg[4:], unix.RTM_NEWROUTE)
	return msg
}

// TestParseRouteMsgReadsWhatAppendWrites: every shape nlbatch.AppendRouteMsg
// encodes parses back to the same route (routeKey and sameRoute), and a
// route of another protocol or a cached clone is not ours.
func TestParseRouteMsgReadsWhatAppendWrites(t *testing.T) {
	for name, r := range encodeCases() {
		msg, err := nlbatch.AppendRouteMsg(nil, r, nlbatch.ReplaceRoute, 1)
		if err != nil {
			continue
		}
		var got netlink.Route
		var a routeArena
		ours, err := parseRouteMsg(asDumped(msg), &got, &a)
		if err != nil || !ours {
			t.Errorf("%s: ours %v, error %v", name, ours, err)
			continue
		}
		if routeKey(&got) != routeKey(r) || !sameRoute(r, &got) {
			t.Errorf("%s: read back as %+v", name, got)
		}
		if got.Scope != r.Scope || got.Flags != r.Flags {
			t.Errorf("%s: scope %d flags %d, want %d %d", name, got.Scope, got.Flags, r.Scope, r.Flags)
		}
		other := *r
		other.Protocol = unix.RTPROT_BOOT
		msg, _ = nlbatch.AppendRouteMsg(nil, &other, nlbatch.ReplaceRoute, 1)
		if ours, err := parseRouteMsg(asDumped(msg), &got, &a); ours || err != nil {
			t.Errorf("%s of protocol boot: ours %v, error %v", name, ours, err)
		}
		other.Protocol, other.Flags = RTProto, unix.RTM_F_CLONED
		msg, _ = nlbatch.AppendRouteMsg(nil, &other, nlbatch.ReplaceRoute, 1)
		if ours, err := parseRouteMsg(asDumped(msg), &got, &a); ours || err != nil {
			t.Errorf("%s cloned: ours %v, error %v", name, ours, err)
		}
	}
}

// TestListRoutesAsVishvananda: on a real kernel, listRoutes reads the
// routes of protocol 204 as vishvananda/netlink's RouteListFiltered
// does (same keys, sameRoute both ways), and not a route of another
// protocol; deleting them by key leaves that one alone. On the host: IPv4 and IPv6 routes through core,
// unreachable defaults; in the VM (make vm-test) also MPLS encaps and a
// label route.
func TestListRoutesAsVishvananda(t *testing.T) {
	b, h, core := newBatchNS(t)
	routes := hostRoutes(600, core)
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes = append(routes, &netlink.Route{Table: batchTable, Family: fam, Type: unix.RTN_UNREACHABLE,
			Priority: 4278198272, Protocol: RTProto, Dst: defaultDst(fam)})
	}
	_, v6, _ := net.ParseCIDR("2001:db8:5::/64")
	routes = append(routes, &netlink.Route{Table: batchTable, Family: netlink.FAMILY_V6, Protocol: RTProto, Dst: v6,
		LinkIndex: core, Scope: netlink.SCOPE_LINK})
	_, noMPLS := os.Stat("/proc/sys/net/mpls/platform_labels")
	mpls := noMPLS == nil
	if mpls {
		label := 100
		_, p, _ := net.ParseCIDR("10.200.0.0/16")
		routes = append(routes, &netlink.Route{Table: batchTable, Family: netlink.FAMILY_V4, Protocol: RTProto, Dst: p,
			LinkIndex: core, Gw: net.ParseIP("192.168.0.2").To4(), Encap: &netlink.MPLSEncap{Labels: []int{100, 200}}},
			&netlink.Route{Family: netlink.FAMILY_MPLS, MPLSDst: &label, Protocol: RTProto, LinkIndex: core,
				Via: via(net.ParseIP("192.168.0.2"))})
		if err := b.inNS(func() error { return os.WriteFile("/proc/sys/net/mpls/platform_labels", []byte("1000\n"), 0o644) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.replaceRoutes(routes); err != nil {
		t.Fatal(err)
	}
	_, other, _ := net.ParseCIDR("10.201.0.0/16")
	if err := h.RouteAdd(&netlink.Route{Table: batchTable, Dst: other, LinkIndex: core, Protocol: unix.RTPROT_STATIC}); err != nil {
		t.Fatal(err)
	}
	got, err := b.listRoutes(0)
	if err != nil {
		t.Fatal(err)
	}
	var want []netlink.Route
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6, netlink.FAMILY_MPLS} {
		rs, err := h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: RTProto},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil && fam != netlink.FAMILY_MPLS {
			t.Fatal(err)
		}
		for i := range rs {
			rs[i].Family = fam
		}
		want = append(want, rs...)
	}
	if len(got) != len(want) || len(got) != len(routes) {
		t.Errorf("listRoutes read %d routes, RouteListFiltered %d, %d written", len(got), len(want), len(routes))
	}
	for i := range want {
		w := &want[i]
		j := slices.IndexFunc(got, func(r netlink.Route) bool { return routeKey(&r) == routeKey(w) })
		if j < 0 {
			t.Errorf("%s: not listed", routeKey(w))
			continue
		}
		if !sameRoute(w, &got[j]) || !sameRoute(&got[j], w) {
			t.Errorf("%s: listed as %+v, vishvananda reads %+v", routeKey(w), got[j], *w)
		}
	}

	// Deleting by key what listRoutes read removes every route of ours,
	// and only those.
	del := make([]*netlink.Route, len(got))
	for i := range got {
		del[i] = &got[i]
	}
	if err := b.deleteRoutes(del); err != nil {
		t.Errorf("deleting: %v", err)
	}
	if left, err := b.listRoutes(0); err != nil || len(left) != 0 {
		t.Errorf("after deleting: %d routes of ours left (%v)", len(left), err)
	}
	if rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: batchTable}, netlink.RT_FILTER_TABLE); err != nil || len(rs) != 1 {
		t.Errorf("after deleting: %d routes left in table %d, want the static one (%v)", len(rs), batchTable, err)
	}
	if !mpls {
		t.Log("no MPLS here: IPv4 and IPv6 routes only")
	}
}

// FuzzParseRouteMsg: a dump message, however malformed, parses or is an
// error; never a panic. What parses encodes again and parses the same.
func FuzzParseRouteMsg(f *testing.F) {
	for _, r := range encodeCases() {
		if msg, err := nlbatch.AppendRouteMsg(nil, r, nlbatch.ReplaceRoute, 1); err == nil {
			f.Add(asDumped(msg))
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var r netlink.Route
		var a routeArena
		ours, err := parseRouteMsg(msg, &r, &a)
		if err != nil || !ours {
			return
		}
		again, err := nlbatch.AppendRouteMsg(nil, &r, nlbatch.ReplaceRoute, 1)
		if err != nil {
			return // a route nlbatch.AppendRouteMsg refuses (an MPLS route without a label...)
		}
		var r2 netlink.Route
		if ours, err := parseRouteMsg(asDumped(again), &r2, &a); err != nil || !ours {
			t.Fatalf("re-encoded %+v: ours %v, error %v", r, ours, err)
		}
		if routeKey(&r) != routeKey(&r2) || !sameRoute(&r, &r2) {
			t.Fatalf("re-encoded %+v reads as %+v", r, r2)
		}
	})
}
