package fib

import (
	"net/netip"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// The reconciler's inputs. They are plain values so that package fib
// does not import bgp (which pulls GoBGP into the fast path's build): the
// daemon translates config.Config, bgp.Event and the interface watcher's
// reports into these.

// Config is the part of the router configuration the FIB needs. The
// daemon builds it from config.Config (and, for tunnels, from what IKE or
// static SA files provide) and hands the whole of it to SetConfig on
// start and on every reload.
type Config struct {
	// LocalAddress is this PE's tunnel endpoint.
	LocalAddress netip.Addr
	VRFs         []VRFConfig
	Tunnels      []Tunnel
	// Attachments are the IPsec attachments with SAs (from IKE).
	Attachments []Attachment
	// UnprotectedPeers and MPLSInterfaces become the State's (see
	// State.IsUnprotected).
	UnprotectedPeers []netip.Prefix
	MPLSInterfaces   []string
	// TransportLabels become the State's.
	TransportLabels map[netip.Addr]mpls.Label
	// LocalTransportLabels become the State's.
	LocalTransportLabels []mpls.Label
}

// VRFConfig is one VRF's configured part: its CE-facing interfaces and
// static routes. Its BGP settings (RD, route targets, label mode) are
// bgp's business; their results arrive as RouteUpdate and LabelUpdate.
type VRFConfig struct {
	Name         string
	Interfaces   []string
	StaticRoutes []StaticRoute
}

// StaticRoute is a configured customer prefix, as in the YAML: a prefix
// and an optional next hop, never an interface. The reconciler installs
// it as follows:
//
//   - With a next hop inside one of the VRF's connected prefixes: via the
//     next hop, out of that prefix's interface (the longest match wins).
//     It follows the connected prefixes: when the address goes away, so
//     does the interface in the route.
//   - With a next hop outside every connected prefix (not known yet, or
//     a CE reached some other way): via the next hop alone, for the
//     backend's own resolution in the VRF's table. Next hops are never
//     resolved through BGP routes (no recursion).
//   - With no next hop: not installed. The config documents such a
//     prefix as "somewhere behind this PE", exported for BGP only (an
//     aggregate of more specific routes, say); inventing an interface for
//     it would send traffic somewhere the operator never said. Lookups
//     for it find the more specific routes or the VRF's unreachable
//     default.
//
// A connected prefix beats a static route for the same prefix, and both
// beat a route a CE announced (CERoute), which beats a BGP route imported
// from the VPN (administrative distance 0, 1, 20, 200): the loser is kept
// and comes back if the winner goes.
type StaticRoute struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
}

// Connected is one connected prefix of a VRF's interface, as the
// interface watcher sees it (`ip addr`: 10.1.255.1/24 on ce1 gives
// 10.1.255.0/24 on ce1).
//
// Interface may be empty when the watcher does not say which interface
// the prefix is on; in a VRF with exactly one interface the prefix is
// then taken to be on it, and otherwise it resolves static next hops to
// no interface and is not installed as a route.
type Connected struct {
	Interface string
	Prefix    netip.Prefix
}

// RouteUpdate is a BGP-imported route to a remote PE (bgp.RouteAdd and
// bgp.RouteDel): install or replace VRF's route to Prefix, or withdraw it.
type RouteUpdate struct {
	VRF    string
	Prefix netip.Prefix
	// Remote is the egress PE (the BGP next hop).
	Remote netip.Addr
	// Labels is the stack to push, outermost first: for an L3VPN route,
	// just the VPN label.
	Labels []mpls.Label
	RD     vpn.RD
	// Withdraw removes the route; Remote, Labels and RD are ignored.
	Withdraw bool
}

// CERoute is a route a CE announced over its eBGP session in VRF
// (bgp.CERouteAdd and bgp.CERouteDel): install or replace VRF's route to
// Prefix via NextHop, the CE's address, or withdraw it.
//
// It is resolved as a static route with a next hop is, on the VRF's
// interface whose connected prefix holds NextHop (the longest match), and
// follows the connected prefixes. Unlike a static route, one whose next
// hop is on no connected prefix is not installed: the CE is a BGP
// neighbor, not an operator's word, and a route via an address the VRF
// cannot reach on a link would be resolved by the backend through
// whatever the VRF's table holds. It is kept, listed in VRF.Unresolved
// and logged, and installed once a connected prefix holds its next hop.
type CERoute struct {
	VRF     string
	Prefix  netip.Prefix
	NextHop netip.Addr
	// Withdraw removes the route; NextHop is ignored.
	Withdraw bool
}

// LabelUpdate binds or releases a local label (bgp.LabelAdd and
// bgp.LabelDel).
//
// With no Prefix the label is per-VRF: pop it and look the packet up in
// VRF's table (PopLookup). With a Prefix it is per-prefix: pop it and
// forward to the prefix's local route, the interface and next hop its
// connected, static or CE route resolves to (PopForward), with no lookup. A
// per-prefix label whose prefix has no installed local route (a static
// with no next hop, say) falls back to PopLookup in the VRF, so the packet
// meets the VRF table's verdict rather than a guess.
type LabelUpdate struct {
	Label  mpls.Label
	VRF    string
	Prefix netip.Prefix
	// Release unbinds Label; VRF and Prefix are ignored.
	Release bool
}
