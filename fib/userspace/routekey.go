package userspace

import "net/netip"

// rawAddr is a netip.Addr without its zone, which routes never have: no
// pointer in it, so the maps of routes syncRoutes keeps from one Apply to
// the next (a score of routes per VRF) are neither scanned by the garbage
// collector nor as large (issue 23: a netip.Addr is 24 bytes and a
// pointer, this is 17 bytes and none).
type rawAddr struct {
	b    [16]byte
	kind uint8 // 0: invalid, 4 or 6
}

func rawAddrOf(a netip.Addr) rawAddr {
	switch {
	case a.Is4():
		return rawAddr{b: a.As16(), kind: 4}
	case a.IsValid():
		return rawAddr{b: a.WithZone("").As16(), kind: 6}
	}
	return rawAddr{}
}

func (r rawAddr) addr() netip.Addr {
	switch r.kind {
	case 4:
		return netip.AddrFrom16(r.b).Unmap()
	case 6:
		return netip.AddrFrom16(r.b)
	}
	return netip.Addr{}
}

// rawPrefix is a netip.Prefix of a rawAddr.
type rawPrefix struct {
	a           rawAddr
	bitsPlusOne uint8 // 0: invalid
}

func rawPrefixOf(p netip.Prefix) rawPrefix {
	if !p.IsValid() {
		return rawPrefix{}
	}
	return rawPrefix{a: rawAddrOf(p.Addr()), bitsPlusOne: uint8(p.Bits() + 1)}
}

func (r rawPrefix) prefix() netip.Prefix {
	if r.bitsPlusOne == 0 {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(r.a.addr(), int(r.bitsPlusOne)-1)
}
