// Package localapi defines the JSON documents peregrined serves on its unix
// socket and the peregrine CLI reads. HTTP/JSON rather than gRPC: any
// operator can `curl --unix-socket` it, and the CLI needs no generated code.
//
//	GET /v1/bgp/neighbors          []Neighbor
//	GET /v1/bgp/{vpnv4|vpnv6}      []VPNPath   (?vrf=NAME: the paths that VRF exports or imports)
//	GET /v1/bgp/vrfs/{name}/neighbors  []CENeighbor  (the VRF's CE sessions)
//	GET /v1/bgp/vrfs/{name}/paths      CERoutes      (?family=ipv4|ipv6; both without)
//	GET /v1/vrfs                   []VRF
//	GET /v1/vrfs/{name}/routes     VRFRoutes
//	GET /v1/mpls                   []LabelEntry
//	GET /v1/ipsec/sa               []SA
//	GET /v1/interfaces             []Interface
//	GET /v1/dataplane              Dataplane
//
// With no dataplane (dataplane.backend none) the last four answer 503.
// No document ever carries a password or key.
package localapi

import (
	"net/netip"
	"time"
)

// DefaultSocket is where peregrined listens unless configured otherwise.
const DefaultSocket = "/run/peregrine/peregrined.sock"

// Neighbor is one BGP session's state.
type Neighbor struct {
	Address     netip.Addr `json:"address"`
	ASN         uint32     `json:"asn"`
	Description string     `json:"description,omitempty"`
	State       string     `json:"state"` // idle, connect, active, opensent, openconfirm, established
	// Reason says what is wrong with the session: while it is not
	// established, why (the last connection error, or that the neighbor is
	// passive and waits); once it is, a problem with what it carries (VPNv4
	// over IPv6 without RFC 8950 negotiated).
	Reason   string        `json:"reason,omitempty"`
	Uptime   time.Duration `json:"uptime,omitempty"`
	Families []Family      `json:"families"`
}

// Family is one negotiated address family's prefix counts.
type Family struct {
	Name     string `json:"name"` // ipv4, ipv6, vpnv4, vpnv6
	Received uint64 `json:"received"`
	Accepted uint64 `json:"accepted"`
	Sent     uint64 `json:"sent"`
}

// VRF summarises one VRF.
type VRF struct {
	Name          string   `json:"name"`
	RD            string   `json:"rd"`
	ImportTargets []string `json:"import-targets"`
	ExportTargets []string `json:"export-targets"`
	Interfaces    []string `json:"interfaces"`
	LabelMode     string   `json:"label-mode"`
	Imported      int      `json:"imported"`
	// RemotePEs are the remote PEs the VRF's routes lead to and how
	// traffic to each leaves; empty without a dataplane.
	RemotePEs []RemotePE `json:"remote-pes,omitempty"`
}

// RemotePE is a remote PE and its protection: "protected" (ESP),
// "integrity-only" (AH: labels and packets readable on the core),
// "unprotected" (plain MPLS, as ipsec.unprotected-peers allows) or "none"
// (no tunnel and not unprotected: its traffic is dropped).
type RemotePE struct {
	Address    netip.Addr `json:"address"`
	Protection string     `json:"protection"`
}

// Route is one route in a VRF: imported from a remote PE (NextHop is that
// PE, Label its VPN label) or originated here (Local true; NextHop is the
// CE it was learned from, unset for static and connected prefixes).
type Route struct {
	Prefix  netip.Prefix `json:"prefix"`
	NextHop netip.Addr   `json:"next-hop,omitzero"`
	Label   uint32       `json:"label"`
	RD      string       `json:"rd"`
	Local   bool         `json:"local,omitempty"`
	// Protection is the NextHop PE's (see RemotePE); empty for local
	// routes and without a dataplane.
	Protection string `json:"protection,omitempty"`
}

// VRFRoutes is a VRF's routing table.
type VRFRoutes struct {
	VRF    string  `json:"vrf"`
	Routes []Route `json:"routes"`
}

// Error is the body of every non-200 answer.
type Error struct {
	Error string `json:"error"`
}

// VPNPath is one path of the VPN RIB.
type VPNPath struct {
	RD       string       `json:"rd"`
	Prefix   netip.Prefix `json:"prefix"`
	NextHop  netip.Addr   `json:"next-hop,omitzero"`
	Label    uint32       `json:"label"`
	RTs      []string     `json:"route-targets"`
	Best     bool         `json:"best"`
	Local    bool         `json:"local,omitempty"`
	Neighbor netip.Addr   `json:"neighbor,omitzero"`
}

// LabelEntry is one local label of the LFIB.
type LabelEntry struct {
	Label  uint32 `json:"label"`
	Action string `json:"action"` // "pop-lookup"
	VRF    string `json:"vrf"`
}

// SA is one IPsec security association of a tunnel. Keys are never part
// of it.
type SA struct {
	Remote    netip.Addr `json:"remote"`
	Direction string     `json:"direction"` // "in" or "out"
	SPI       uint32     `json:"spi"`
	// Protocol is "esp" or "ah". AH SAs are IntegrityOnly: the label
	// stack and the customer's packets cross the core in the clear.
	Protocol      string `json:"protocol"`
	IntegrityOnly bool   `json:"integrity-only,omitempty"`
	// Cipher is the ESP cipher, or the AH integrity transform.
	Cipher       string            `json:"cipher"`
	ESN          bool              `json:"esn"`
	AntiReplay   bool              `json:"anti-replay"`
	ReplayWindow int               `json:"replay-window,omitempty"`
	Packets      uint64            `json:"packets"`
	Bytes        uint64            `json:"bytes"`
	Drops        map[string]uint64 `json:"drops"` // by reason, only those that happened
}

// Interface is a CE-facing interface or a VRF's TUN device.
type Interface struct {
	Name      string         `json:"name"`
	VRF       string         `json:"vrf"`
	Kind      string         `json:"kind"` // "ce", "tun" (userspace), "vrf" or "esp" (kernel backend)
	State     string         `json:"state"`
	MTU       int            `json:"mtu"`
	Addresses []netip.Prefix `json:"addresses"`
	// Counters of the VRF's fast path on its TUN, or of an ESP gateway TUN:
	// out is CE to core.
	Counters *VRFCounters `json:"counters,omitempty"`
}

// VRFCounters are a VRF's fast-path counters.
type VRFCounters struct {
	OutPackets uint64            `json:"out-packets"`
	OutBytes   uint64            `json:"out-bytes"`
	InPackets  uint64            `json:"in-packets"`
	InBytes    uint64            `json:"in-bytes"`
	OutDrops   map[string]uint64 `json:"out-drops"`
	InDrops    map[string]uint64 `json:"in-drops"`
}

// Dataplane is the backend's counters that belong to no VRF, SA or
// attachment.
type Dataplane struct {
	// Core is nil where the backend receives nothing from the core
	// itself: the kernel backend without an ESP gateway, whose kernel
	// counts (`ip -s xfrm`, `ip -s link`).
	Core *CoreCounters `json:"core,omitempty"`
}

// CoreCounters count what arrives from the core before its label names a
// VRF: a core host spraying bad labels or unknown SPIs shows here and in
// no VRF's counters.
type CoreCounters struct {
	// Drops are by reason, only those that happened; unknown-label
	// includes a label stack deeper than expected.
	Drops map[string]uint64 `json:"drops"`
	// UnknownSPI and Truncated are causes of the open-failed drops: no
	// inbound ESP or AH SA has the SPI, or too short to carry one.
	UnknownSPI uint64 `json:"unknown-spi"`
	Truncated  uint64 `json:"truncated"`
	// IKE messages and NAT-keepalives received on UDP port 4500.
	IKE        uint64 `json:"ike"`
	Keepalives uint64 `json:"keepalives"`
	// PlainMPLS counts the MPLS frames the userspace backend received on
	// its core interfaces (from unprotected PEs); the kernel's are its own.
	PlainMPLS uint64 `json:"plain-mpls,omitempty"`
}

// CENeighbor is one CE session of a VRF (vrfs[].neighbors): a Neighbor
// whose families are ipv4 and ipv6, with its VRF and its flaps.
type CENeighbor struct {
	VRF string `json:"vrf"`
	Neighbor
	// Flaps counts the session's falls from Established since its CE was
	// configured; a reload that changes the CE re-creates the session,
	// which counts.
	Flaps uint64 `json:"flaps"`
}

// CEPath is one unicast path of a VRF's CE sessions: learned from a CE
// (Neighbor is that CE) or advertised to one (Neighbor is the receiver).
type CEPath struct {
	Prefix      netip.Prefix `json:"prefix"`
	NextHop     netip.Addr   `json:"next-hop,omitzero"`
	Neighbor    netip.Addr   `json:"neighbor"`
	Origin      string       `json:"origin"`  // i, e or ?
	ASPath      string       `json:"as-path"` // "65101 65102 {65103,65104}"
	MED         *uint32      `json:"med,omitempty"`
	Communities []string     `json:"communities"` // "65101:7", "no-export", large "65101:1:2"
	Best        bool         `json:"best,omitempty"`
}

// CERoutes is what a VRF's CE sessions carry in Family (ipv4, ipv6, or
// both when empty).
type CERoutes struct {
	VRF        string   `json:"vrf"`
	Family     string   `json:"family,omitempty"`
	Learned    []CEPath `json:"learned"`    // by prefix, the best first
	Advertised []CEPath `json:"advertised"` // by CE, then prefix
}

// Attachment is one IPsec attachment (config's vrfs[].ipsec-attachments):
// a site gateway's tunnel into a VRF. Keys are never part of it.
type Attachment struct {
	Name string `json:"name"`
	VRF  string `json:"vrf"`
	Kind string `json:"kind"` // "gateway", "pool", or "host" (one of a pool's)
	// State is "up" (a child SA seals and opens) or "down".
	State string `json:"state"`
	// Gateway is where the gateway's ESP comes from (and goes to),
	// absent while down; Configured is the configured remote address,
	// absent for any.
	Gateway    netip.AddrPort `json:"gateway,omitzero"`
	Configured netip.Addr     `json:"configured-remote,omitzero"`
	UDP        bool           `json:"udp-encap"`
	// SiteTS and LocalTS are the negotiated traffic selectors (the
	// configured site-prefixes while down); SiteTS are routed and
	// exported.
	SiteTS  []netip.Prefix `json:"site-ts"`
	LocalTS []netip.Prefix `json:"local-ts"`
	// OutSPI and InSPI name the SAs (see show ipsec sa); Cipher is theirs.
	OutSPI uint32 `json:"out-spi,omitempty"`
	InSPI  uint32 `json:"in-spi,omitempty"`
	Cipher string `json:"cipher,omitempty"`
	// Counters: in from the site into the VRF, out from the VRF to the
	// site (inner bytes); drops by reason, ts-violation among them.
	InPackets  uint64            `json:"in-packets"`
	InBytes    uint64            `json:"in-bytes"`
	OutPackets uint64            `json:"out-packets"`
	OutBytes   uint64            `json:"out-bytes"`
	Drops      map[string]uint64 `json:"drops"`
	// Pool is a pool's address ranges and Leases how many hosts hold
	// one; a host has its Client identity and Leased address (its only
	// SiteTS).
	Pool   string     `json:"pool,omitempty"`
	Leases int        `json:"leases,omitempty"`
	Client string     `json:"client,omitempty"`
	Leased netip.Addr `json:"leased,omitzero"`
}
