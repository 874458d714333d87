package userspace

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
)

func TestExactCover(t *testing.T) {
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, c := range []struct{ in, want []netip.Prefix }{
		{pp("100.64.0.0/30", "100.64.0.4/30", "100.64.0.8/30", "100.64.0.12/30"), pp("100.64.0.0/28")},
		{pp("100.64.0.0/30", "100.64.0.4/30", "100.64.0.8/30"), pp("100.64.0.0/29", "100.64.0.8/30")},
		{pp("100.64.0.4/30", "100.64.0.8/30"), pp("100.64.0.4/30", "100.64.0.8/30")}, // not halves of one
		{pp("10.0.0.0/24", "10.0.0.0/30", "10.0.0.0/30"), pp("10.0.0.0/24")},         // overlapping VRFs
		{pp("2001:db8::/64", "2001:db8:0:1::/64"), pp("2001:db8::/63")},
		{pp("0.0.0.0/1", "128.0.0.0/1"), pp("0.0.0.0/0")},
		{nil, pp()},
	} {
		if got := exactCover(c.in); !slices.Equal(got, c.want) {
			t.Errorf("exactCover(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	// 2,000 consecutive /30s, as scalebench's VRFs have: a handful.
	var many []netip.Prefix
	for i := range 2000 {
		many = append(many, netip.MustParsePrefix(fmt.Sprintf("100.64.%d.%d/30", i/64, 4*(i%64))))
	}
	if got := exactCover(many); len(got) > 6 {
		t.Errorf("cover of 2,000 consecutive /30s: %d prefixes %v, want at most 6", len(got), got)
	}
}

// The cover holds exactly the addresses the prefixes hold: checked
// address by address over random sets in a small space.
func TestExactCoverMatchesTheSameAddresses(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		var in []netip.Prefix
		for range 1 + r.IntN(12) {
			a := netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(256))})
			in = append(in, netip.PrefixFrom(a, 24+r.IntN(9)).Masked())
		}
		cover := exactCover(in)
		for i := range 256 {
			a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
			inAny := slices.ContainsFunc(in, func(p netip.Prefix) bool { return p.Contains(a) })
			inCover := slices.ContainsFunc(cover, func(p netip.Prefix) bool { return p.Contains(a) })
			if inAny != inCover {
				t.Fatalf("%v: in %v %v, in cover %v %v", a, in, inAny, cover, inCover)
			}
		}
		for i, p := range cover {
			for j, q := range cover {
				if i != j && (p.Overlaps(q)) {
					t.Fatalf("cover %v of %v: %v and %v overlap", cover, in, p, q)
				}
			}
		}
	}
}

// TestPlanRulesMergesAdjacentCESubnets: two VRFs whose CE links are the
// two halves of a /29 get one rule each for the /29 (kept from other
// sources, reachable from the host), not one per /30.
func TestPlanRulesMergesAdjacentCESubnets(t *testing.T) {
	vrfs := map[string]*fib.VRF{
		"a": {Name: "a", Table: 1000, Interfaces: []string{"c0"}},
		"b": {Name: "b", Table: 1001, Interfaces: []string{"c1"}},
	}
	addrs := map[string][]netip.Prefix{
		"c0": {netip.MustParsePrefix("100.64.0.1/30")},
		"c1": {netip.MustParsePrefix("100.64.0.5/30")},
	}
	set := planRules(DefaultRulePriority, vrfs, nil, addrs)
	var subnetRules []string
	for k := range set.rules {
		if k.pref >= DefaultRulePriority+ownToCERuleOffset {
			subnetRules = append(subnetRules, k.String())
		}
	}
	slices.Sort(subnetRules)
	want := []string{"pref 1002 iif lo to 100.64.0.0/29 lookup 254", "pref 1003 to 100.64.0.0/29 blackhole"}
	if !slices.Equal(subnetRules, want) {
		t.Errorf("CE subnet rules %q, want %q", subnetRules, want)
	}
}
