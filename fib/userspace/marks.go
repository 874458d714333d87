package userspace

import (
	"maps"
	"slices"

	"github.com/peregrine-net/peregrine/fib"
)

// The mark tree: the short way to a VRF's rule (issue 23).
//
// The kernel walks policy rules one by one, and the VRF rules are one
// per interface (`iif CE-IF lookup TABLE`, `iif pg-VRF lookup TABLE`): at
// 2,000 VRFs a packet walked past 4,000 of them in each direction. So
// every CE interface and TUN gets a mark of its own, which an nftables
// map sets on each packet it receives before the routing decision
// (nftmarks.go: `meta mark set iifname map @marks`, a hash lookup), and
// the rules find the mark's rule through a two-level tree:
//
//	PRIO-T    fwmark BUCKET/BUCKET-MASK goto PRIO-T+b             (one per bucket in use)
//	PRIO-T+b  iif IF fwmark MARK/MarkMask lookup TABLE           (the leaves: up to 64 a bucket)
//	PRIO      iif IF lookup TABLE                                 (the fallback, as before)
//
// with T = treePriorities: a packet meets at most one rule per bucket in
// use and the 64 leaves of its bucket, about 130 rules at 4,000
// interfaces, instead of 4,000.
//
// A leaf names the interface as well as the mark, so it is a narrower
// copy of the interface's fallback rule: whatever mark a packet carries
// (one forged, a stale one, none), the tree can only send it where its
// input interface's own rule would. A mark that finds no leaf walks on
// to the fallback rules. A missing mark (the map not yet filled, nf_tables
// missing from the kernel) costs speed, never isolation.
const (
	// MarkMask is the part of the packet mark (skb->mark, fwmark) that
	// the backend owns: it sets it on packets from the CE interfaces and
	// TUNs and matches it in its rules. Chosen clear of the marks of
	// kube-proxy (0x0000c000), Cilium (0x00000f00), wg-quick (0x0000ca6c),
	// and Istio (0x00000539); Calico's default 0xffff0000 and Tailscale's
	// 0x00ff0000 overlap it, and must not share a host with a PE.
	MarkMask uint32 = 0x7fff0000
	// markShift is MarkMask's lowest bit.
	markShift = 16
	// leafBits: a bucket holds 1<<leafBits leaves.
	leafBits = 6
	// bucketMask is the part of MarkMask that names a bucket.
	bucketMask = MarkMask &^ (1<<(markShift+leafBits) - 1)
	// firstMark is the lowest mark number given out: bucket 0 stays
	// empty, since an unmarked packet matches its bucket rule.
	firstMark = 1 << leafBits
	// lastMark is the highest mark number: 32,704 interfaces, 16,352
	// VRFs of one CE interface each. Interfaces beyond go unmarked, to
	// the fallback rules.
	lastMark = MarkMask >> markShift
	// treePriorities are the priorities the tree takes before PRIO: the
	// bucket rules' and one per bucket (1 to lastMark>>leafBits) for its
	// leaves.
	treePriorities = 1 + int(lastMark>>leafBits)
)

// fwmark is the packet mark of mark number n.
func fwmark(n uint32) uint32 { return n << markShift }

// bucketOf is the bucket of mark number n.
func bucketOf(n uint32) uint32 { return n >> leafBits }

// bucketRulePriority is the priority of the bucket rules, and
// leafPriority that of bucket b's leaves.
func bucketRulePriority(prio int) int           { return prio - treePriorities }
func leafPriority(prio int, b uint32) int       { return prio - treePriorities + int(b) }
func bucketFwmark(b uint32) (mark, mask uint32) { return b << (markShift + leafBits), bucketMask }

// markTable gives each interface a mark number and keeps it while the
// interface is in a VRF: adding or removing a VRF renumbers no other, so a
// reload touches only what it changes (issue 23 item 2). The zero value is
// ready to use; one goroutine (Apply's) uses it.
type markTable struct {
	byName map[string]uint32
	taken  map[uint32]bool
}

// assign returns the marks of ifnames: an interface keeps the mark it
// had, a new one gets the lowest free (in name order, so that a fresh
// table gives the same marks for the same names), an interface not
// named loses its mark. Interfaces past lastMark get none.
func (t *markTable) assign(ifnames []string) map[string]uint32 {
	if t.byName == nil {
		t.byName, t.taken = map[string]uint32{}, map[uint32]bool{}
	}
	want := map[string]bool{}
	for _, n := range ifnames {
		want[n] = true
	}
	for n, m := range t.byName {
		if !want[n] {
			delete(t.byName, n)
			delete(t.taken, m)
		}
	}
	next := uint32(firstMark)
	for _, n := range slices.Sorted(maps.Keys(want)) {
		if _, ok := t.byName[n]; ok {
			continue
		}
		for next <= lastMark && t.taken[next] {
			next++
		}
		if next > lastMark {
			break
		}
		t.byName[n], t.taken[next] = next, true
	}
	return maps.Clone(t.byName)
}

// markedInterfaces are the interfaces of vrfs that get a mark: each CE
// interface and each VRF's TUN, but lo (the host's own packets skip the
// VRF rules; a test's VRF holds lo).
func markedInterfaces(vrfs map[string]*fib.VRF) []string {
	var out []string
	for name, v := range vrfs {
		out = append(out, fib.TUNName(name))
		for _, n := range v.Interfaces {
			if n != "lo" {
				out = append(out, n)
			}
		}
	}
	return out
}

// addMarkTree adds to set the tree's rules, in each family, for the
// interfaces of vrfs that marks numbers: a leaf for each and a bucket
// rule for each bucket holding a leaf.
func addMarkTree(set ruleSet, prio int, vrfs map[string]*fib.VRF, marks map[string]uint32) {
	for name, v := range vrfs {
		for _, iif := range append(slices.Clone(v.Interfaces), fib.TUNName(name)) {
			n, ok := marks[iif]
			if !ok {
				continue
			}
			b := bucketOf(n)
			bmark, bmask := bucketFwmark(b)
			for _, fam := range families {
				set.rules[ruleKey{family: fam, pref: leafPriority(prio, b), iif: iif, mark: fwmark(n), mask: MarkMask, table: int(v.Table)}] = true
				set.rules[ruleKey{family: fam, pref: bucketRulePriority(prio), mark: bmark, mask: bmask, jump: leafPriority(prio, b)}] = true
			}
		}
	}
}
