// Package fib is Peregrine's forwarding information base: the desired
// forwarding state (State), the one reconciler goroutine that owns it, and
// the Backend interface that makes it real.
//
//	config ─┐
//	bgp ────┼─> Reconciler (owns State) ──Apply(State)──> Backend
//	ipsec ──┘                                             ├ userspace (TUN + Go fast path)
//	                                                      ├ kernel (netlink MPLS, VRF devices)
//	                                                      └ fake (records ip-style lines)
//
// Backends are declarative and idempotent, in the manner of Tailscale's
// wgengine/router: Apply takes the whole desired state and converges to
// it, whatever state the OS was in, so any sequence of Applies ending in
// the same State leaves the same OS state.
//
// What a backend can do beyond Apply and Close it says through small
// optional interfaces found by type assertion, as wireguard-go's tun and
// conn do: Counterer (counters.go) for its counters, TunnelCarrier
// (tunnels_ability.go) for whether it carries ESP tunnels, TunnelApplier
// (tunnel_lane.go) for installing a rekey's SAs while an Apply of route
// work runs. Callers (the
// daemon, the local API, the metrics, the keying service) ask through
// them and never assert a concrete backend.
package fib
