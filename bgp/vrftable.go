package bgp

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// A VRF of a full Internet-sized customer table holds a million prefixes,
// so its entries are packed: addresses as bytes rather than netip.Addr,
// whose zone pointer would make every map slot a pointer for the garbage
// collector to scan, and the usual single candidate stored in the slot
// itself rather than in a slice of its own. The maps hold no pointers.

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

// v4Key is an IPv4 prefix in a word: the address in the low 32 bits,
// the length above them.
type v4Key uint64

func v4KeyOf(k prefixKey) (v4Key, bool) {
	if !k.a.is4 {
		return 0, false
	}
	return v4Key(binary.BigEndian.Uint32(k.a.b[12:])) | v4Key(k.bits)<<32, true
}

func (k v4Key) prefixKey() prefixKey {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], uint32(k))
	return prefixKey{a: packAddr(netip.AddrFrom4(a)), bits: uint8(k >> 32)}
}

// v4Candidate is a candidate whose next hop is IPv4, in half the space.
type v4Candidate struct {
	rd      vpn.RD
	nextHop [4]byte
	label   mpls.Label
}

func (c candidate) v4() (v4Candidate, bool) {
	if !c.nextHop.is4 {
		return v4Candidate{}, false
	}
	return v4Candidate{rd: c.rd, nextHop: [4]byte(c.nextHop.b[12:]), label: c.label}, true
}

func (c v4Candidate) candidate() candidate {
	return candidate{rd: c.rd, nextHop: packAddr(netip.AddrFrom4(c.nextHop)), label: c.label}
}

// vrfTable is one VRF's imported prefixes and their candidates. Nearly
// every entry of a VPNv4 table is an IPv4 prefix with one candidate whose
// next hop is IPv4, and those take the v4 map's 24-byte slots; the rest
// (IPv6 prefixes, IPv6 next hops) take first's 52.
type vrfTable struct {
	v4     map[v4Key]v4Candidate     // IPv4 prefixes whose first candidate has an IPv4 next hop
	first  map[prefixKey]candidate   // the first candidate of every other prefix
	others map[prefixKey][]candidate // the further candidates of the few multihomed prefixes
}

func newVRFTable() *vrfTable {
	return &vrfTable{v4: map[v4Key]v4Candidate{}, first: map[prefixKey]candidate{}, others: map[prefixKey][]candidate{}}
}

// len is the number of prefixes.
func (t *vrfTable) len() int { return len(t.v4) + len(t.first) }

// firstOf is k's first candidate, wherever it is kept.
func (t *vrfTable) firstOf(k prefixKey) (candidate, bool) {
	if k4, ok := v4KeyOf(k); ok {
		if c, ok := t.v4[k4]; ok {
			return c.candidate(), true
		}
	}
	c, ok := t.first[k]
	return c, ok
}

// setFirst keeps c as k's first candidate (!ok: k has none), in the v4
// map where it fits, and removes it from the other map.
func (t *vrfTable) setFirst(k prefixKey, c candidate, ok bool) {
	k4, is4 := v4KeyOf(k)
	c4, fits := c.v4()
	switch {
	case ok && is4 && fits:
		t.v4[k4] = c4
		delete(t.first, k)
	case ok:
		if is4 {
			delete(t.v4, k4)
		}
		t.first[k] = c
	default:
		if is4 {
			delete(t.v4, k4)
		}
		delete(t.first, k)
	}
}

// candidates appends k's candidates to buf.
func (t *vrfTable) candidates(k prefixKey, buf []candidate) []candidate {
	c, ok := t.firstOf(k)
	if !ok {
		return buf
	}
	return append(append(buf, c), t.others[k]...)
}

// store makes cands k's candidates; none removes the prefix. cands is
// not kept.
func (t *vrfTable) store(k prefixKey, cands []candidate) {
	if len(cands) == 0 {
		t.setFirst(k, candidate{}, false)
	} else {
		t.setFirst(k, cands[0], true)
	}
	if len(cands) > 1 {
		t.others[k] = slices.Clone(cands[1:])
	} else {
		delete(t.others, k)
	}
}

// installed calls fn with every prefix and the candidate installed for it.
func (t *vrfTable) installed(fn func(netip.Prefix, candidate)) {
	var buf []candidate
	visit := func(k prefixKey) {
		buf = t.candidates(k, buf[:0])
		b, _ := best(buf)
		fn(k.prefix(), b)
	}
	for k4 := range t.v4 {
		visit(k4.prefixKey())
	}
	for k := range t.first {
		visit(k)
	}
}
