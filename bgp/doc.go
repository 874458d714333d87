// Package bgp is Peregrine's BGP/MPLS IP VPN control plane (RFC 4364).
//
// GoBGP v3 runs embedded as a library and does the protocol: sessions,
// the RIB, best-path selection, route reflection. This package adds what
// makes a router a PE:
//
//   - neighbors from the configuration, each with explicit address families
//     (without them GoBGP negotiates IPv4 unicast only);
//   - per VRF, origination of its static and connected prefixes as VPNv4 or
//     VPNv6 paths carrying the VRF's RD, export route targets, a label from
//     the mpls allocator and this PE as next hop;
//   - import: every best VPN path whose route targets meet a VRF's import
//     targets becomes a route in that VRF (prefix -> remote PE + label);
//     withdrawals and route-target changes are followed;
//   - reload: neighbors, VRFs and route targets added or removed without
//     resetting unrelated sessions;
//   - GoBGP's gRPC API, only where bgp.api asks for it, behind a guard
//     (apiguard.go): read-only unless bgp.api-write, and no response ever
//     carries a neighbor's password. Its clients are not authenticated.
//
// Sessions and cores of either family: unless bgp.listen-address is set,
// the speaker listens on IPv4 and IPv6 (listen.go). A neighbor that is
// not Established has a reason (reason.go): the last error of GoBGP's own
// connection attempts, read from its log, or that it is passive. Over an
// IPv6 session VPNv4 routes carry IPv6 next hops (RFC 8950); GoBGP
// v3.37.0 encodes and decodes them but does not make them depend on the
// peer's capability, which rfc8950_test.go shows on the wire and
// PeerReason reports per neighbor.
//
// The speaker runs from its own Config (config.go), which package
// bgpconfig translates from the router's YAML configuration; bgp imports
// no configuration schema.
//
// Changes leave as Events on a channel that the forwarding plane owns.
//
// One goroutine (Speaker.run) owns the import and origination state; GoBGP's
// watch callback and API callers hand it work over channels, so none of that
// state is locked.
package bgp
