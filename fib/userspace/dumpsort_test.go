package userspace

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestSortDumpedKeepsARouteListedTwice: a full sync's dump that lists a
// wanted route twice (as one cut into by the kernel's own changes can)
// keeps it, and deletes nothing of it; a route of another value under a
// wanted key and an unwanted route are stale. Deleting the "extra"
// copy deleted the only one.
func TestSortDumpedKeepsARouteListedTwice(t *testing.T) {
	subnet := routeKey{table: 1001, dst: rawPrefixOf(netip.MustParsePrefix("100.64.0.0/30"))}
	far := routeKey{table: 1001, dst: rawPrefixOf(netip.MustParsePrefix("10.200.0.0/24"))}
	gone := routeKey{table: 1002, dst: rawPrefixOf(netip.MustParsePrefix("fd00:1::/64"))}
	viaCE := routeVal{typ: unix.RTN_UNICAST, oif: 4}
	want := map[routeKey]routeVal{subnet: viaCE, far: {typ: unix.RTN_UNICAST, oif: 3367}}
	dump := []netlink.Route{
		*netlinkRoute(subnet, viaCE),
		*netlinkRoute(far, routeVal{typ: unix.RTN_UNICAST, oif: 9}), // an old TUN's
		*netlinkRoute(subnet, viaCE),
		*netlinkRoute(gone, viaCE),
	}
	have, stale, vals := sortDumped(dump, want)
	if !have[subnet] || have[far] || len(have) != 1 {
		t.Errorf("have %v, want the CE subnet's route only", have)
	}
	if !slices.Equal(stale, []routeKey{far, gone}) || vals[0].oif != 9 {
		t.Errorf("stale %v (%v), want the old TUN's route and the unwanted one", stale, vals)
	}
}

// TestSortDumpedRulesKeepsARuleListedTwice: the same for rules: a wanted
// rule listed twice is not stale, so no delete takes it.
func TestSortDumpedRulesKeepsARuleListedTwice(t *testing.T) {
	lookup := ruleKey{family: netlink.FAMILY_V4, pref: 1000, iif: "pg-v0", table: 1001}
	block := ruleKey{family: netlink.FAMILY_V4, pref: 999, iif: "pg-v0", dst: netip.MustParsePrefix("100.64.0.1/32")}
	old := ruleKey{family: netlink.FAMILY_V4, pref: 1000, iif: "pg-v9", table: 1010}
	set := ruleSet{rules: map[ruleKey]bool{lookup: true, block: true}}
	dump := []netlink.Rule{*netlinkRule(lookup), *netlinkRule(block), *netlinkRule(lookup), *netlinkRule(block), *netlinkRule(old)}
	have, stale := sortDumpedRules(netlink.FAMILY_V4, dump, set)
	if !have[lookup] || !have[block] || len(have) != 2 {
		t.Errorf("have %v, want the lookup and the blackhole", have)
	}
	if len(stale) != 1 || ruleKeyOf(netlink.FAMILY_V4, stale[0]) != old {
		t.Errorf("stale %v, want pg-v9's rule alone", stale)
	}
}
