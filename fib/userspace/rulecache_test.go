package userspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
)

// TestUnchangedRuleSyncAllocatesNothingPerVRF (issue 23): a rule sync
// (add pass and prune) of the rules the last one left costs a few
// allocations, not some per rule: the cache of what the last sync left
// is its set, not a copy of each rule as netlink.Rule (72 MB of garbage
// over a few Applies at 2,000 VRFs).
func TestUnchangedRuleSyncAllocatesNothingPerVRF(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful with -race")
	}
	inNewNS(t, func(h *netlink.Handle) {
		s := &system{h: h, prio: DefaultRulePriority}
		defer s.close()
		vrfs := map[string]*fib.VRF{}
		addrs := map[string][]netip.Prefix{}
		for i := range 200 {
			name, ifname := fmt.Sprintf("v%d", i), fmt.Sprintf("c%d", i)
			vrfs[name] = &fib.VRF{Name: name, Table: uint32(1000 + i), Interfaces: []string{ifname}}
			addrs[ifname] = []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.1/30", i/64, 4*(i%64)))}
		}
		set := planRules(s.prio, vrfs, nil, addrs)
		sync := func() {
			if err := errors.Join(s.syncRules(set, false), s.syncRules(set, true)); err != nil {
				t.Fatal(err)
			}
		}
		sync()
		if n := testing.AllocsPerRun(10, sync); n > 40 {
			t.Errorf("a rule sync of %d unchanged rules allocated %.0f times, want at most 40", len(set.rules), n)
		}
	})
}

// TestHostSkipRuleRoundTrips: the kernel takes the goto rule that lets
// the host's own packets skip the VRF rules (iif lo goto PRIO+1 at
// PRIO-2) as planned, and a sync that dumps the rules again finds it as
// planned and changes nothing. A CE interface named lo gets no goto.
func TestHostSkipRuleRoundTrips(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		s := &system{h: h, prio: DefaultRulePriority}
		defer s.close()
		vrfs := map[string]*fib.VRF{"red": {Name: "red", Table: 1000, Interfaces: []string{"ce1"}}}
		set := planRules(s.prio, vrfs, nil, map[string][]netip.Prefix{"ce1": {netip.MustParsePrefix("10.1.0.1/24")}})
		if err := errors.Join(s.syncRules(set, false), s.syncRules(set, true)); err != nil {
			t.Fatal(err)
		}
		for _, fam := range families {
			rules, err := h.RuleList(fam)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range rules {
				if r.Priority == DefaultRulePriority+hostSkipRuleOffset && r.IifName == "lo" && r.Goto == DefaultRulePriority+1 {
					found = true
				}
			}
			if !found {
				t.Errorf("family %d: no rule `iif lo goto %d pref %d` in the kernel: %v", fam, DefaultRulePriority+1, DefaultRulePriority+hostSkipRuleOffset, rules)
			}
		}
		s.ruleCache = nil // the next sync dumps
		before := s.changes
		if err := errors.Join(s.syncRules(set, false), s.syncRules(set, true)); err != nil {
			t.Fatal(err)
		}
		if n := s.changes - before; n != 0 {
			t.Errorf("a sync after a dump changed %d rules, want none", n)
		}
	})
	lo := planRules(DefaultRulePriority, map[string]*fib.VRF{"red": {Name: "red", Table: 1000, Interfaces: []string{"lo"}}}, nil, nil)
	for k := range lo.rules {
		if k.jump != 0 {
			t.Errorf("with lo as a CE interface: %v", k)
		}
	}
}

// TestApplySkipsTheVRFRulesForTheCore: with the local address on core0,
// an Apply installs `iif core0 goto 1001 pref 998` in each family, so
// that the ESP from remote PEs is not walked past every VRF rule.
func TestApplySkipsTheVRFRulesForTheCore(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	inNewNS(t, func(h *netlink.Handle) {
		for _, l := range []struct{ name, addr string }{{"core0", "192.0.2.1/24"}, {"ce0", "10.100.0.1/24"}} {
			upVeth(t, h, l.name, l.addr)
		}
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		s := &fib.State{LocalAddress: netip.MustParseAddr("192.0.2.1"),
			VRFs: map[string]*fib.VRF{"red": {Name: "red", Table: 2000, Interfaces: []string{"ce0"}}}}
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		for _, fam := range families {
			rules, err := h.RuleList(fam)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(rules, func(r netlink.Rule) bool {
				return r.IifName == "core0" && r.Priority == DefaultRulePriority+hostSkipRuleOffset && r.Goto == DefaultRulePriority+1
			}) {
				t.Errorf("family %d: no `iif core0 goto %d`: %v", fam, DefaultRulePriority+1, rules)
			}
		}
	})
}
