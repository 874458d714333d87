package bgp

import (
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// A VRF of a full Internet-sized customer table holds a million prefixes,
// so its entries are packed: addresses as bytes rather than netip.Addr,
// whose zone pointer would make every map slot a pointer for the garbage
// collector to scan, and the usual single candidate stored in the slot
// itself rather than in a slice of its own. An entry costs a third of
// what map[netip.Prefix][]candidate did, and the maps hold no pointers.

// packedAddr is an IPv4 or IPv6 address without zone.
type packedAddr struct {
	b   [16]byte
	is4 bool
}

func packAddr(a netip.Addr) packedAddr {
	return packedAddr{b: a.As16(), is4: a.Is4()}
}

func (p packedAddr) addr() netip.Addr {
	if p.is4 {
		return netip.AddrFrom4([4]byte(p.b[12:]))
	}
	return netip.AddrFrom16(p.b)
}

// prefixKey is a netip.Prefix packed the same way.
type prefixKey struct {
	a    packedAddr
	bits uint8
}

func packPrefix(p netip.Prefix) prefixKey {
	return prefixKey{a: packAddr(p.Addr()), bits: uint8(p.Bits())}
}

func (k prefixKey) prefix() netip.Prefix {
	return netip.PrefixFrom(k.a.addr(), int(k.bits))
}

// candidate is one VPN path imported into a VRF for a prefix. Two PEs may
// advertise the same customer prefix under different RDs (a multihomed
// site); both are candidates and the VRF installs one.
type candidate struct {
	rd      vpn.RD
	nextHop packedAddr
	label   mpls.Label
}

// better orders candidates deterministically (lowest next hop, then RD) so
// the installed route does not depend on arrival order.
func (c candidate) better(o candidate) bool {
	if cmp := c.nextHop.addr().Compare(o.nextHop.addr()); cmp != 0 {
		return cmp < 0
	}
	a, b := c.rd.Bytes(), o.rd.Bytes()
	return string(a[:]) < string(b[:])
}

func best(cands []candidate) (candidate, bool) {
	if len(cands) == 0 {
		return candidate{}, false
	}
	b := cands[0]
	for _, c := range cands[1:] {
		if c.better(b) {
			b = c
		}
	}
	return b, true
}

// vrfTable is one VRF's imported prefixes and their candidates.
type vrfTable struct {
	first  map[prefixKey]candidate   // one candidate of every prefix
	others map[prefixKey][]candidate // the rest, for the few multihomed prefixes
}

func newVRFTable() *vrfTable {
	return &vrfTable{first: map[prefixKey]candidate{}, others: map[prefixKey][]candidate{}}
}

// len is the number of prefixes.
func (t *vrfTable) len() int { return len(t.first) }

// candidates appends k's candidates to buf.
func (t *vrfTable) candidates(k prefixKey, buf []candidate) []candidate {
	c, ok := t.first[k]
	if !ok {
		return buf
	}
	return append(append(buf, c), t.others[k]...)
}

// store makes cands k's candidates; none removes the prefix. cands is
// not kept.
func (t *vrfTable) store(k prefixKey, cands []candidate) {
	switch len(cands) {
	case 0:
		delete(t.first, k)
		delete(t.others, k)
	case 1:
		t.first[k] = cands[0]
		delete(t.others, k)
	default:
		t.first[k] = cands[0]
		t.others[k] = slices.Clone(cands[1:])
	}
}

// installed calls fn with every prefix and the candidate installed for it.
func (t *vrfTable) installed(fn func(netip.Prefix, candidate)) {
	var buf []candidate
	for k := range t.first {
		buf = t.candidates(k, buf[:0])
		b, _ := best(buf)
		fn(k.prefix(), b)
	}
}
