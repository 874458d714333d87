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
//   - restarts: labels persisted in the state directory and restored, so
//     a VRF or prefix keeps its label (labelbook.go, mpls/labelstore), and
//     BGP graceful restart per neighbor, helper and restarting speaker
//     (graceful.go, gracefulstop.go);
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
// # CE sessions (vrfs[].neighbors)
//
// A VRF's eBGP sessions with the customer's routers (CENeighbor) run in a
// GoBGP server of the VRF's own (cesession.go), carrying IPv4 and IPv6
// unicast only. A CE's best paths become ceRoutes that the originator
// exports beside static and connected prefixes, with the VRF's RD, export
// targets and label and next-hop self, carrying the customer's origin, AS
// path, MED and communities and the site-of-origin (ceroute.go, RFC 4364
// section 7); the routes the VRF imports are injected into its CE server
// (ceexport.go), so that GoBGP's eBGP export prepends the provider AS and
// sets next-hop self. as-override, allowas-in and max-prefixes are
// GoBGP's per-peer knobs (cePeer); max-prefixes-restart (cemaxprefix.go)
// and holding a route back from the CEs of its site of origin (cesoo.go)
// are this package's.
//
// Start and Reload still refuse CE sessions (ErrCENotRunYet): the
// forwarding plane does not install CE-learned routes yet, the VRF's own
// static and connected prefixes are not yet sent to its CEs, the
// site-of-origin holds back only routes that crossed the VPN (two CEs of
// one site on one PE still hear each other), and passive CE sessions (a listener bound to the VRF's
// device) are not built. The tests apply such a configuration directly.
//
// Why not GoBGP's own VRFs (AddVrf, a peer whose Config.Vrf names one):
// GoBGP keys every peer by its address alone (BgpServer.neighborMap, and
// the listener's accept looks the remote address up there), so one
// BgpServer cannot hold red's CE 10.1.0.2 and blue's CE 10.1.0.2, which
// RFC 4364 and the configuration allow. Its VRF conversion (Path.ToGlobal)
// stamps one label per VRF, outside Peregrine's allocator and per-prefix
// mode, and its import (Path.ToLocal) would run beside the importer that
// already feeds the FIB, two views of one VRF that could disagree. A
// server per VRF isolates by construction: no session of one VRF can hold
// another VRF's routes.
//
// Changes leave as Events on a channel that the forwarding plane owns.
//
// One goroutine (Speaker.run) owns the import and origination state; GoBGP's
// watch callback and API callers hand it work over channels, so none of that
// state is locked.
package bgp
