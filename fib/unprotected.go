package fib

import (
	"net/netip"

	"github.com/peregrine-net/peregrine/mpls"
)

// Protection per remote PE (docs/ARCHITECTURE.md, "Unprotected peers"):
//
//   - a remote PE with a tunnel (State.Tunnels) is protected: its VRF
//     traffic is sealed with ESP, or dropped and counted while it has no
//     SA;
//   - a remote PE inside State.UnprotectedPeers is unprotected: its VRF
//     traffic leaves as plain MPLS on a core interface
//     (State.MPLSInterfaces);
//   - any other remote PE gets nothing: its traffic is dropped and
//     counted, never sent in clear.
//
// Configuration validation keeps the first two apart (no unprotected
// prefix covers a tunnel's remote); should a State still have both, the
// tunnel wins.

// NamesPlainPeers reports whether the State uses the per-PE protection
// model at all: it lists unprotected peers or MPLS interfaces. The kernel
// backend without either (and without IPsec) keeps its older rule of a
// trusted MPLS core, every PE reached in clear; with either, a PE neither
// protected nor unprotected gets nothing, so a reload that takes the last
// unprotected peer away stops its traffic instead of falling back to
// clear.
func (s *State) NamesPlainPeers() bool {
	return len(s.UnprotectedPeers) > 0 || len(s.MPLSInterfaces) > 0
}

// IsUnprotected reports whether traffic to remote PE pe may leave as
// plain MPLS: pe is inside one of s.UnprotectedPeers and has no tunnel.
func (s *State) IsUnprotected(pe netip.Addr) bool {
	pe = pe.Unmap()
	if _, ok := s.Tunnels[pe]; ok {
		return false
	}
	for _, p := range s.UnprotectedPeers {
		if p.Contains(pe) {
			return true
		}
	}
	return false
}

// Protection names how traffic to remote PE pe leaves, as show output
// and metrics say it: "protected" (an ESP tunnel), "integrity-only" (an
// AH tunnel: the labels and packets cross readable, protected against
// change and replay), "unprotected" (plain MPLS, as the configuration
// allows) or "none" (dropped).
func (s *State) Protection(pe netip.Addr) string {
	switch t := s.Tunnels[pe.Unmap()]; {
	case t != nil && t.Out.IsAH():
		return "integrity-only"
	case t != nil:
		return "protected"
	case s.IsUnprotected(pe):
		return "unprotected"
	}
	return "none"
}

// PlainLabels is the label stack a route to remote PE pe pushes when it
// leaves as plain MPLS: the PE's transport label, if it has one, above
// the route's labels. It allocates only for a PE with a transport label.
func (s *State) PlainLabels(pe netip.Addr, labels []mpls.Label) []mpls.Label {
	t, ok := s.TransportLabels[pe.Unmap()]
	if !ok {
		return labels
	}
	return append([]mpls.Label{t}, labels...)
}

// unmapBits is how many of p's bits an IPv4-mapped IPv6 prefix spends on
// the ::ffff: part (96), 0 for any other prefix.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return 96
	}
	return 0
}
