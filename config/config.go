// Package config is Peregrine's configuration: the YAML schema, typed values
// (netip addresses, labels), defaults, and validation whose every error names
// the field's path and the bad value.
//
// Loading is strict. An unknown key is an error, not a warning: a misspelt
// "import-targets" that is silently ignored leaks one customer's routes into
// another's VRF. A configuration that fails to load never replaces the
// running one; the daemon keeps what it has and reports the errors.
package config

import (
	"net/netip"
	"time"

	"github.com/peregrine-net/peregrine/bgp/vpn"
)

// Config is the whole router configuration. The zero value is not valid; use
// Load or Parse, which apply Defaults first.
type Config struct {
	Router    Router    `config:"router"`
	Log       Log       `config:"log"`
	MPLS      MPLS      `config:"mpls"`
	BGP       BGP       `config:"bgp"`
	VRFs      []VRF     `config:"vrfs"`
	IPsec     IPsec     `config:"ipsec"`
	Dataplane Dataplane `config:"dataplane"`
	Control   Control   `config:"control"`
	Metrics   Metrics   `config:"metrics"`
	State     State     `config:"state"`
}

// State is where the daemon keeps what must survive a restart.
type State struct {
	// Directory holds the persisted sequence numbers of the manually keyed
	// outbound SAs (ipsec/seqstore), so that a restarted PE never seals
	// with a nonce it used before, and the VPN labels (mpls/labelstore),
	// so that a restarted PE gives every VRF and prefix its old label. It must persist across restarts and
	// belong to one daemon: a container needs a volume here, and a lab
	// running several daemons gives each its own (peregrined -state-dir).
	// Losing it is like saying every manual key is new: rotate them.
	// Changing it needs a restart.
	Directory string `config:"directory"`
}

// Metrics is the Prometheus endpoint.
type Metrics struct {
	// Listen is the host:port that serves /metrics; empty (the default)
	// serves none. Metrics carry no secrets, but they do describe the
	// network: prefer a loopback or management address.
	Listen string `config:"listen"`
}

// Dataplane picks how routes become forwarding.
type Dataplane struct {
	// Backend is "auto" (kernel where the kernel has MPLS forwarding and
	// VRF devices, else userspace; the log says which), "kernel" (VRF
	// devices and kernel MPLS; with IPsec configured, ESP between PEs runs
	// in the kernel where it can, see KernelESP, else in a userspace
	// gateway), "userspace" (TUN devices and policy
	// routing, any Linux kernel), or "none" (control plane only: a route
	// reflector, or a test).
	Backend string `config:"backend"`
	// MTU of the VRF TUN devices in the userspace backend; 0 picks a
	// default that leaves room for labels and ESP within a 1500-byte core.
	MTU int `config:"mtu"`
	// MPLSInterfaces are the core interfaces labelled packets are sent
	// and accepted on (plain MPLS to ipsec.unprotected-peers). Labelled
	// packets arriving on any other interface are dropped: in the kernel
	// backend net.mpls.conf.IF.input is 1 on these and 0 elsewhere; the
	// userspace backend opens its MPLS packet sockets on these alone.
	// Empty keeps the kernel backend's older rule (input on every
	// interface that is not a CE's, or on the ESP gateway's alone).
	MPLSInterfaces []string `config:"mpls-interfaces"`
	// TransportLabels are static transport labels, one per unprotected
	// remote PE whose core has P routers that switch labels (no LDP or
	// RSVP here): pushed above the VPN label toward that PE. Without one
	// the VPN label goes out on top (implicit null: the PE is directly
	// connected, or the core switches VPN labels itself).
	TransportLabels []TransportLabel `config:"transport-labels"`
	// LocalTransportLabels are labels this PE pops as its own transport
	// label: a remote PE (or a P router that does not pop) may push one
	// above this PE's VPN label on a core interface, and the VPN label
	// beneath is then looked up as if it had arrived on top. For a far
	// PE that forwards to an iBGP next hop only through a labelled route
	// (FRR 8.4 without LDP: a staticd route with a label, which takes
	// 16 and up only) while directly connected to this one. Each label
	// is 16..1048575 and outside mpls.label-min..label-max (the VPN
	// labels), and needs dataplane.mpls-interfaces. The userspace
	// backend pops one such label per packet, on frames from the core
	// only; the kernel backend's LFIB pops them wherever MPLS input is
	// on (one per pass through lo).
	LocalTransportLabels []uint32 `config:"local-transport-labels"`
	// KernelESP is "auto" (the default: the kernel backend seals the
	// tunnels it can in the kernel, XFRM over mplsip tunnels, and the
	// userspace ESP gateway carries the rest; the log says which path
	// each remote PE takes) or "off" (the gateway carries every tunnel).
	// The userspace backend ignores it.
	KernelESP string `config:"kernel-esp"`
}

// TransportLabel is the label the core switches toward one remote PE.
type TransportLabel struct {
	Remote netip.Addr `config:"remote"`
	Label  uint32     `config:"label"`
}

// Control is the daemon's local API, which the peregrine CLI uses.
type Control struct {
	// Socket is the unix socket path; HTTP/JSON is served on it. Only
	// local users with access to the file can reach it, which is the
	// access control: it is created with mode 0660, owned by the daemon's
	// user and SocketGroup.
	Socket string `config:"socket"`
	// SocketGroup is the group (a name or a numeric gid) whose members may
	// use the socket; empty leaves the daemon's own group. It must exist.
	SocketGroup string `config:"socket-group"`
	// SocketGID is SocketGroup resolved at load time; -1 without one.
	SocketGID int `config:"-"`
}

// Router identifies this PE.
type Router struct {
	// ID is the BGP router identifier, an IPv4 address (RFC 6286 allows any
	// 32-bit value, but operators write and read it as an address).
	ID netip.Addr `config:"id"`
	// ASN is the local autonomous system number, 1..4294967295 (RFC 6793).
	ASN uint32 `config:"asn"`
}

// Log sets how the daemon logs.
type Log struct {
	Level  string `config:"level"`  // debug, info, warn or error
	Format string `config:"format"` // text or json
}

// MPLS sets the label space this PE allocates from and how it treats TTL.
type MPLS struct {
	// LabelMin and LabelMax bound the labels this PE hands out for its VRFs
	// and prefixes. Labels 0-15 are reserved (RFC 3032, RFC 7274) and may
	// not be allocated.
	LabelMin uint32 `config:"label-min"`
	LabelMax uint32 `config:"label-max"`
	// LabelHoldDown is how long a released label (a VRF or prefix gone)
	// is kept from every other VRF and prefix, across restarts too:
	// remote PEs may still send traffic under it, for as long as they
	// keep this PE's routes through a graceful restart. It must cover
	// each neighbor's graceful-restart restart-time plus stale-time;
	// default 480s (120s + 360s).
	LabelHoldDown time.Duration `config:"label-hold-down"`
	// TTLMode is "uniform" or "pipe" (RFC 3443).
	TTLMode string `config:"ttl-mode"`
}

// BGP configures the embedded BGP speaker.
type BGP struct {
	// ListenAddress and ListenPort are where the speaker accepts sessions.
	// Left unset (the default), the speaker listens on every address of
	// both families, one socket for IPv4 and one for IPv6, so that an
	// IPv6-only core works as an IPv4 one does. A set address listens on
	// that address's family only (an IPv6 address, "::" included, takes
	// no IPv4 connections), so it must be of every neighbor's family.
	// Leave the port at 179 unless a lab runs several speakers in one
	// namespace.
	ListenAddress netip.Addr `config:"listen-address"`
	ListenPort    uint16     `config:"listen-port"`
	// API is the address of GoBGP's gRPC API, so the stock gobgp CLI can
	// inspect the daemon. Empty (the default) serves none: the API has no
	// authentication, so anyone who reaches it is trusted with what it
	// allows. It is read-only unless APIWrite is set, never shows a
	// neighbor's password, and must be a loopback address unless
	// APIInsecureRemote is set. A port already in use fails the start.
	API netip.AddrPort `config:"api"`
	// APIWrite lets API clients change the speaker (AddPath, DeletePeer,
	// EnableMrt...): any local user who can reach the port could then
	// inject paths into any VRF or make the daemon write any file. Off by
	// default; for labs and benchmarks that drive the speaker.
	APIWrite bool `config:"api-write"`
	// APIInsecureRemote allows a non-loopback API address, which exposes
	// the unauthenticated API to the network.
	APIInsecureRemote bool       `config:"api-insecure-remote"`
	Neighbors         []Neighbor `config:"neighbors"`
}

// Neighbor is one BGP session.
type Neighbor struct {
	Address netip.Addr `config:"address"`
	// Port is the neighbor's TCP port: 179 unless a lab runs several
	// speakers on one host.
	Port        uint16 `config:"port"`
	ASN         uint32 `config:"asn"`
	Description string `config:"description"`
	// Families lists the address families to negotiate: ipv4, ipv6, vpnv4,
	// vpnv6. Without them a session would carry IPv4 unicast only, which is
	// never what a PE wants, so the default is [vpnv4, vpnv6].
	Families             []string      `config:"families"`
	LocalAddress         netip.Addr    `config:"local-address"`
	RouteReflectorClient bool          `config:"route-reflector-client"`
	Passive              bool          `config:"passive"`
	HoldTime             time.Duration `config:"hold-time"`
	Keepalive            time.Duration `config:"keepalive"`
	ConnectRetry         time.Duration `config:"connect-retry"`
	// GracefulRestart (RFC 4724): on by default with VPN families.
	GracefulRestart GracefulRestart `config:"graceful-restart"`
	// PasswordFile names a file holding the TCP MD5 (RFC 2385) password;
	// PasswordEnv names an environment variable holding it. The password
	// itself never appears in the configuration file, logs or show output.
	PasswordFile string `config:"password-file"`
	PasswordEnv  string `config:"password-env"`
	// Password is read from PasswordFile or PasswordEnv at load time.
	Password Secret `config:"-"`
}

// VRF is one customer's routing table on this PE (RFC 4364).
type VRF struct {
	Name          string   `config:"name"`
	RD            vpn.RD   `config:"rd"`
	ImportTargets []vpn.RT `config:"import-targets"`
	ExportTargets []vpn.RT `config:"export-targets"`
	// Interfaces are the CE-facing interfaces bound to this VRF; their
	// connected prefixes are exported.
	Interfaces   []string      `config:"interfaces"`
	StaticRoutes []StaticRoute `config:"static-routes"`
	// LabelMode is "per-vrf" (one label for the whole VRF, the default:
	// fewest labels, one lookup at the egress PE) or "per-prefix".
	LabelMode string `config:"label-mode"`
	// Neighbors are the BGP sessions with this customer's routers (CEs),
	// which live in this VRF: what they announce enters the VRF and what
	// the VRF holds is sent to them. See CENeighbor.
	Neighbors []CENeighbor `config:"neighbors"`
	// IPsecAttachments are customer sites that reach this VRF through
	// an IPsec tunnel from their own gateway rather than over a CE
	// interface; see IPsecAttachment.
	IPsecAttachments []IPsecAttachment `config:"ipsec-attachments"`
}

// StaticRoute is a customer prefix reached through a CE. With no next hop
// the prefix is still exported (it is "somewhere behind this PE").
type StaticRoute struct {
	Prefix  netip.Prefix `config:"prefix"`
	NextHop netip.Addr   `config:"next-hop"`
}

// Defaults returns the values a key takes when the file leaves it out.
func Defaults() Config {
	return Config{
		Log:       Log{Level: "info", Format: "text"},
		MPLS:      MPLS{LabelMin: 1000, LabelMax: 99999, TTLMode: "uniform", LabelHoldDown: DefaultLabelHoldDown},
		Control:   Control{Socket: "/run/peregrine/peregrined.sock", SocketGID: -1},
		IPsec:     IPsec{Encapsulation: "udp", ReplayWindow: DefaultReplayWindow},
		State:     State{Directory: "/var/lib/peregrine"},
		Dataplane: Dataplane{Backend: "auto", KernelESP: "auto"},
		BGP: BGP{
			ListenPort: 179,
		},
	}
}
