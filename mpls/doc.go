// Package mpls holds the MPLS data-plane pieces Peregrine needs as a
// provider-edge router for BGP/MPLS IP VPNs (RFC 4364): label values, the
// RFC 3032 label stack encoding, in-place push/pop/swap on packet buffers,
// TTL handling per RFC 3443, and the allocator that hands out VPN labels.
//
// The package follows three rules taken from net/netip, gVisor's header
// package and wireguard-go:
//
//   - Values in the API, bytes on the wire. [Label], [Entry] and [Range]
//     are small comparable values; [StackEntry] and [Stack] are views over
//     caller-owned bytes, in the shape of gVisor's header.IPv4.
//   - Packets live in caller buffers with headroom. A packet is
//     buf[off:off+n]; [Push] writes the new label into the headroom before
//     off, [Pop] moves off forward. Nothing on the packet path allocates,
//     and tests assert it with testing.AllocsPerRun.
//   - Parsers never panic. [ParseStack], [Pop], [Swap], [IngressTTL] and
//     [EgressTTL] accept arbitrary bytes (they are fuzzed) and report
//     malformed input with sentinel errors, which do not allocate either:
//     a flood of bad packets must not become a flood of allocations.
//
// Files follow the packet: label.go and range.go define label values,
// stack.go the wire format, ops.go the label operations, ttl.go and ip.go
// the TTL rules, alloc.go the control-plane allocator (with its hold-down)
// and allocstate.go its state across restarts, which package
// mpls/labelstore keeps on disk, errors.go the sentinels every other file
// returns.
package mpls
