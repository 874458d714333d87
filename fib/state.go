package fib

import (
	"net/netip"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/mpls"
)

// State is the whole desired forwarding state of a PE. A State handed to a
// Backend is never modified afterwards (the reconciler builds a new one
// for each change), so backends may keep pointers into it.
type State struct {
	// VRFs by name.
	VRFs map[string]*VRF
	// Labels is the LFIB: what to do with a packet arriving with a local
	// label on top.
	Labels map[mpls.Label]LabelAction
	// Tunnels by remote PE address: how to reach another PE securely.
	Tunnels map[netip.Addr]*Tunnel
	// Attachments by name: customer sites' IPsec tunnels into VRFs.
	Attachments map[string]*Attachment
	// LocalAddress is this PE's tunnel endpoint (the source of outer
	// headers and the address remote PEs send to).
	LocalAddress netip.Addr
	// UnprotectedPeers are the remote PEs (prefixes of their addresses)
	// VRF traffic may reach as plain MPLS; see IsUnprotected.
	UnprotectedPeers []netip.Prefix
	// MPLSInterfaces are the core interfaces labelled packets are sent
	// and accepted on; empty: the backend's default (see each backend).
	MPLSInterfaces []string
	// TransportLabels are static transport labels by remote PE: pushed
	// above a route's labels when it leaves as plain MPLS toward that PE
	// across P routers. A PE without one gets the route's labels alone
	// (implicit null).
	TransportLabels map[netip.Addr]mpls.Label
	// LocalTransportLabels are this PE's own transport labels: arriving
	// as plain MPLS on top of a VPN label, one is popped and the VPN
	// label beneath looked up in the LFIB (a far PE that pushes a label
	// toward a directly connected PE). Never in Labels; shared by
	// every State, never modified.
	LocalTransportLabels []mpls.Label
	// TunnelsVersion counts the configurations Tunnels and Attachments
	// come from (Reconciler.SetConfig): a backend that installed a
	// newer version's tunnels ahead of an Apply (TunnelApplier) keeps
	// them when an Apply brings an older one. 0 in a State built by hand.
	TunnelsVersion uint64
}

// VRF is one customer routing table.
type VRF struct {
	Name string
	// Table is the kernel routing table number the backend uses for this
	// VRF (policy routing or a VRF device's table). Stable across
	// reloads for an unchanged VRF.
	Table uint32
	// Interfaces are the CE-facing interfaces bound to the VRF.
	Interfaces []string
	// Routes by prefix.
	Routes map[netip.Prefix]Route
	// Unresolved are the CE routes (prefix -> the CE's address) not
	// installed because no connected prefix of the VRF holds their next
	// hop (see CERoute). Backends ignore it; show output counts it.
	Unresolved map[netip.Prefix]netip.Addr
}

// Route is one VRF route: either to a CE through a local interface, or to
// a remote PE with a VPN label stack.
type Route struct {
	Prefix netip.Prefix
	// Local routes: Interface is set; NextHop is the CE's address, or
	// invalid for a directly connected prefix.
	Interface string
	NextHop   netip.Addr
	// Remote routes: Remote is the egress PE (the BGP next hop) and Labels
	// the stack to push, outermost first (for an L3VPN route, just the
	// VPN label). RD is where the route came from, for show output.
	Remote netip.Addr
	Labels []mpls.Label
	RD     vpn.RD
	// Attachment routes: the prefix is a site behind the named
	// Attachment (State.Attachments), sealed in tunnel mode to its
	// gateway. Interface, NextHop and Remote are unset.
	Attachment string
}

// IsRemote reports whether the route leads to another PE.
func (r Route) IsRemote() bool { return r.Remote.IsValid() }

// IsLocal reports whether the route leads to a CE on a local interface
// (or a next hop the backend resolves): neither another PE nor an
// attachment.
func (r Route) IsLocal() bool { return !r.IsRemote() && r.Attachment == "" }

// LabelActionKind says what the LFIB does with a label.
type LabelActionKind uint8

const (
	// PopLookup pops the label and looks the inner packet up in VRF
	// (per-VRF label allocation).
	PopLookup LabelActionKind = iota + 1
	// PopForward pops the label and forwards the inner packet to
	// NextHop/Interface without a lookup (per-prefix allocation).
	PopForward
)

// LabelAction is one LFIB entry.
type LabelAction struct {
	Kind      LabelActionKind
	VRF       string
	Interface string     // PopForward
	NextHop   netip.Addr // PopForward; invalid for connected
}

// Tunnel is the protected path to one remote PE: ESP security associations
// for each direction and how the packets travel.
type Tunnel struct {
	Remote netip.Addr
	// UDP selects ESP-in-UDP on port 4500 (RFC 3948); otherwise raw ESP
	// (IP protocol 50).
	UDP bool
	// Out seals traffic to Remote; In opens traffic from it. Either may
	// be nil while keys are missing: traffic that has no SA is dropped
	// and counted, never sent in clear.
	Out, In *SAParams
	// RetiringIn are older inbound SAs still accepted: after an IKE
	// rekey the peer may send on the old SA until it deletes it
	// (make-before-break), so they stay until their delete arrives.
	RetiringIn []*SAParams
	// Resources are more SA pairs of the same tunnel, with the same
	// traffic (RFC 9611 per-resource SAs): Out and In above are resource
	// 0, Resources[i] resource i+1. A backend seals each flow with one
	// outbound SA, chosen by the resource (its TUN queue) the flow
	// arrives on, so the flow stays in order; each outbound SA has its
	// own key and sequence space. Empty: one SA per direction.
	Resources []SAPair
}

// SAPair is one resource's SAs of a Tunnel: Out seals, In opens; either
// may be nil while its keys are missing.
type SAPair struct {
	Out, In *SAParams
}

// SAParams are an SA's keys and parameters. The key is secret: String and
// the backends never print it.
type SAParams struct {
	SPI    uint32
	Cipher esp.Cipher
	// AH, if valid, makes the SA an AH one (RFC 4302: integrity only,
	// the label stack and the customer packet in the clear) with this
	// transform, and Cipher is unused: the tunnel's explicit choice
	// (config ipsec.tunnels[].protocol). Both SAs of a tunnel are ESP or
	// both AH; a backend that cannot carry AH keeps the tunnel closed.
	AH  ah.Integ
	Key []byte // cipher key followed by the 4-byte salt; AH: the transform's key
	ESN bool
	// ReplayWindow and NoAntiReplay are for inbound SAs: the window in
	// packets (0: the ESP engine's default, 1024) and an explicit opt-out
	// of the anti-replay check. A backend applies a change of either with
	// the SA's next key: an inbound SA made again would forget which
	// packets it has seen.
	ReplayWindow int
	NoAntiReplay bool
	// PersistSequence marks a manually keyed outbound SA: the backend
	// reserves its sequence numbers in persistent state before sealing
	// with them, so that after a restart it continues above every number
	// it may have used instead of reusing nonces (package
	// ipsec/seqstore). A backend that cannot keeps the tunnel closed.
	PersistSequence bool
	// ResetSequence, with PersistSequence, starts the SA at 1 when its
	// persisted sequence is lost, instead of keeping the tunnel closed
	// (the configuration's reset-sequence).
	ResetSequence bool
}

func (p *SAParams) String() string {
	if p.IsAH() {
		return "ah " + p.AH.String() + " spi 0x" + hex32(p.SPI) + " (integrity only)"
	}
	return esp.Cipher(p.Cipher).String() + " spi 0x" + hex32(p.SPI)
}

// IsAH reports whether the SA is AH rather than ESP.
func (p *SAParams) IsAH() bool { return p != nil && p.AH.IsValid() }

// Transform names the SA's transform as show output prints it: the ESP
// cipher, or "ah " and the AH integrity transform.
func (p *SAParams) Transform() string {
	if p.IsAH() {
		return "ah " + p.AH.String()
	}
	return p.Cipher.String()
}

func hex32(v uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}
