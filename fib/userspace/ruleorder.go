package userspace

import (
	"cmp"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The order of a batch of rules, and the anchor. fib_nl_newrule, for
// each rule it adds, walks from the first rule to the rule's place (the
// order below keeps that short), and then to the first rule whose
// priority is the rule's goto target, which is 0 for a rule that is no
// goto. With no rule at priority 0 (the kernel's `lookup local` moved
// away from it, as planRules does) that walk meets none and goes
// through every rule; the kernel then counts the rule as an unresolved
// goto, and while any is counted each later add in the namespace walks
// every rule once more. So every Apply after the first, Close, and above
// all the first Apply of a restart (the local rule stays moved after a
// Close or a crash) walked every rule twice per rule added: with the
// rules of 2,000 VRFs, 7.3 s against 1.3 s with the anchor (synced in
// a namespace of their own whose local rule was moved before; timed
// once by a throwaway test). The anchor keeps a rule at priority 0.

// anchorRule is the anchor of family fam:
//
//	ip rule add pref 0 nop protocol 204
//
// It matches every packet and does nothing with it (FR_ACT_NOP): the
// kernel's lookup walks past it to the next rule. planRules asks for it
// whenever it moves the local rule, and insertOrder adds it first, while
// the kernel's priority-0 local rule still stands: added without one, it
// would itself be counted as unresolved for good. A dumped rule's action
// is not read back; our rule at priority 0 that neither looks up nor
// jumps is the anchor (no other rule of ours has priority 0: New
// refuses a RulePriority that would give one).
func anchorRule(fam int) ruleKey { return ruleKey{family: fam, pref: 0} }

// isAnchor: k is the anchor of its family.
func (k ruleKey) isAnchor() bool { return k.pref == 0 && k.table == 0 && k.jump == 0 }

// isAnchorRule: r is an anchor, as planned (netlinkRule) or dumped.
func isAnchorRule(r *netlink.Rule) bool {
	return r.Priority == 0 && r.Table == 0 && r.Goto <= 0 && r.Protocol == RTProto
}

// insertOrder orders a batch of rules to add: the anchor first, then
// the highest priority first, but a blackhole before the rules of the
// next priority, the ones it guards (a TUN's PE addresses before its
// lookup rule), so that no lookup rule stands, even for the batch's
// duration, without the blackholes before it. The kernel inserts a rule
// after walking every rule of a priority up to and equal to its own, so
// added in that order a rule walks past few: at 2,000 VRFs, rules added
// in map order (random) cost the bring-up seconds of kernel time
// (scalebench). A goto's target, at a higher priority, is so in before
// it.
func insertOrder(a, b *netlink.Rule) int {
	key := func(r *netlink.Rule) int {
		if isBlackhole(r) {
			return 2*r.Priority + 3 // before 2*(Priority+1)
		}
		return 2 * r.Priority
	}
	return cmp.Or(cmp.Compare(b2i(!isAnchorRule(a)), b2i(!isAnchorRule(b))), cmp.Compare(key(b), key(a)))
}

// deleteOrder is insertOrder reversed, for the same reasons: lookup
// rules go before the blackholes, and the lowest priority first, since
// the kernel finds the rule to delete by walking from the first
// (fib_nl_delrule), and the gotos (all at the lowest priorities) first,
// since while any stands each delete walks every rule once more. The
// anchor goes last (it is deleted only once the kernel's local rule is
// back at priority 0, in the add pass before).
func deleteOrder(a, b *netlink.Rule) int {
	if c := cmp.Compare(b2i(isAnchorRule(a)), b2i(isAnchorRule(b))); c != 0 {
		return c
	}
	if c := cmp.Compare(b2i(isBlackhole(a)), b2i(isBlackhole(b))); c != 0 {
		return c
	}
	return cmp.Compare(a.Priority, b.Priority)
}

// b2i is 1 for true, 0 for false.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isBlackhole: r drops what it matches (a rule we add, or one dumped,
// whose action is not read back and whose table is 0). The anchor is
// none.
func isBlackhole(r *netlink.Rule) bool {
	if isAnchorRule(r) {
		return false
	}
	return r.Type == unix.FR_ACT_BLACKHOLE || (r.Table == 0 && r.Goto <= 0)
}

// withoutGotos is set without its goto rules, for a prune of many rules
// (Close): while any goto stands, each delete walks every rule once more.
func withoutGotos(set ruleSet) ruleSet {
	out := ruleSet{rules: map[ruleKey]bool{}, moveLocal: set.moveLocal}
	for k := range set.rules {
		if k.jump == 0 {
			out.rules[k] = true
		}
	}
	return out
}
