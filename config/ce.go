package config

import (
	"net/netip"
	"time"

	"github.com/peregrine-net/peregrine/bgp/vpn"
)

// CENeighbor is an eBGP session with a customer router (CE) inside one VRF
// (RFC 4364 section 7). Its keys are those of Neighbor that apply to a CE
// session, plus the policy knobs a multi-site customer needs. The same CE
// address may appear in two VRFs: each VRF is its own address space.
type CENeighbor struct {
	Address netip.Addr `config:"address"`
	// Port is the CE's TCP port: 179 unless a lab runs several speakers
	// on one host.
	Port        uint16 `config:"port"`
	ASN         uint32 `config:"asn"`
	Description string `config:"description"`
	// Families lists the customer's unicast families to exchange: ipv4,
	// ipv6. The default is the family of Address: an IPv6 session over an
	// IPv4 CE address needs an IPv6 next hop the CE must agree on.
	Families []string `config:"families"`
	// LocalAddress is this PE's address on the CE's link: where its
	// connection comes from, and, for a passive CE, where the VRF
	// listens for the CE's.
	LocalAddress netip.Addr `config:"local-address"`
	// Passive waits for the CE to connect rather than connecting. It
	// needs LocalAddress and bgp.listen-address (not the wildcard, not
	// LocalAddress): docs/CE.md, "Passive CE sessions".
	Passive   bool          `config:"passive"`
	HoldTime  time.Duration `config:"hold-time"`
	Keepalive time.Duration `config:"keepalive"`
	// PasswordFile names a file holding the TCP MD5 (RFC 2385) password,
	// with the same checks as a global neighbor's.
	PasswordFile string `config:"password-file"`
	// Password is read from PasswordFile at load time.
	Password Secret `config:"-"`

	// ASOverride replaces the CE's AS with the provider's in paths sent to
	// this CE, so that sites of one customer sharing an AS accept each
	// other's routes (RFC 4364 section 7 leaves this to the PE; FRR calls
	// it as-override too).
	ASOverride bool `config:"as-override"`
	// AllowASIn accepts up to this many occurrences of the provider's own
	// AS in paths from this CE (a hub site that re-advertises); 0, the
	// default, rejects any.
	AllowASIn uint8 `config:"allowas-in"`
	// SiteOfOrigin ("ASN:NN" or "IP:NN", the syntax of a route target) is
	// attached as the Site of Origin extended community (RFC 4360 section
	// 5) to routes learned from this CE; a route carrying it is never sent
	// back to a CE of the same site.
	SiteOfOrigin vpn.RT `config:"site-of-origin"`
	// MaxPrefixes bounds the prefixes accepted from this CE; one more and
	// the session is closed with a Cease, "Maximum Number of Prefixes
	// Reached" (RFC 4486 subcode 1). 0, the default, sets no bound.
	MaxPrefixes uint32 `config:"max-prefixes"`
	// MaxPrefixesRestart is how long a session closed for MaxPrefixes
	// stays down before it is tried again; 0 keeps it down until the
	// configuration is reloaded.
	MaxPrefixesRestart time.Duration `config:"max-prefixes-restart"`

	// ImportPrefixes filters the routes this CE sends before they enter
	// the VRF (and so the VPN and the VRF's other CEs); ExportPrefixes
	// filters what this CE is sent: routes the VRF imported, its static
	// and connected prefixes, other CEs' routes and the default route of
	// DefaultOriginate. Rules are tried in order, the first match
	// decides, and a list that matches nothing denies; an absent list
	// accepts everything (PrefixRule).
	ImportPrefixes []PrefixRule `config:"import-prefixes"`
	ExportPrefixes []PrefixRule `config:"export-prefixes"`
	// DefaultOriginate sends this CE a default route (0.0.0.0/0, and ::/0
	// on an ipv6 session) with this PE as next hop, beside the rest of the
	// VRF's routes; export-prefixes applies to it too, so a list that
	// accepts only the default makes the CE's table default only.
	DefaultOriginate bool `config:"default-originate"`
}

// maxAllowASIn is the largest allowas-in: more occurrences of one's own AS
// are a loop, not a hub site (FRR and Junos stop at 10 too).
const maxAllowASIn = 10

// ceFamilies are the families a CE session may carry, by config name.
var ceFamilies = []string{"ipv4", "ipv6"}
