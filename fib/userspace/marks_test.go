package userspace

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/vishvananda/netlink"
)

// TestMarkTreeShape: a VRF's CE interface and TUN each get a leaf that
// names both the interface and the VRF's mark, under a bucket goto, with
// the TUN's PE blackhole before it; unmarked packets go straight to the
// fallback rules, which are still there, after the tree.
func TestMarkTreeShape(t *testing.T) {
	vrfs := map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce1"}}}
	set := planRules(1000, vrfs, nil, map[string][]netip.Prefix{"ce1": {pfx("10.1.0.1/24")}})
	var mt markTable
	marks := mt.assign([]string{"red"})
	addMarkTree(set, 1000, vrfs, marks)
	var lines []string
	for _, l := range ruleLines(set) {
		if !strings.HasPrefix(l, "-6") {
			lines = append(lines, l)
		}
	}
	want := []string{
		"pref 0 nop",                      // the anchor (ruleorder.go)
		"pref 1000 iif ce1 lookup 101",    // fallback
		"pref 1000 iif pg-red lookup 101", // fallback
		"pref 1001 lookup 255",
		"pref 1002 iif lo to 10.1.0.0/24 lookup 254",
		"pref 1003 to 10.1.0.0/24 blackhole",
		"pref 486 iif lo goto 1001",
		"pref 487 fwmark 0x0/0x3fff0000 goto 999", // unmarked: to the fallback
		"pref 488 fwmark 0x400000/0x3fc00000 goto 489",
		"pref 489 iif pg-red to 10.1.0.1/32 blackhole", // before the TUN's leaf
		"pref 490 iif ce1 fwmark 0x400000/0x3fff0000 lookup 101",
		"pref 490 iif pg-red fwmark 0x400000/0x3fff0000 lookup 101",
		"pref 999 iif pg-red to 10.1.0.1/32 blackhole", // fallback
	}
	if !slices.Equal(lines, want) {
		t.Errorf("IPv4 rules:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// IPv6 has no TUN-to-PE blackhole here: its bucket goes to the leaves.
	if !set.rules[ruleKey{family: netlink.FAMILY_V6, pref: 488, mark: 0x400000, mask: 0x3fc00000, jump: 490}] {
		t.Errorf("IPv6 rules %q: want the bucket's goto to its leaves at 490", ruleLines(set))
	}
	if n := len(set.rules); n != 2*len(want)-4 {
		t.Errorf("%d rules, want %d: each IPv4 rule in IPv6 too, but those of IPv4 addresses", n, 2*len(want)-4)
	}
	// Without blackholes in the bucket its goto goes to the leaves.
	bare := planRules(1000, vrfs, nil, nil)
	addMarkTree(bare, 1000, vrfs, marks)
	if !bare.rules[ruleKey{family: netlink.FAMILY_V4, pref: 488, mark: 0x400000, mask: 0x3fc00000, jump: 490}] {
		t.Errorf("no blackholes: %q, want the bucket's goto to its leaves at 490", ruleLines(bare))
	}
}

// TestMarkTreeScale: at 2,000 VRFs a packet's walk through the tree is
// one bucket rule per bucket and one bucket's blackholes and leaves
// rules (at most 300), not the 6,000 blackhole and iif rules; every rule stays inside
// the priorities the layout gives the tree; a leaf never names a table
// its interface's fallback rule does not.
func TestMarkTreeScale(t *testing.T) {
	vrfs := map[string]*fib.VRF{}
	addrs := map[string][]netip.Prefix{}
	for i := range 2000 {
		name, ce := fmt.Sprintf("v%d", i), fmt.Sprintf("c%d", i)
		vrfs[name] = &fib.VRF{Name: name, Table: uint32(10000 + i), Interfaces: []string{ce}}
		addrs[ce] = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), 30)}
	}
	set := planRules(1000, vrfs, nil, addrs)
	var mt markTable
	addMarkTree(set, 1000, vrfs, mt.assign(slices.Collect(maps.Keys(vrfs))))
	fallback := map[string]int{}
	buckets, leaves := 0, map[int]int{}
	for k := range set.rules {
		if k.family != netlink.FAMILY_V4 {
			continue
		}
		switch {
		case k.pref == 1000 && k.table != 0:
			fallback[k.iif] = k.table
		case k.pref == bucketRulePriority(1000):
			buckets++
		case k.pref > bucketRulePriority(1000) && k.pref < 1000+tunToPERuleOffset:
			leaves[k.pref]++ // and blackholes
		}
	}
	worst := 0
	for k := range set.rules {
		if k.family == netlink.FAMILY_V4 && k.mask == MarkMask {
			if fallback[k.iif] != k.table {
				t.Errorf("leaf %v looks up %d, its interface's fallback %d", k, k.table, fallback[k.iif])
			}
			worst = max(worst, leaves[k.pref]+leaves[k.pref-1])
		}
	}
	if len(fallback) != 4000 {
		t.Errorf("%d fallback rules, want 4000", len(fallback))
	}
	if walk := buckets + worst; walk > 300 {
		t.Errorf("a packet walks %d bucket rules and up to %d blackholes and leaves: %d, want <= 300", buckets, worst, walk)
	}
	if hostSkip := 1000 + hostSkipRuleOffset; hostSkip < 1 || bucketRulePriority(1000) != hostSkip+2 || unmarkedSkipPriority(1000) != hostSkip+1 {
		t.Errorf("layout: host skip %d, buckets %d", hostSkip, bucketRulePriority(1000))
	}
	if last := leafPriority(1000, lastBucket); last != 1000+tunToPERuleOffset-1 {
		t.Errorf("the last bucket's leaves at %d, not right before the fallback blackholes at %d", last, 1000+tunToPERuleOffset)
	}
}

// TestMarksStable: adding a VRF gives only its interfaces marks, removing
// one frees only its own; the others keep theirs (a reload touches only
// the VRF it changes: issue 23 item 2). A fresh table gives the same
// marks for the same names.
func TestMarksStable(t *testing.T) {
	names := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("v%d", i))
		}
		return out
	}
	var mt markTable
	before := mt.assign(names(2000))
	if len(before) != 2000 {
		t.Fatalf("%d marks for 2000 VRFs", len(before))
	}
	seen := map[uint32]string{}
	for n, m := range before {
		if m < firstMark || m > lastMark {
			t.Errorf("%s: mark %d outside %d-%d", n, m, firstMark, lastMark)
		}
		if o, dup := seen[m]; dup {
			t.Errorf("%s and %s share mark %d", n, o, m)
		}
		seen[m] = n
	}
	after := mt.assign(append(names(2000), "new"))
	for n, m := range before {
		if after[n] != m {
			t.Errorf("%s renumbered from %d to %d by adding a VRF", n, m, after[n])
		}
	}
	if len(after) != 2001 || after["new"] == 0 {
		t.Errorf("the new VRF's mark: %d (%d marks)", after["new"], len(after))
	}
	gone := mt.assign(slices.DeleteFunc(slices.Clone(names(2000)), func(s string) bool { return s == "v7" }))
	for n, m := range before {
		if n != "v7" && gone[n] != m {
			t.Errorf("%s renumbered from %d to %d by removing a VRF", n, m, gone[n])
		}
	}
	if _, ok := gone["v7"]; ok {
		t.Error("a removed VRF kept its mark")
	}
	var fresh markTable
	if again := fresh.assign(names(2000)); !maps.Equal(again, before) {
		t.Error("a fresh table numbered the same interfaces otherwise")
	}
}

// TestMarksRunOut: past lastMark a VRF gets no mark, and so no leaf: its
// packets take the fallback rules.
func TestMarksRunOut(t *testing.T) {
	var names []string
	for i := range lastMark - firstMark + 2 {
		names = append(names, fmt.Sprintf("i%05d", i))
	}
	var mt markTable
	got := mt.assign(names)
	if len(got) != int(lastMark-firstMark+1) {
		t.Errorf("%d marks, want %d", len(got), lastMark-firstMark+1)
	}
	if _, ok := got[names[len(names)-1]]; ok {
		t.Error("the VRF past the last mark got one")
	}
}

// TestNextRunPrunesTheTree: a new run (no rule cache: it dumps) that
// holds no CE interface removes the previous run's tree, its gotos
// included (a dumped rule's action is not read back: the delete must
// still say goto, or the kernel refuses it), and the rules it adds go in
// in insertOrder.
func TestNextRunPrunesTheTree(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		vrfs := map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce1"}}}
		set := planRules(DefaultRulePriority, vrfs, nil, map[string][]netip.Prefix{"ce1": {pfx("10.1.0.1/24")}})
		var mt markTable
		addMarkTree(set, DefaultRulePriority, vrfs, mt.assign([]string{"red"}))
		crashed := &system{h: h, prio: DefaultRulePriority}
		if err := crashed.syncRules(set, false); err != nil {
			t.Fatal(err)
		}
		next := &system{h: h, prio: DefaultRulePriority}
		none := planRules(DefaultRulePriority, nil, nil, nil)
		if err := next.syncRules(none, false); err != nil {
			t.Fatal(err)
		}
		if err := next.syncRules(none, true); err != nil {
			t.Fatalf("pruning the previous run's rules: %v", err)
		}
		for _, fam := range families {
			rules, err := h.RuleList(fam)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rules {
				if r.Protocol == RTProto {
					t.Errorf("left: %v", ruleKeyOf(fam, r))
				}
			}
		}
	})
}

// TestRuleBatchOrder: a batch adds the anchor first, then each blackhole
// before the rules of the next priority, which it guards (a TUN's PE
// addresses before its lookup), and otherwise the highest priority first
// (each insert walks its own priority's rules alone), so that each goto
// goes in after its target; deletes go the other way round: lookups
// before blackholes, lowest priority first, the anchor last.
func TestRuleBatchOrder(t *testing.T) {
	vrfs := map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce1"}}}
	set := planRules(1000, vrfs, []string{"ce9"}, map[string][]netip.Prefix{"ce1": {pfx("10.1.0.1/24")}})
	var mt markTable
	addMarkTree(set, 1000, vrfs, mt.assign([]string{"red"}))
	var rules []*netlink.Rule
	for k := range set.rules {
		rules = append(rules, netlinkRule(k))
	}
	slices.SortFunc(rules, insertOrder)
	guarded, gotos, anchors := 0, 0, 0
	for i, r := range rules {
		if isAnchorRule(r) {
			anchors++
			if i >= len(families) {
				t.Errorf("add %d: the anchor after %v", i, rules[i-1])
			}
			continue
		}
		if i > len(families) && r.Priority > rules[i-1].Priority && !isBlackhole(rules[i-1]) {
			t.Errorf("add %d: priority %d after %d", i, r.Priority, rules[i-1].Priority)
		}
		if r.Goto > 0 {
			gotos++
			if !slices.ContainsFunc(rules[:i], func(e *netlink.Rule) bool { return e.Family == r.Family && e.Priority == r.Goto }) {
				t.Errorf("add %d: %v before any rule of its target", i, r)
			}
		}
		if !isBlackhole(r) {
			continue
		}
		for _, earlier := range rules[:i] {
			if earlier.Priority == r.Priority+1 && !isBlackhole(earlier) {
				t.Errorf("add %d: blackhole %v after %v, which it guards", i, r, earlier)
			}
		}
		for _, later := range rules[i:] {
			if later.Priority == r.Priority+1 {
				guarded++
			}
		}
	}
	if guarded == 0 || gotos == 0 || anchors != len(families) {
		t.Errorf("%d blackholes guard a rule, %d gotos, %d anchors: the test checks too little", guarded, gotos, anchors)
	}
	slices.SortFunc(rules, deleteOrder)
	seenBlackhole, last := false, -1
	for i, r := range rules {
		if isAnchorRule(r) {
			if i < len(rules)-len(families) {
				t.Errorf("delete %d: the anchor before %v", i, rules[i+1])
			}
			continue
		}
		bh := isBlackhole(r)
		if !bh && seenBlackhole {
			t.Fatalf("delete %d: %v after a blackhole", i, r)
		}
		if bh && !seenBlackhole {
			seenBlackhole, last = true, -1
		}
		if r.Priority < last {
			t.Fatalf("delete %d: priority %d after %d", i, r.Priority, last)
		}
		last = r.Priority
	}
}
