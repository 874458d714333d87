package bgp

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// Config is what the speaker runs from: the router's identity, where it
// listens, its neighbors and its VRFs. The daemon translates it from the
// YAML configuration in one place (cmd/peregrined, bgpConfig), as it does
// fib.Config and ike.Config; validation happened there, so Start and
// Reload take it as it is. Field docs name the YAML key each comes from,
// which is also what a reload refused for needing a restart names.
type Config struct {
	RouterID netip.Addr // router.id
	ASN      uint32     // router.asn
	// Labels is the range VRF and per-prefix labels are allocated from
	// (mpls.label-min, mpls.label-max).
	Labels mpls.Range
	// LabelHoldDown (mpls.label-hold-down) is how long a released label
	// stays out of reach of every other VRF and prefix (mpls.Allocator).
	LabelHoldDown time.Duration
	// StateDir (state.directory) keeps the labels across restarts
	// (mpls/labelstore); "" keeps them in memory only.
	StateDir string
	// ListenAddress (bgp.listen-address) unset listens on both families;
	// see listenAddresses. ListenPort (bgp.listen-port) 0 listens nowhere.
	ListenAddress netip.Addr
	ListenPort    uint16
	// API (bgp.api) serves GoBGP's gRPC API behind the guard (apiguard.go)
	// when valid; APIWrite (bgp.api-write) lets its clients change the
	// speaker. APIInsecureRemote (bgp.api-insecure-remote) was checked at
	// load time; the speaker only refuses to change it on reload.
	API               netip.AddrPort
	APIWrite          bool
	APIInsecureRemote bool
	Neighbors         []Neighbor // bgp.neighbors
	VRFs              []VRF      // vrfs
}

// Neighbor is one BGP session (bgp.neighbors[i]).
type Neighbor struct {
	Address     netip.Addr
	Port        uint16 // 0 is GoBGP's default, 179
	ASN         uint32
	Description string
	// Families are "ipv4", "ipv6", "vpnv4" and "vpnv6", each negotiated
	// explicitly.
	Families             []string
	LocalAddress         netip.Addr
	RouteReflectorClient bool
	Passive              bool
	HoldTime             time.Duration
	Keepalive            time.Duration
	ConnectRetry         time.Duration
	Password             Password // TCP MD5 (RFC 2385); unset for none
	GracefulRestart      GracefulRestart
}

// VRF is one customer's routing table as BGP sees it (vrfs[i]).
type VRF struct {
	Name          string
	RD            vpn.RD
	ImportTargets []vpn.RT
	ExportTargets []vpn.RT
	// Interfaces are the VRF's CE-facing interfaces. The speaker does not
	// watch them: their connected prefixes arrive through SetConnected.
	// They are here so that the running VRFs (Speaker.Config) can be shown
	// whole.
	Interfaces   []string
	StaticRoutes []netip.Prefix // exported whatever their next hop
	LabelMode    string         // "per-vrf" or "per-prefix"
	// Device is the VRF's kernel device (the kernel backend's VRF), which
	// its CE sessions are bound to; "" (the userspace backend) binds each
	// to the interface whose connected prefix holds the CE (cebind.go).
	// The daemon sets it, as it knows the backend; the YAML has no key.
	Device string
	// Neighbors are the VRF's CE sessions (vrfs[i].neighbors); see
	// CENeighbor and, for how they run, the package doc.
	Neighbors []CENeighbor
}

// restartOnly refuses a reload that changes what GoBGP cannot change while
// running, naming the configuration's field.
func restartOnly(old, cfg *Config) error {
	switch {
	case old.RouterID != cfg.RouterID || old.ASN != cfg.ASN:
		return fmt.Errorf("router: changing router.id or router.asn needs a restart")
	case old.Labels != cfg.Labels || old.LabelHoldDown != cfg.LabelHoldDown:
		return fmt.Errorf("mpls: changing the label range or label-hold-down needs a restart")
	case old.StateDir != cfg.StateDir:
		return fmt.Errorf("state: changing state.directory needs a restart")
	case old.ListenAddress != cfg.ListenAddress || old.ListenPort != cfg.ListenPort:
		return fmt.Errorf("bgp: changing listen-address or listen-port needs a restart")
	case old.API != cfg.API || old.APIWrite != cfg.APIWrite || old.APIInsecureRemote != cfg.APIInsecureRemote:
		return fmt.Errorf("bgp: changing api, api-write or api-insecure-remote needs a restart")
	}
	return nil
}

// Password is a neighbor's TCP MD5 password. Every way of printing it
// prints "<redacted>" (or "" when unset): every fmt verb, slog, JSON and
// text. It sits behind a pointer so that fmt, printing a struct holding one
// in an unexported field, shows an address rather than the characters.
// Reveal is the one way out, for GoBGP.
type Password struct{ p *string }

// NewPassword wraps s; "" is no password.
func NewPassword(s string) Password {
	if s == "" {
		return Password{}
	}
	return Password{&s}
}

// Reveal returns the password itself.
func (p Password) Reveal() string {
	if p.p == nil {
		return ""
	}
	return *p.p
}

func (p Password) String() string {
	if p.p == nil {
		return ""
	}
	return "<redacted>"
}

// GoString keeps %#v from printing the password.
func (p Password) GoString() string { return "bgp.Password{" + strconv.Quote(p.String()) + "}" }

// Format implements fmt.Formatter, so that no verb (%d, %x, %q...) reaches
// the value.
func (p Password) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, p.GoString())
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(p.String()))
	default:
		_, _ = io.WriteString(f, p.String())
	}
}

// LogValue implements slog.LogValuer.
func (p Password) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalText implements encoding.TextMarshaler, for JSON.
func (p Password) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
