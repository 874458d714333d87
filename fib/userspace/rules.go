package userspace

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/internal/nlbatch"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RTProto is the routing protocol number on every rule and route the
// backend installs (`ip rule show protocol 204`, `ip route show table all
// proto 204`): how Apply finds its own, a crashed run's included. 204 is
// not registered in /etc/iproute2/rt_protos, which names 0-4, 8-18, 42, 99
// and 186-192.
const RTProto = 204

// DefaultRulePriority is the priority of the policy rules unless
// Options.RulePriority says otherwise: before the main table (32766).
const DefaultRulePriority = 1000

// unreachableMetric is the metric of each VRF table's blackhole default,
// the one the kernel's VRF documentation uses for its unreachable
// default: any real default route wins. Blackhole rather than
// unreachable: the ICMP error an unreachable route makes would be routed
// by the main table, and for a packet that came out of the TUN that is
// not the VRF (see the package documentation).
const unreachableMetric = 4278198272

// The rule priorities around the VRF rules' (PRIO), each an offset from it,
// T being treePriorities (marks.go):
//
//	PRIO-T-3    iif lo goto PRIO+1           (the host's own packets skip the VRF rules)
//	PRIO-T-2 .. PRIO-2                       (the mark tree: marks.go)
//	PRIO-1      iif pg-VRF to PE-ADDR blackhole
//	PRIO        iif CE-IF lookup TABLE, iif pg-VRF lookup TABLE, iif CE-IF blackhole (quarantine)
//	PRIO+1      lookup local                 (moved from priority 0)
//	PRIO+2      iif lo to CE-SUBNET lookup main
//	PRIO+3      to CE-SUBNET blackhole
const (
	hostSkipRuleOffset  = -treePriorities - 3
	tunToPERuleOffset   = -1
	mainRulePriority    = 32766 // the kernel's `lookup main`
	localRuleOffset     = 1
	ownToCERuleOffset   = 2
	otherToCERuleOffset = 3
)

// system programs the kernel: policy rules and routes. Only Apply's
// goroutine (and Close) use it.
type system struct {
	log  *slog.Logger
	h    *netlink.Handle
	prio int
	// changes counts the rules and routes added, replaced or deleted,
	// for logs and for the test that a repeated Apply changes nothing.
	changes int
	// installed is what the last route sync left in the kernel, so that
	// the next changes only the difference; nil makes it dump the kernel
	// first (at start, after an error, and every fullSyncEvery syncs).
	installed map[routeKey]routeVal
	syncs     int
	// requests counts the netlink requests sent (dumps included, a
	// batch as one), for the test that an Apply sends as many whatever
	// the count of VRFs it does not change.
	requests int
	batch    *nlbatch.Conn // batch.go
	// added is what the last add pass of syncRules found, by family,
	// for the prune that follows it.
	added map[int]ruleDump
	// ruleCache is the rules the last rule sync left, by family, so
	// that the next reads no dump (familyRules); nil after an error.
	ruleCache map[int]familyRules
	ruleSyncs int
	// watch (nil in tests that make a system by hand) tells host
	// whether hostView, the last read of the host's tables, still holds
	// (hostview.go); hostReads counts the calls.
	watch     *hostWatch
	hostView  *hostView
	hostReads int
}

// req is the netlink handle, for one request.
func (s *system) req() *netlink.Handle {
	s.requests++
	return s.h
}

// ruleKey is one rule of protocol 204. table 0 (RT_TABLE_UNSPEC) is a
// blackhole rule: the netlink library does not read a dumped rule's
// action back, and every rule of ours that looks nothing up drops.
type ruleKey struct {
	family int
	pref   int
	iif    string
	dst    netip.Prefix
	table  int
	jump   int // a goto rule's target priority (then table is 0); 0 for none
	// mark and mask are the rule's fwmark selector; mask 0 for none.
	mark, mask uint32
}

// ruleSet is what planRules asks for: the rules of protocol 204, and
// whether the `lookup local` rule must come after them.
type ruleSet struct {
	rules map[ruleKey]bool
	// moveLocal: the kernel's priority-0 `lookup local` rule is replaced
	// by one at PRIO+1, so that a CE's packets meet their VRF's table
	// (or the quarantine) before the PE's own addresses. False when the
	// backend has no CE interface at all: priority 0 is restored.
	moveLocal bool
}

// planRules returns the rules for vrfs, with the interfaces of
// quarantined (interfaces no VRF holds any more but whose packets must
// still stop: see the package documentation) blackholed, and the subnets
// of addrs (the addresses on all those interfaces, by interface)
// unreachable from anywhere but the interfaces' own VRFs and the host
// itself:
//
//	ip rule add iif lo goto PRIO+1 pref PRIO-2 protocol 204              (unless lo is a CE interface; and the core's: addCoreSkip)
//	ip rule add iif pg-VRF to PE-ADDR blackhole pref PRIO-1 protocol 204  (each address on the VRF's CE interfaces)
//	ip rule add iif CE-IF lookup TABLE pref PRIO protocol 204             (each CE interface)
//	ip rule add iif pg-VRF lookup TABLE pref PRIO protocol 204            (each VRF's TUN)
//	ip rule add iif CE-IF blackhole pref PRIO protocol 204                (each quarantined interface)
//	ip rule add lookup local pref PRIO+1 protocol 204
//	ip rule add iif lo to CE-SUBNET lookup main pref PRIO+2 protocol 204
//	ip rule add to CE-SUBNET blackhole pref PRIO+3 protocol 204
//
// each in IPv4 and IPv6 (the addresses in their own family), the last
// two for each prefix of the exact cover of the CE subnets (cover.go):
// adjacent subnets share a rule. The first
// keeps remote sites off the PE's own sockets: the VRF table holds the
// PE's addresses on its CE interfaces, for the CEs, but the host would
// answer a remote site by the main table, not through the TUN.
//
// The goto changes no packet's fate: every rule it skips (PRIO-1, PRIO)
// names a TUN or a CE interface as iif, none lo, so none matched the
// host's own packets. But the kernel walks the rules one by one, and
// without it each route lookup of the host (each ESP datagram the fast
// path sends) walked the 6,000 VRF rules of 2,000 VRFs first. A CE
// interface named lo (a test's) gets no goto: its rule must be met.
func planRules(prio int, vrfs map[string]*fib.VRF, quarantined []string, addrs map[string][]netip.Prefix) ruleSet {
	set := ruleSet{rules: map[ruleKey]bool{}}
	held := map[string]bool{}
	for name, v := range vrfs {
		for _, fam := range families {
			for _, iif := range append(slices.Clone(v.Interfaces), fib.TUNName(name)) {
				set.rules[ruleKey{family: fam, pref: prio, iif: iif, table: int(v.Table)}] = true
			}
		}
		for _, iif := range v.Interfaces {
			held[iif] = true
			for _, a := range addrs[iif] {
				host := netip.PrefixFrom(a.Addr(), a.Addr().BitLen())
				set.rules[ruleKey{family: familyOf(a), pref: prio + tunToPERuleOffset, iif: fib.TUNName(name), dst: host}] = true
			}
		}
	}
	for _, iif := range quarantined {
		if held[iif] {
			continue
		}
		held[iif] = true
		for _, fam := range families {
			set.rules[ruleKey{family: fam, pref: prio, iif: iif}] = true
		}
	}
	if len(held) == 0 {
		return set
	}
	set.moveLocal = true
	for _, fam := range families {
		set.rules[anchorRule(fam)] = true
		set.rules[ruleKey{family: fam, pref: prio + localRuleOffset, table: unix.RT_TABLE_LOCAL}] = true
		if !held["lo"] {
			set.rules[ruleKey{family: fam, pref: prio + hostSkipRuleOffset, iif: "lo", jump: prio + localRuleOffset}] = true
		}
	}
	var subnets []netip.Prefix
	for iif := range held {
		for _, a := range addrs[iif] {
			if a.Addr().IsGlobalUnicast() { // link-local packets are never forwarded
				subnets = append(subnets, a.Masked())
			}
		}
	}
	for _, p := range exactCover(subnets) { // cover.go
		set.rules[ruleKey{family: familyOf(p), pref: prio + ownToCERuleOffset, iif: "lo", dst: p, table: unix.RT_TABLE_MAIN}] = true
		set.rules[ruleKey{family: familyOf(p), pref: prio + otherToCERuleOffset, dst: p}] = true
	}
	return set
}

// addCoreSkip adds to set, in each family, the goto that lets the
// packets arriving on ifname skip the VRF rules as the host's own do:
// ifname is the core interface, the one holding the local address, where
// the ESP from remote PEs comes in, and each datagram's lookup walked
// every VRF rule before the local table's. Nothing if ifname is a CE
// interface (held) or set holds no VRF rule to skip.
func addCoreSkip(set ruleSet, prio int, ifname string, held func(string) bool) {
	if ifname == "" || ifname == "lo" || !set.moveLocal || held(ifname) {
		return
	}
	for _, fam := range families {
		set.rules[ruleKey{family: fam, pref: prio + hostSkipRuleOffset, iif: ifname, jump: prio + localRuleOffset}] = true
	}
}

func familyOf(p netip.Prefix) int {
	if p.Addr().Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

var families = []int{netlink.FAMILY_V4, netlink.FAMILY_V6}

// ruleKeyOf reads a dumped rule back into the form planRules returns.
func ruleKeyOf(fam int, r netlink.Rule) ruleKey {
	k := ruleKey{family: fam, pref: r.Priority, iif: r.IifName, table: r.Table, jump: max(r.Goto, 0)}
	if r.Mask != nil && *r.Mask != 0 {
		k.mark, k.mask = r.Mark, *r.Mask
	}
	if r.Dst != nil {
		if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
			if fam == netlink.FAMILY_V4 {
				a = a.Unmap()
			}
			ones, _ := r.Dst.Mask.Size()
			k.dst = netip.PrefixFrom(a, ones)
		}
	}
	return k
}

// netlinkRule is the rule for k, of protocol 204.
func netlinkRule(k ruleKey) *netlink.Rule {
	r := netlink.NewRule()
	r.Family, r.Priority, r.Protocol = k.family, k.pref, RTProto
	r.IifName, r.Table = k.iif, k.table
	if k.mask != 0 {
		mask := k.mask
		r.Mark, r.Mask = k.mark, &mask
	}
	switch {
	case k.jump > 0:
		r.Type, r.Goto = unix.FR_ACT_GOTO, k.jump
	case k.isAnchor():
		r.Type = unix.FR_ACT_NOP
	case k.table == 0:
		r.Type = unix.FR_ACT_BLACKHOLE
	}
	if k.dst.IsValid() {
		r.Dst = &net.IPNet{IP: k.dst.Addr().AsSlice(), Mask: net.CIDRMask(k.dst.Bits(), k.dst.Addr().BitLen())}
	}
	return r
}

// isLocalRule reports whether r is a `lookup local` rule for every
// packet that is not ours: the kernel's own `0: from all lookup local`, or
// one an operator moved (as the kernel's VRF documentation does).
func isLocalRule(r netlink.Rule) bool {
	return r.Table == unix.RT_TABLE_LOCAL && r.Protocol != RTProto &&
		r.Src == nil && r.Dst == nil && r.IifName == "" && r.OifName == "" && r.Mark == 0 && !r.Invert
}

// syncRules makes the backend's rules set's. It adds before it deletes,
// so that a CE interface going from its VRF to the quarantine or back,
// or the local rule moving, is never without a rule that holds it: a
// packet in between meets either the old rule or the new one, never the
// main table. With prune false it only adds (and moves nothing away from
// priority 0); with prune true it also removes every other rule of
// protocol 204 and, if set.moveLocal, the kernel's priority-0 local rule.
// Without set.moveLocal it puts the priority-0 local rule back, unless
// some other rule of someone else's looks up local.
//
// A prune right after an add pass of the same set, which met no error,
// prunes what that pass found and sends no dump: the add pass left every
// rule of set in place, and a rule dump is as long as the rules of every
// VRF.
func (s *system) syncRules(set ruleSet, prune bool) error {
	var errs []error
	found := s.added
	s.added = map[int]ruleDump{}
	for _, fam := range families {
		if d, ok := found[fam]; ok && prune {
			famErrs := s.pruneRules(fam, set, d)
			if len(famErrs) > 0 {
				s.ruleCache = nil
			} else if fr, ok := s.ruleCache[fam]; ok {
				s.remember(fam, set, d, true, fr.otherLocal)
			}
			errs = append(errs, famErrs...)
			continue
		}
		rules, err := s.familyRules(fam)
		if err != nil {
			return err
		}
		have, stale := sortDumpedRules(fam, rules.ours, set)
		kernelLocal := slices.Clone(rules.kernelLocal)
		otherLocal := rules.otherLocal
		for k := range rules.known {
			if k.family == fam && !set.rules[k] {
				stale = append(stale, *netlinkRule(k))
			}
		}
		var famErrs []error
		var adds []*netlink.Rule
		for k := range set.rules {
			if k.family != fam || have[k] || rules.known[k] {
				continue
			}
			adds = append(adds, netlinkRule(k))
		}
		slices.SortFunc(adds, insertOrder)
		s.changes += len(adds)
		if err := s.send(nlbatch.RuleRequests(nlbatch.AddRule, adds, ruleName(fam))); err != nil {
			famErrs = append(famErrs, err)
		}
		if !set.moveLocal && len(kernelLocal) == 0 && !otherLocal {
			r := netlink.NewRule()
			r.Family, r.Priority, r.Table, r.Protocol = fam, 0, unix.RT_TABLE_LOCAL, unix.RTPROT_KERNEL
			s.changes++
			if err := s.req().RuleAdd(r); err != nil {
				famErrs = append(famErrs, fmt.Errorf("ip rule add pref 0 lookup local: %w", err))
			}
			kernelLocal = append(kernelLocal, *r)
		}
		// Prune only once every rule asked for is in: one missing may be
		// what should replace a stale one (the moved local rule, the
		// quarantine of an interface leaving its VRF).
		d := ruleDump{stale: stale, kernelLocal: kernelLocal}
		switch {
		case len(famErrs) > 0:
		case prune:
			famErrs = append(famErrs, s.pruneRules(fam, set, d)...)
		default:
			s.added[fam] = d
		}
		if len(famErrs) > 0 {
			s.ruleCache = nil // the next sync dumps
		} else {
			s.remember(fam, set, d, prune, otherLocal)
		}
		errs = append(errs, famErrs...)
	}
	return errors.Join(errs...)
}

// familyRules is what the kernel holds of one family's rules that
// syncRules looks at: those of protocol 204 (as dumped, in ours, or as
// the last sync left them, in known: a set of planRules of every family,
// shared and never changed, so that remembering it copies nothing), the
// kernel's priority-0 local rules, and whether someone else's local rule
// is elsewhere.
type familyRules struct {
	ours, kernelLocal []netlink.Rule
	known             map[ruleKey]bool
	otherLocal        bool
}

// fullRuleSyncEvery: one rule sync in this many dumps the rules even when
// the cache is good, to repair what someone else changed.
const fullRuleSyncEvery = 256

// familyRules returns the family's rules as the last sync left them
// (s.ruleCache), or dumps them: at start, after an error, and every
// fullRuleSyncEvery syncs. A dump is as long as the rules of every VRF,
// so an Apply that changes one VRF would otherwise read them all.
func (s *system) familyRules(fam int) (familyRules, error) {
	if fr, ok := s.ruleCache[fam]; ok && s.ruleSyncs%fullRuleSyncEvery != 0 {
		s.ruleSyncs++
		return fr, nil
	}
	s.ruleSyncs++
	rules, err := fib.RetryDump(dumpTries, func() ([]netlink.Rule, error) { return s.req().RuleList(fam) })
	if err != nil {
		s.ruleCache = nil
		return familyRules{}, fmt.Errorf("listing rules: %w", err)
	}
	var fr familyRules
	for _, r := range rules {
		switch {
		case isLocalRule(r) && r.Priority == 0:
			fr.kernelLocal = append(fr.kernelLocal, r)
		case isLocalRule(r):
			fr.otherLocal = true // a local rule somewhere else than 0: the operator's
		case r.Protocol == RTProto:
			fr.ours = append(fr.ours, r)
		}
	}
	return fr, nil
}

// remember records in s.ruleCache what a sync of family fam without
// errors left: set's rules of the family and, unless pruned, d's stale
// ones; d's kernel local rules unless the prune moved them away; and
// whether someone else's local rule was seen.
func (s *system) remember(fam int, set ruleSet, d ruleDump, pruned, otherLocal bool) {
	if s.ruleCache == nil {
		s.ruleCache = map[int]familyRules{}
	}
	fr := familyRules{kernelLocal: d.kernelLocal, known: set.rules, otherLocal: otherLocal}
	if pruned && set.moveLocal {
		fr.kernelLocal = nil
	}
	if !pruned {
		fr.ours = d.stale
	}
	s.ruleCache[fam] = fr
}

// ruleDump is what an add pass of syncRules found in one family: the
// rules of protocol 204 that the set does not ask for, and the kernel's
// priority-0 local rules.
type ruleDump struct{ stale, kernelLocal []netlink.Rule }

// sortDumpedRules sorts the backend's rules of family fam, as dumped,
// into those set wants (have) and the rest (stale). A wanted rule listed
// twice is kept, both copies: a dump cut into by a change lists a rule
// twice, and deleting the "extra" copy (the kernel deletes the first
// rule that matches) deleted the only one, be it a VRF's lookup or a
// blackhole that keeps a TUN off the PE's addresses. Two real copies
// of a rule match the same packets as one.
func sortDumpedRules(fam int, ours []netlink.Rule, set ruleSet) (have map[ruleKey]bool, stale []netlink.Rule) {
	have = map[ruleKey]bool{}
	for _, r := range ours {
		k := ruleKeyOf(fam, r)
		if set.rules[k] {
			have[k] = true
			continue
		}
		stale = append(stale, r)
	}
	return have, stale
}

// pruneRules deletes d's stale rules of family fam and, if set.moveLocal,
// the kernel's priority-0 local rule.
func (s *system) pruneRules(fam int, set ruleSet, d ruleDump) []error {
	stale := d.stale
	if set.moveLocal {
		stale = append(stale, d.kernelLocal...)
	}
	rules := make([]*netlink.Rule, len(stale))
	for i := range stale {
		rules[i] = &stale[i]
	}
	slices.SortFunc(rules, deleteOrder)
	s.changes += len(stale)
	if err := s.send(nlbatch.RuleRequests(nlbatch.DeleteRule, rules, ruleName(fam))); err != nil {
		return []error{err}
	}
	return nil
}

// ruleName names a rule of family fam in an error, as `ip rule` shows it.
func ruleName(fam int) func(*netlink.Rule) string {
	return func(r *netlink.Rule) string { return ruleKeyOf(fam, *r).String() }
}

// String is the rule as `ip rule` would show it.
func (k ruleKey) String() string {
	s := fmt.Sprintf("pref %d", k.pref)
	if k.iif != "" {
		s += " iif " + k.iif
	}
	if k.dst.IsValid() {
		s += " to " + k.dst.String()
	}
	if k.mask != 0 {
		s += fmt.Sprintf(" fwmark %#x/%#x", k.mark, k.mask)
	}
	if k.jump > 0 {
		return fmt.Sprintf("%s goto %d", s, k.jump)
	}
	if k.isAnchor() {
		return s + " nop"
	}
	if k.table == 0 {
		return s + " blackhole"
	}
	return fmt.Sprintf("%s lookup %d", s, k.table)
}

// dumpTries is how many times the backend runs a netlink dump the
// kernel keeps interrupting before it gives up (fib.RetryDump).
const dumpTries = 5

// enableForwarding turns on IP forwarding, without which the kernel
// would route neither into nor out of the TUNs:
//
//	sysctl -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
func enableForwarding() error {
	var errs []error
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 && b[0] == '1' {
			continue
		}
		if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("enabling forwarding: %w", err))
		}
	}
	return errors.Join(errs...)
}
