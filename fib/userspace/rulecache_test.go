package userspace

import (
	"errors"
	"fmt"
	"net/netip"
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
