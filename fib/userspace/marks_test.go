package userspace

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/vishvananda/netlink"
)

// TestMarkTreeShape: a VRF's CE interface and TUN each get a leaf that
// names both the interface and its mark, under a bucket goto; the
// fallback iif rules are still there, after the tree.
func TestMarkTreeShape(t *testing.T) {
	vrfs := map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce1"}}}
	set := planRules(1000, vrfs, nil, nil)
	var mt markTable
	marks := mt.assign(markedInterfaces(vrfs))
	addMarkTree(set, 1000, vrfs, marks)
	var lines []string
	for _, l := range ruleLines(set) {
		if !strings.HasPrefix(l, "-6") {
			lines = append(lines, l)
		}
	}
	want := []string{
		"pref 1000 iif ce1 lookup 101",    // fallback
		"pref 1000 iif pg-red lookup 101", // fallback
		"pref 1001 lookup 255",
		"pref 486 iif lo goto 1001",
		"pref 488 fwmark 0x400000/0x7fc00000 goto 489",
		"pref 489 iif ce1 fwmark 0x400000/0x7fff0000 lookup 101",
		"pref 489 iif pg-red fwmark 0x410000/0x7fff0000 lookup 101",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("IPv4 rules:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if n := len(set.rules); n != 2*len(want) {
		t.Errorf("%d rules, want %d: each IPv4 rule in IPv6 too", n, 2*len(want))
	}
}

// TestMarkTreeScale: at 2,000 VRFs a packet's walk through the tree is
// one bucket rule per bucket and one bucket's leaves, ~130 rules, not
// the 4,000 iif rules; every rule stays inside the priorities the
// layout gives the tree; a leaf never names a table its interface's
// fallback rule does not.
func TestMarkTreeScale(t *testing.T) {
	vrfs := map[string]*fib.VRF{}
	for i := range 2000 {
		name := fmt.Sprintf("v%d", i)
		vrfs[name] = &fib.VRF{Name: name, Table: uint32(10000 + i), Interfaces: []string{fmt.Sprintf("c%d", i)}}
	}
	set := planRules(1000, vrfs, nil, nil)
	var mt markTable
	addMarkTree(set, 1000, vrfs, mt.assign(markedInterfaces(vrfs)))
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
		case k.pref > bucketRulePriority(1000) && k.pref < 1000:
			leaves[k.pref]++
		}
	}
	worst := 0
	for k := range set.rules {
		if k.family == netlink.FAMILY_V4 && k.mask == MarkMask {
			if fallback[k.iif] != k.table {
				t.Errorf("leaf %v looks up %d, its interface's fallback %d", k, k.table, fallback[k.iif])
			}
			worst = max(worst, leaves[k.pref])
		}
	}
	if len(fallback) != 4000 {
		t.Errorf("%d fallback rules, want 4000", len(fallback))
	}
	if walk := buckets + worst; walk > 140 {
		t.Errorf("a packet walks %d bucket rules and up to %d leaves: %d, want <= 140", buckets, worst, walk)
	}
	if hostSkip := 1000 + hostSkipRuleOffset; hostSkip < 1 || bucketRulePriority(1000) != 1000+tunToPERuleOffset+1 {
		t.Errorf("layout: host skip %d, TUN-to-PE %d, buckets %d", hostSkip, 1000+tunToPERuleOffset, bucketRulePriority(1000))
	}
	if last := leafPriority(1000, bucketOf(lastMark)); last >= 1000 {
		t.Errorf("the last bucket's leaves at %d, not before the fallback at 1000", last)
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
			out = append(out, fmt.Sprintf("c%d", i), fmt.Sprintf("pg-v%d", i))
		}
		return out
	}
	var mt markTable
	before := mt.assign(names(2000))
	if len(before) != 4000 {
		t.Fatalf("%d marks for 4000 interfaces", len(before))
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
	after := mt.assign(append(names(2000), "c-new", "pg-new"))
	for n, m := range before {
		if after[n] != m {
			t.Errorf("%s renumbered from %d to %d by adding a VRF", n, m, after[n])
		}
	}
	if len(after) != 4002 || after["c-new"] == 0 || after["pg-new"] == 0 {
		t.Errorf("the new VRF's marks: %d, %d (%d marks)", after["c-new"], after["pg-new"], len(after))
	}
	gone := mt.assign(slices.DeleteFunc(slices.Clone(names(2000)), func(s string) bool { return s == "c7" || s == "pg-v7" }))
	for n, m := range before {
		if n != "c7" && n != "pg-v7" && gone[n] != m {
			t.Errorf("%s renumbered from %d to %d by removing a VRF", n, m, gone[n])
		}
	}
	if _, ok := gone["c7"]; ok {
		t.Error("a removed interface kept its mark")
	}
	var fresh markTable
	if again := fresh.assign(names(2000)); !maps.Equal(again, before) {
		t.Error("a fresh table numbered the same interfaces otherwise")
	}
}

// TestMarksRunOut: past lastMark an interface gets no mark, and so no
// leaf: its packets take the fallback rule.
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
		t.Error("the interface past the last mark got one")
	}
}
