package fib

import (
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// Counterer is an optional Backend ability, found by type assertion, for
// backends that count packets themselves: the userspace fast path, and
// the kernel backend's ESP gateway (the kernel keeps its own counters for
// the rest: `ip -s link`, `ip -s xfrm`). It is kept out of Backend so
// that a backend with nothing to count needs no stub. The local API, the
// metrics and the keying service's byte and sequence limits all read
// counters through it.
type Counterer interface {
	// Stats returns a snapshot of the counters. It is safe to call from
	// any goroutine, concurrently with Apply.
	Stats() Stats
}

// Stats is a snapshot of a backend's counters. Each number is read
// atomically; the snapshot as a whole is not one instant.
type Stats struct {
	// VRFs are the fast path's per-VRF TUN counters. It is nil where the
	// backend forwards VRFs in the kernel, through VRF devices (the kernel
	// backend), and non-nil (perhaps empty) where it has VRF TUNs.
	VRFs map[string]VRFCounters
	// Devices are an ESP gateway's TUN devices, counted as VRFs are: one
	// per remote PE (out: MPLS packets sealed toward it) and the inbound
	// one (in: MPLS packets opened and handed to the kernel).
	Devices map[string]VRFCounters
	SAs     []SACounters
	// Attachments are the IPsec attachments' counters, by name (the
	// userspace backend's).
	Attachments map[string]AttachmentCounters
	// Inbound drops before the label named a VRF.
	Inbound Drops
	// UnknownSPI and Truncated are the esptransport.InboundTable's own drops.
	UnknownSPI, Truncated uint64
	// IKE messages handed to the IKE runner (or dropped without one), and
	// NAT-keepalives ignored, on UDP port 4500.
	IKE, Keepalives uint64
	// PlainIn counts the MPLS frames received on the userspace
	// backend's core interfaces (plain MPLS from unprotected PEs), before
	// their labels are looked at.
	PlainIn uint64
}

// VRFCounters are one VRF's packet counters. Out is CE to core (sealed
// and sent), In is core to CE (opened and written to the TUN); bytes are
// inner IP bytes.
type VRFCounters struct {
	OutPackets, OutBytes uint64
	InPackets, InBytes   uint64
	OutDrops, InDrops    Drops
	// ICMPTooBig counts the ICMP errors sent for TooBig drops (at most
	// one per millisecond per VRF).
	ICMPTooBig uint64
}

// SACounters are one SA's counters, with the tunnel it belongs to. An
// outbound SA is named by Remote and SPI together: two tunnels may send
// under one SPI, since each remote PE picks the SPI it receives on.
type SACounters struct {
	Remote   netip.Addr
	Outbound bool
	SPI      uint32
	// AH, if valid, says the SA is AH with this transform (integrity
	// only); its counters are in esp.Counters' fields of the same names.
	AH ah.Integ `json:",omitempty"`
	esp.Counters
	// Outbound SAs only: LastSeq is the last sequence number sealed, and
	// NeedsRekey is esp.SA.NeedsRekey (the soft limit is passed: an IKE
	// SA should be rekeyed before sealing stops at the hard one).
	LastSeq    uint64
	NeedsRekey bool
}

// Drops counts dropped packets by reason.
type Drops struct {
	NoRoute      uint64 // no route in the VRF (or a local one: a routing loop)
	NoTunnel     uint64 // the remote PE has no tunnel
	NoSA         uint64 // the tunnel has no outbound SA: never sent in clear
	SealError    uint64 // ESP seal failed (sequence numbers exhausted: rekey)
	UnknownLabel uint64 // label not in the LFIB, or more than one label
	TTLExpired   uint64 // label TTL 0
	Malformed    uint64 // not IP, truncated, bad label stack
	OpenFailed   uint64 // ESP open failed: unknown SPI, bad ICV, replay (see SA counters)
	NotMPLS      uint64 // ESP next header other than 137
	TxError      uint64 // writing to the socket or the TUN failed
	TooBig       uint64 // larger than the MTU, DF or IPv6: answered with ICMP
	NoNeighbor   uint64 // plain MPLS to an unprotected PE: the next hop's MAC is not resolved yet
	BadSource    uint64 // plain MPLS from a core: the sender's MAC is no unprotected peer's next hop
}

// Each calls f with every reason's name, as the local API and the
// metrics show it ("no-sa", "too-big"), and its count, in a fixed order.
// It is the one place the names are spelt.
func (d Drops) Each(f func(reason string, n uint64)) {
	f("no-route", d.NoRoute)
	f("no-tunnel", d.NoTunnel)
	f("no-sa", d.NoSA)
	f("seal-error", d.SealError)
	f("unknown-label", d.UnknownLabel)
	f("ttl-expired", d.TTLExpired)
	f("malformed", d.Malformed)
	f("open-failed", d.OpenFailed)
	f("not-mpls", d.NotMPLS)
	f("tx-error", d.TxError)
	f("too-big", d.TooBig)
	f("no-neighbor", d.NoNeighbor)
	f("bad-source", d.BadSource)
}

// AttachmentCounters are one IPsec attachment's counters. In is from the
// site's gateway into the VRF, Out from the VRF to the site; bytes are
// inner IP bytes.
type AttachmentCounters struct {
	InPackets, InBytes   uint64
	OutPackets, OutBytes uint64
	// TSViolation counts opened packets whose inner source or destination
	// lies outside the SA's traffic selectors (RFC 4301 section 5.2),
	// and VRF packets to the site from outside our selectors: dropped.
	TSViolation uint64
	// OpenFailed counts packets under the attachment's SPIs that did not
	// open (authentication, replay; see the SA counters); NotIP those
	// whose next header was not IPv4 or IPv6 (4, 41) or whose inner
	// packet was malformed; TTLExpired those that would leave the TUN
	// with no TTL left; NoSA those the VRF routed to the site while it
	// had no outbound SA.
	OpenFailed, NotIP, TTLExpired, NoSA uint64
}
