package kernel

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// readBack is r as a route dump shows it after the backend wrote it (as
// TestRoutesReadBackUnchanged sees on a real kernel): type unicast where
// none was given, an IPv6 route's metric 1024 where it had none, an IPv6
// unreachable route on lo, and a label route's family as syncRoutes sets.
func readBack(r *netlink.Route) netlink.Route {
	got := *r
	if got.Type == 0 {
		got.Type = unix.RTN_UNICAST
	}
	if got.MPLSDst == nil && got.Family == netlink.FAMILY_V6 {
		if got.Priority == 0 {
			got.Priority = 1024
		}
		if got.Type == unix.RTN_UNREACHABLE {
			got.LinkIndex = 1
		}
	}
	if got.Gw != nil && got.Family == netlink.FAMILY_V4 {
		got.Gw = got.Gw.To4()
	}
	return got
}

func TestRouteChanges(t *testing.T) {
	k := newFakePE()
	i := slices.IndexFunc(translateCases(), func(c translateCase) bool { return c.name == "VPNv6 over an IPv4 core (6VPE)" })
	if i < 0 {
		t.Fatal("no 6VPE case in translateCases")
	}
	s := translateCases()[i].state // IPv4 and IPv6, local and remote, an onlink gateway
	want := translate(s, coreDevs, k).routes
	base := func() []netlink.Route {
		var have []netlink.Route
		for _, r := range want {
			have = append(have, readBack(r))
		}
		return have
	}
	names := k.names()
	line := func(r *netlink.Route) string {
		if r.MPLSDst != nil {
			return mplsLine(*r, names)
		}
		return routeLine(*r, names)
	}
	lines := func(rs []*netlink.Route) []string {
		var out []string
		for _, r := range rs {
			out = append(out, line(r))
		}
		return out
	}
	find := func(have []netlink.Route, key string) *netlink.Route {
		i := slices.IndexFunc(have, func(r netlink.Route) bool { return routeKey(&r) == key })
		if i < 0 {
			panic("no " + key + " in the case")
		}
		return &have[i]
	}
	v6 := "inet6 2001:db8:2::/64 table 1000 metric 0" // read back with 1024
	for _, c := range []struct {
		name          string
		have          func() []netlink.Route
		del, replaced []string
	}{
		{name: "as written: nothing to do", have: base},
		{
			name: "a label changed: replaced in place, not deleted",
			have: func() []netlink.Route {
				h := base()
				find(h, v6).Encap = &netlink.MPLSEncap{Labels: []int{9999}}
				return h
			},
			replaced: []string{"ip -6 route add 2001:db8:2::/64 encap mpls 2001 via ::ffff:192.168.1.2 dev core onlink table 1000"},
		},
		{
			name: "another gateway or interface: replaced",
			have: func() []netlink.Route {
				h := base()
				find(h, "inet 10.2.0.0/24 table 1000 metric 0").Gw = net.ParseIP("192.168.1.3").To4()
				find(h, "inet6 2001:db8:1::/64 table 1000 metric 0").LinkIndex = 4
				return h
			},
			replaced: []string{
				"ip route add 10.2.0.0/24 encap mpls 2001 via 192.168.1.2 dev core table 1000",
				"ip -6 route add 2001:db8:1::/64 dev ce1 table 1000",
			},
		},
		{
			name: "a blackhole where an unreachable default belongs: replaced",
			have: func() []netlink.Route {
				h := base()
				find(h, "inet 0.0.0.0/0 table 1000 metric 4278198272").Type = unix.RTN_BLACKHOLE
				return h
			},
			replaced: []string{"ip route add unreachable default table 1000 metric 4278198272"},
		},
		{
			name: "leftovers of an earlier run, a missing route",
			have: func() []netlink.Route {
				h := base()
				h = slices.DeleteFunc(h, func(r netlink.Route) bool { return routeKey(&r) == v6 })
				label := 7777
				return append(h,
					netlink.Route{Family: netlink.FAMILY_V4, Table: 1000, Dst: ipNet(pfx("10.66.0.0/16")), LinkIndex: 3, Type: unix.RTN_UNICAST, Protocol: RTProto},
					netlink.Route{Family: netlink.FAMILY_V6, Table: 1000, Dst: ipNet(pfx("2001:db8:66::/48")), LinkIndex: 3, Priority: 1024, Type: unix.RTN_UNICAST, Protocol: RTProto},
					netlink.Route{Family: netlink.FAMILY_V6, Table: 1000, Dst: ipNet(pfx("2001:db8:2::/64")), LinkIndex: 2, Priority: 50, Type: unix.RTN_UNICAST, Protocol: RTProto},
					netlink.Route{Family: netlink.FAMILY_MPLS, MPLSDst: &label, LinkIndex: 10, Protocol: RTProto})
			},
			del: []string{
				"ip route add 10.66.0.0/16 dev ce1 table 1000",
				"ip -6 route add 2001:db8:66::/48 dev ce1 table 1000",
				"ip -6 route add 2001:db8:2::/64 dev core table 1000", // another metric: another route
				"ip -f mpls route add 7777 dev vrf-red",
			},
			replaced: []string{"ip -6 route add 2001:db8:2::/64 encap mpls 2001 via ::ffff:192.168.1.2 dev core onlink table 1000"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			del, replace := routeChanges(c.have(), want)
			if diff := lineDiff(lines(del), c.del); diff != "" {
				t.Errorf("deleted (- missing, + unexpected):\n%s", diff)
			}
			if diff := lineDiff(lines(replace), c.replaced); diff != "" {
				t.Errorf("replaced (- missing, + unexpected):\n%s", diff)
			}
			for _, r := range del {
				if _, ok := want[routeKey(r)]; ok {
					t.Errorf("%s deleted though wanted: its traffic would meet the unreachable default until the replace", routeKey(r))
				}
			}
		})
	}
}

// TestRouteSyncReplay applies the States of translateCases one after
// another, in random orders, to a simulated kernel that reads back as a
// real one (readBack), as Tailscale's router tests replay configurations:
// after every transition the kernel holds exactly the wanted routes, a
// second sync does nothing, and a route wanted before and after,
// unchanged, is never touched.
func TestRouteSyncReplay(t *testing.T) {
	var wants []map[string]*netlink.Route
	for _, c := range translateCases() {
		wants = append(wants, translate(c.state, c.devs, c.kernel).routes)
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	kernel := map[string]netlink.Route{}
	sync := func(want map[string]*netlink.Route) (touched map[string]bool) {
		var have []netlink.Route
		for _, r := range kernel {
			have = append(have, r)
		}
		del, replace := routeChanges(have, want)
		touched = map[string]bool{}
		for _, r := range del {
			touched[routeKey(r)] = true
			delete(kernel, routeKey(r))
		}
		for _, r := range replace {
			got := readBack(r)
			touched[routeKey(&got)] = true
			kernel[routeKey(&got)] = got
		}
		return touched
	}
	prev := map[string]*netlink.Route{}
	for round := range 20 {
		for _, i := range rng.Perm(len(wants)) {
			want := wants[i]
			touched := sync(want)
			for k, w := range want {
				got, ok := kernel[k]
				if !ok || !sameRoute(w, &got) {
					t.Fatalf("round %d, state %d: %s not in the kernel as wanted", round, i, k)
				}
				if p, ok := prev[k]; ok && sameRoute(p, &got) && sameRoute(w, &got) && touched[k] {
					t.Errorf("round %d, state %d: %s unchanged but written", round, i, k)
				}
			}
			if len(kernel) != len(want) {
				t.Fatalf("round %d, state %d: kernel has %d routes, want %d", round, i, len(kernel), len(want))
			}
			if again := sync(want); len(again) > 0 {
				t.Fatalf("round %d, state %d: a second sync touched %v", round, i, again)
			}
			prev = want
		}
	}
}

// ipNet is p as a *net.IPNet.
func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
