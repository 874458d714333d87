package userspace

import (
	"net/netip"
	"slices"
)

// exactCover returns the fewest prefixes whose union is exactly the
// union of ps: those inside another are dropped and each two halves of
// one prefix are merged into it, again and again. The CE subnets' rules
// (PRIO+2, PRIO+3) are one per prefix of the cover rather than one per
// subnet: the kernel walks the policy rules one by one for every route
// lookup the host makes that reaches them (each ESP packet the fast path
// sends), and 2,000 VRFs with a /30 each made 4,000 rules of them per
// family where their cover is a handful. The rules of a block all do the
// same, so they match the same packets either way.
func exactCover(ps []netip.Prefix) []netip.Prefix {
	in := map[netip.Prefix]bool{}
	for _, p := range ps {
		if p.IsValid() {
			in[p.Masked()] = true
		}
	}
	// Drop what another prefix holds: a shorter prefix of the same
	// address, looked for bit by bit.
	for p := range in {
		for bits := p.Bits() - 1; bits >= 0; bits-- {
			if in[netip.PrefixFrom(p.Addr(), bits).Masked()] {
				delete(in, p)
				break
			}
		}
	}
	// Merge halves, longest first, so that a merged prefix meets its own
	// other half in its turn.
	sorted := slices.SortedFunc(func(yield func(netip.Prefix) bool) {
		for p := range in {
			if !yield(p) {
				return
			}
		}
	}, func(a, b netip.Prefix) int { return b.Bits() - a.Bits() })
	for len(sorted) > 0 {
		p := sorted[0]
		sorted = sorted[1:]
		if !in[p] || p.Bits() == 0 {
			continue
		}
		parent := netip.PrefixFrom(p.Addr(), p.Bits()-1).Masked()
		other := otherHalf(parent, p)
		if !in[other] {
			continue
		}
		delete(in, p)
		delete(in, other)
		in[parent] = true
		// parent is shorter than everything left at p's length: put it
		// where its length belongs.
		i, _ := slices.BinarySearchFunc(sorted, parent, func(a, b netip.Prefix) int { return b.Bits() - a.Bits() })
		sorted = slices.Insert(sorted, i, parent)
	}
	out := make([]netip.Prefix, 0, len(in))
	for p := range in {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return out
}

// otherHalf is the half of parent that half is not.
func otherHalf(parent, half netip.Prefix) netip.Prefix {
	b := half.Addr().AsSlice()
	bit := parent.Bits() // the bit that tells the halves apart
	b[bit/8] ^= 0x80 >> (bit % 8)
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, half.Bits())
}
