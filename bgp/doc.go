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
//     (graceful.go, gracefulstop.go), holding a restarting neighbor's
//     routes where GoBGP drops them before its restart time ends
//     (grhold.go);
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
// section 7). The CE server holds, as its own paths, the VRF's static and
// connected prefixes, the routes it imports (ceexport.go) and the default
// of default-originate (cedefault.go), so that GoBGP's eBGP export
// prepends the provider AS and sets next-hop self; they rank below a CE's
// own route to the same prefix, which is therefore not echoed back to
// that CE. as-override, allowas-in and max-prefixes are GoBGP's per-peer
// knobs (cePeer); max-prefixes-restart (cemaxprefix.go) is this
// package's. import-prefixes, export-prefixes, the site of origin and
// which CEs get the originated default are GoBGP policy on the CE server
// (cepolicy.go), the one place that also governs routes GoBGP passes from
// one CE to another: a route from a CE with site of origin X reaches no
// CE of X, on this PE or behind another.
//
// A CE's best paths also go to the forwarding plane as CERouteAdd and
// CERouteDel events (cefib.go), the CE's address as next hop, withdrawn
// when the CE withdraws, its session goes down or a reload removes the
// neighbor or the VRF; the FIB resolves them on the VRF's interface and
// ranks them below connected and static routes and above imported ones.
// Each CE session is bound to where its TCP connection must go
// (cebind.go): the VRF's device with the kernel backend (VRF.Device),
// else the VRF's interface whose connected prefix holds the CE, as
// SetConnected reports them; a CE on no connected prefix is not started,
// and CEReason says so, rather than connecting through the core.
//
// A passive CE (the CE connects) is accepted by a listener of its VRF's
// CE server on the PE's address on the CE's link (local-address), bound
// to the CE's interface or the VRF's device, so that only connections
// that came in by that link reach it, and GoBGP takes only configured
// CE addresses from it. Passive CEs need the core on a specific address
// (bgp.listen-address), which Linux requires for such a listener and
// which keeps the core's listener off the CE-facing addresses; a change
// of a VRF's listener restarts that VRF's CE server alone (cepassive.go
// says what was measured and what a restart resets). docs/CE.md is the
// operator's view of the keys.
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
// What a VRF's CE sessions are doing is read with CENeighbors,
// AllCENeighbors (cestatus.go) and CERoutes (cerib.go), on the owner
// goroutine, which alone may stop a CE server; they hand out no GoBGP
// type and no password. Each CE server has a neighborDiag of its own for
// the reason a session is down, and counts each session's falls from
// Established from its peer watch (cewatch.go).
//
// Changes leave as Events on a channel that the forwarding plane owns.
//
// One goroutine (Speaker.run) owns the import and origination state; GoBGP's
// watch callback and API callers hand it work over channels, so none of that
// state is locked.
package bgp
