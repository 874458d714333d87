package userspace

import (
	"maps"
	"slices"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/vishvananda/netlink"
)

// The mark tree: the short way to a VRF's rules (issue 23).
//
// The kernel walks policy rules one by one, and the VRF rules are one
// per interface (`iif CE-IF lookup TABLE`, `iif pg-VRF lookup TABLE`) and
// one per PE address a TUN must not reach: at 2,000 VRFs a packet walked
// past 6,000 of them, and twice per forwarded IPv4 packet (the source
// check, fib_validate_source, looks the source up again with the output
// interface as iif, since the host has rules of its own). So every VRF
// gets a mark, which an nftables map sets on each packet its CE
// interfaces and TUN receive, before the routing decision (nftmarks.go:
// `meta mark set iifname map @marks`, a hash lookup), and the rules find
// the VRF's through a two-level tree:
//
//	B-2      iif lo goto PRIO+1, iif CORE goto PRIO+1              (hostSkipRuleOffset)
//	B-1      fwmark 0/MarkMask goto PRIO-1                         (unmarked: straight to the fallback)
//	B        fwmark BUCKET/bucketMask goto B+2b-1 (or B+2b)        (one per bucket b in use)
//	B+2b-1   iif pg-VRF to PE-ADDR blackhole                       (bucket b's TUNs' PE blackholes)
//	B+2b     iif IF fwmark VRF-MARK/MarkMask lookup TABLE          (bucket b's leaves: its 64 VRFs' interfaces)
//	PRIO-1   iif pg-VRF to PE-ADDR blackhole                       (the fallback, as before)
//	PRIO     iif IF lookup TABLE                                   (the fallback, as before)
//
// with B = PRIO-1-treePriorities: a packet meets one rule per bucket in
// use, then its bucket's blackholes and leaves, about 250 rules at 2,000
// VRFs, instead of 6,000. The mark is the VRF's, not the interface's, and
// src_valid_mark is set on the marked interfaces, so that the source
// check's lookup (iif the output interface, another of the same VRF's, and
// the packet's mark) finds its leaf in the same bucket.
//
// A leaf names the interface as well as the mark, so it is a narrower
// copy of the interface's fallback rule, and a TUN's blackholes come
// before its leaf as before its fallback rule: whatever mark a packet
// carries (one forged, a stale one, none), the tree can only send it
// where its input interface's own rules would. A mark that finds no leaf
// walks on to the fallback rules. A missing mark (the map not yet
// filled, nf_tables missing from the kernel) costs speed, never
// isolation.
const (
	// MarkMask is the part of the packet mark (skb->mark, fwmark) that
	// the backend owns: it sets it on packets from the CE interfaces and
	// TUNs and matches it in its rules. Chosen clear of the marks of
	// kube-proxy (0x0000c000), Cilium (0x00000f00), wg-quick (0x0000ca6c),
	// and Istio (0x00000539); Calico's default 0xffff0000 and Tailscale's
	// 0x00ff0000 overlap it, and must not share a host with a PE.
	MarkMask uint32 = 0x3fff0000
	// markShift is MarkMask's lowest bit.
	markShift = 16
	// leafBits: a bucket holds the leaves of 1<<leafBits VRFs.
	leafBits = 6
	// bucketMask is the part of MarkMask that names a bucket.
	bucketMask = MarkMask &^ (1<<(markShift+leafBits) - 1)
	// firstMark is the lowest mark number given out: bucket 0 stays
	// empty, since an unmarked packet matches its bucket rule.
	firstMark = 1 << leafBits
	// lastMark is the highest mark number: 16,320 VRFs. VRFs beyond go
	// unmarked, to the fallback rules.
	lastMark = MarkMask >> markShift
	// lastBucket is the highest bucket number.
	lastBucket = lastMark >> leafBits
	// treePriorities are the priorities the tree takes: the bucket
	// rules' and two per bucket (1 to lastBucket). With the unmarked
	// skip and the host-skip rules before them and the fallback
	// blackholes after, they end at PRIO-2.
	treePriorities = 1 + 2*int(lastBucket)
)

// fwmark is the packet mark of mark number n.
func fwmark(n uint32) uint32 { return n << markShift }

// bucketOf is the bucket of mark number n.
func bucketOf(n uint32) uint32 { return n >> leafBits }

// bucketRulePriority is the priority of the bucket rules (B above),
// blackholePriority that of bucket b's TUN-to-PE blackholes and
// leafPriority that of its leaves.
func bucketRulePriority(prio int) int           { return prio - 1 - treePriorities }
func unmarkedSkipPriority(prio int) int         { return bucketRulePriority(prio) - 1 }
func blackholePriority(prio int, b uint32) int  { return bucketRulePriority(prio) + 2*int(b) - 1 }
func leafPriority(prio int, b uint32) int       { return bucketRulePriority(prio) + 2*int(b) }
func bucketFwmark(b uint32) (mark, mask uint32) { return b << (markShift + leafBits), bucketMask }

// markTable gives each VRF a mark number and keeps it while the VRF
// is there: adding or removing a VRF renumbers no other, so a
// reload touches only what it changes (issue 23 item 2). The zero value is
// ready to use; one goroutine (Apply's) uses it.
type markTable struct {
	byName map[string]uint32
	taken  map[uint32]bool
}

// assign returns the marks of the VRFs named: a VRF keeps the mark it
// had, a new one gets the lowest free (in name order, so that a fresh
// table gives the same marks for the same names), a VRF not named loses
// its mark. VRFs past lastMark get none.
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

// interfaceMarks is the mark of each interface of vrfs whose VRF has one
// in marks (by VRF): each CE interface and each VRF's TUN, but lo (the
// host's own packets skip the VRF rules; a test's VRF holds lo). It is
// what the nftables map holds.
func interfaceMarks(vrfs map[string]*fib.VRF, marks map[string]uint32) map[string]uint32 {
	out := map[string]uint32{}
	for name, v := range vrfs {
		n, ok := marks[name]
		if !ok {
			continue
		}
		out[fib.TUNName(name)] = n
		for _, ifname := range v.Interfaces {
			if ifname != "lo" {
				out[ifname] = n
			}
		}
	}
	return out
}

// addMarkTree adds to set the tree's rules, in each family, for the VRFs
// that marks (by VRF) numbers: a leaf for each of their interfaces, a
// copy in the VRF's bucket of each TUN-to-PE blackhole of set's
// (planRules made them), a bucket rule for each bucket holding a leaf,
// which goes to the bucket's blackholes if it has any, else to its
// leaves (a goto to a priority holding no rule is skipped), and the
// unmarked packets' goto to the fallback.
func addMarkTree(set ruleSet, prio int, vrfs map[string]*fib.VRF, marks map[string]uint32) {
	ifMarks := interfaceMarks(vrfs, marks)
	if len(ifMarks) == 0 {
		return
	}
	type famBucket struct {
		fam int
		b   uint32
	}
	withBlackholes := map[famBucket]bool{}
	for k := range set.rules {
		if k.pref != prio+tunToPERuleOffset {
			continue
		}
		if n, ok := ifMarks[k.iif]; ok {
			b := bucketOf(n)
			withBlackholes[famBucket{k.family, b}] = true
			k.pref = blackholePriority(prio, b)
			set.rules[k] = true
		}
	}
	fallback := map[int]int{netlink.FAMILY_V4: prio, netlink.FAMILY_V6: prio}
	for k := range set.rules {
		if k.pref == prio+tunToPERuleOffset {
			fallback[k.family] = prio + tunToPERuleOffset
		}
	}
	for _, fam := range families {
		set.rules[ruleKey{family: fam, pref: unmarkedSkipPriority(prio), mask: MarkMask, jump: fallback[fam]}] = true
	}
	for name, v := range vrfs {
		n, ok := marks[name]
		if !ok {
			continue
		}
		b := bucketOf(n)
		bmark, bmask := bucketFwmark(b)
		for _, iif := range append(slices.Clone(v.Interfaces), fib.TUNName(name)) {
			if _, ok := ifMarks[iif]; !ok {
				continue
			}
			for _, fam := range families {
				// In each family its own: a goto to a priority holding
				// no rule is never resolved, and each rule added while
				// one is not walks every rule once more.
				target := leafPriority(prio, b)
				if withBlackholes[famBucket{fam, b}] {
					target = blackholePriority(prio, b)
				}
				set.rules[ruleKey{family: fam, pref: leafPriority(prio, b), iif: iif, mark: fwmark(n), mask: MarkMask, table: int(v.Table)}] = true
				set.rules[ruleKey{family: fam, pref: bucketRulePriority(prio), mark: bmark, mask: bmask, jump: target}] = true
			}
		}
	}
}
