package bgp

import (
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peregrine-net/peregrine/bgp/vpn"
)

// CENeighbor is an eBGP session with a customer router inside one VRF
// (vrfs[i].neighbors[j]). Its address is unique within its VRF only.
type CENeighbor struct {
	Address     netip.Addr
	Port        uint16 // 0 is GoBGP's default, 179
	ASN         uint32
	Description string
	// Families are "ipv4" and "ipv6": the customer's unicast routes.
	Families     []string
	LocalAddress netip.Addr
	Passive      bool
	HoldTime     time.Duration
	Keepalive    time.Duration
	Password     Password // TCP MD5 (RFC 2385); unset for none

	// ASOverride replaces the CE's AS with ours in paths sent to it.
	ASOverride bool
	// AllowASIn accepts up to this many of our own AS in paths from it.
	AllowASIn uint8
	// SiteOfOrigin, when valid, is attached (as the SoO extended
	// community, RFC 4360 section 5) to routes learned from this CE, and
	// routes carrying it are not sent back to CEs of the same site.
	SiteOfOrigin vpn.RT
	// MaxPrefixes, when not 0, closes the session with Cease subcode 1
	// (RFC 4486) on one prefix more; MaxPrefixesRestart, when not 0, is
	// how long it then stays down.
	MaxPrefixes        uint32
	MaxPrefixesRestart time.Duration

	// ImportPrefixes and ExportPrefixes filter what this CE sends and is
	// sent (cepolicy.go); nil accepts everything, an empty list nothing.
	ImportPrefixes []PrefixRule
	ExportPrefixes []PrefixRule
	// DefaultOriginate sends this CE a default route with next-hop self
	// (cedefault.go).
	DefaultOriginate bool
}

// ceConnectRetry is how often a CE session that is down is tried again:
// the global neighbors' default, not GoBGP's 120 s, since a site without
// its session is a site cut off.
const ceConnectRetry = 5 * time.Second

// cePeer builds GoBGP's peer definition for a CE session bound to the
// interface or VRF device bind (see ceBinding).
//
// The protocol knobs are GoBGP's own, per peer: as-override is
// ReplacePeerAsn (GoBGP's export path replaces every occurrence of the
// CE's AS with ours, then prepends ours as for any eBGP peer: a path
// 65101 from another site reaches the CE as 65000 65000), allowas-in is
// AllowOwnAsn (checked in GoBGP's loop detection), and max-prefixes is a
// PrefixLimit per family, which sends Cease subcode 1 (RFC 4486) when
// exceeded. GoBGP counts the limit per family; a CE with both families
// gets the limit on each, which is how FRR counts it too (per AFI).
// The session is bound (SO_BINDTODEVICE), so that its TCP connection
// leaves by the CE's link, not by the core's routes.
func cePeer(n CENeighbor, bind string) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: n.Address.String(),
			PeerAsn:         n.ASN,
			Description:     n.Description,
			AuthPassword:    n.Password.Reveal(),
			AllowOwnAsn:     uint32(n.AllowASIn),
			ReplacePeerAsn:  n.ASOverride,
			// GoBGP drops a local path whose AS path holds the peer's AS
			// before ReplacePeerAsn could rewrite it (server.go
			// filterpath), except in a session's initial table: without
			// this, as-override worked for routes known at session start
			// and silently failed for later ones and for withdrawals.
			AllowAspathLoopLocal: n.ASOverride,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      seconds(ceConnectRetry),
			HoldTime:          seconds(n.HoldTime),
			KeepaliveInterval: seconds(n.Keepalive),
		}},
		Transport: &api.Transport{PassiveMode: n.Passive, RemotePort: uint32(n.Port), BindInterface: bind},
	}
	if n.LocalAddress.IsValid() {
		p.Transport.LocalAddress = n.LocalAddress.String()
	}
	for _, f := range n.Families {
		c := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: families[f], Enabled: true}}
		if n.MaxPrefixes > 0 {
			c.PrefixLimits = &api.PrefixLimit{Family: families[f], MaxPrefixes: n.MaxPrefixes}
		}
		p.AfiSafis = append(p.AfiSafis, c)
	}
	return p
}

// CheckRunnable reports what in cfg Start and a reload would refuse
// (passive CE sessions that could not be accepted safely,
// ErrCEPassiveUnsafe), so that `peregrined -check` refuses it too.
func CheckRunnable(cfg *Config) error { return cePassiveRunnable(cfg) }
