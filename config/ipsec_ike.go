package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

// IKEPeer keys the tunnel to one remote PE with IKEv2 (RFC 7296) instead of
// static keys. The child SA is transport mode between the two PE addresses
// (see ipsec/ike's package doc); its SAs become the peer's tunnel in the
// FIB, replaced on every rekey.
type IKEPeer struct {
	// Name names the peer in logs, events and show output.
	Name string `config:"name"`
	// LocalAddress defaults to, and must equal, ipsec.local-address (the
	// one address IKE and the dataplane's ESP sockets bind); RemoteAddress
	// is the remote PE's address and tunnel endpoint.
	LocalAddress  netip.Addr `config:"local-address"`
	RemoteAddress netip.Addr `config:"remote-address"`
	// LocalID and RemoteID are IKE identities: an IP address or a DNS
	// name (ID_FQDN). They default to the addresses.
	LocalID  string `config:"local-id"`
	RemoteID string `config:"remote-id"`
	// PSKFile holds the pre-shared key (at least 16 bytes). Like a key
	// file it must not be readable by group or others.
	PSKFile string `config:"psk-file"`
	// PSK is read from PSKFile at load time.
	PSK Secret `config:"-"`
	// Auth is "psk" (the default) or "cert": X.509 certificates (RFC 7427
	// signatures). With cert, Certificate is this PE's PEM certificate
	// (then any intermediates), PrivateKey its PEM key (a secret file, as
	// psk-file), CABundle the PEM CAs the peer's certificate must chain
	// to, RevokedSerials an optional file of revoked serials (one hex
	// serial per line, '#' comments), and remote-id the identity the
	// peer's certificate must name (a SAN, or the subject's CN).
	Auth           string `config:"auth"`
	Certificate    string `config:"certificate"`
	PrivateKey     string `config:"private-key"`
	CABundle       string `config:"ca-bundle"`
	RevokedSerials string `config:"revoked-serials"`
	// Cert is built from those files at load time.
	Cert *ikeparam.CertAuth `config:"-"`
	// Initiate makes this PE start the IKE SA; configure it on one end of
	// each pair (the other answers). Default true.
	Initiate *bool `config:"initiate"`
	// IKEProposals and ESPProposals are strongSwan-style proposal strings
	// in preference order; defaults DefaultIKEProposals and
	// DefaultESPProposals.
	IKEProposals []ikeparam.IKEProposal `config:"ike-proposals"`
	ESPProposals []ikeparam.ESPProposal `config:"esp-proposals"`
	// Protocol is the child SAs' protocol: "esp" (the default) or "ah"
	// (RFC 4302: integrity only), the same explicit choice as a static
	// tunnel's protocol, with the same consequences: the MPLS label
	// stack and the customer's packets cross the core in the clear,
	// `show ipsec sa` says "integrity only", AH is IP protocol 51
	// whatever ipsec.encapsulation says and cannot cross NAT (a child is
	// refused when IKE detects one). The peer must choose ah too: an ESP peer
	// refuses AH proposals and an AH peer ESP ones, never a downgrade.
	Protocol string `config:"protocol"`
	// AHProposals are the AH child proposals (protocol ah), strongSwan's
	// ah_proposals form: integrity algorithms sha256 (HMAC-SHA2-256-128),
	// aes128gmac, aes256gmac (RFC 4543), esn/noesn and DH groups for PFS.
	// Default DefaultAHProposals.
	AHProposals []ikeparam.AHProposal `config:"ah-proposals"`
	// IKELifetime and ChildLifetime: rekey at soft, delete at hard.
	IKELifetime   Lifetime `config:"ike-lifetime"`
	ChildLifetime Lifetime `config:"child-lifetime"`
	// DPDInterval is the silence after which the peer is probed
	// (default 30s).
	DPDInterval time.Duration `config:"dpd-interval"`
	// Resources, 2 to MaxResources, asks for per-resource child SAs
	// (RFC 9611) with this peer: up to this many child SAs with the
	// same selectors, so that the PE pair spreads over that many cores
	// each way (one per CPU is a good value). The initiator creates
	// them if the responder announces support (SA_RESOURCE_INFO); a
	// responder accepts that many. 0 (the default) or 1: one child SA,
	// as with a peer that does not support it (strongSwan 5.9).
	Resources int `config:"resources"`
}

// Lifetime bounds an SA by time and, for child SAs, by bytes. Soft must come
// before hard. Zero hard values take the defaults (IKE 4h, child 1h, no
// byte limit); a zero soft value is 90% of hard.
type Lifetime struct {
	Soft      time.Duration `config:"soft"`
	Hard      time.Duration `config:"hard"`
	SoftBytes uint64        `config:"soft-bytes"`
	HardBytes uint64        `config:"hard-bytes"`
}

// Default proposals: AES-128-GCM first (fast with AES-NI, and what
// strongSwan proposes first), X25519 first; AES-CBC with HMAC-SHA2 last,
// for gateways and desktop IKEv2 clients that propose only that (e.g.
// "aes256-sha384-modp2048" and "aes256-sha256"). A responder takes the
// initiator's first acceptable proposal, so between two Peregrines the
// AEADs win.
var (
	DefaultIKEProposals = []string{
		"aes128gcm16-prf-sha256-curve25519",
		"aes256gcm16-chacha20poly1305-prf-sha256-prf-sha384-curve25519-ecp256-modp2048",
		"aes256-aes128-sha256-sha384-sha512-curve25519-ecp256-modp2048",
	}
	DefaultESPProposals = []string{"aes128gcm16", "aes256gcm16-chacha20poly1305", "aes256-aes128-sha256-sha384-sha512"}
	// DefaultAHProposals prefers HMAC-SHA2-256-128, the AH transform
	// Linux and strongSwan also key by IKE.
	DefaultAHProposals = []string{"sha256-aes128gmac-aes256gmac"}
)

// IsAH reports whether the peer's child SAs are AH rather than ESP.
func (p IKEPeer) IsAH() bool { return p.Protocol == ProtocolAH }

// Default lifetimes and DPD interval for IKE peers.
const (
	DefaultIKEHard   = 4 * time.Hour
	DefaultChildHard = time.Hour
	DefaultDPD       = 30 * time.Second
)

// InitiateOrDefault reports whether this PE initiates (default true).
func (p IKEPeer) InitiateOrDefault() bool { return p.Initiate == nil || *p.Initiate }

// applyIKEDefaults fills in what the file left out.
func (c *Config) applyIKEDefaults() {
	for i := range c.IPsec.IKEPeers {
		c.ikePeerDefaults(&c.IPsec.IKEPeers[i])
	}
	c.applyAttachmentDefaults()
}

// ikePeerDefaults fills in one IKE peer's (or attachment's ike) defaults.
func (c *Config) ikePeerDefaults(p *IKEPeer) {
	if !p.LocalAddress.IsValid() {
		p.LocalAddress = c.IPsec.LocalAddress
	}
	if len(p.IKEProposals) == 0 {
		p.IKEProposals = mustProposals[ikeparam.IKEProposal](DefaultIKEProposals)
	}
	if len(p.ESPProposals) == 0 {
		p.ESPProposals = mustProposals[ikeparam.ESPProposal](DefaultESPProposals)
	}
	if p.IsAH() && len(p.AHProposals) == 0 {
		p.AHProposals = mustProposals[ikeparam.AHProposal](DefaultAHProposals)
	}
	p.IKELifetime.defaults(DefaultIKEHard)
	p.ChildLifetime.defaults(DefaultChildHard)
	if p.DPDInterval == 0 {
		p.DPDInterval = DefaultDPD
	}
}

func (l *Lifetime) defaults(hard time.Duration) {
	if l.Hard == 0 {
		l.Hard = hard
	}
	if l.Soft == 0 {
		l.Soft = l.Hard * 9 / 10
	}
	if l.SoftBytes == 0 && l.HardBytes != 0 {
		l.SoftBytes = l.HardBytes / 10 * 9
	}
}

func mustProposals[T any, P interface {
	*T
	UnmarshalText([]byte) error
}](ss []string) []T {
	out := make([]T, len(ss))
	for i, s := range ss {
		if err := P(&out[i]).UnmarshalText([]byte(s)); err != nil {
			panic(err)
		}
	}
	return out
}

func (c *Config) validateIKE(bad badFunc) {
	s := c.IPsec
	names := map[string]int{}
	remotes := map[netip.Addr]string{}
	for _, t := range s.Tunnels {
		remotes[t.Remote] = "a static tunnel"
	}
	for i, p := range s.IKEPeers {
		path := fmt.Sprintf("ipsec.ike-peers[%d]", i)
		if p.Name == "" {
			bad(path+".name", "", "required: names the peer in logs and show output")
		} else if j, dup := names[p.Name]; dup {
			bad(path+".name", strconv.Quote(p.Name), "already used by ipsec.ike-peers[%d]", j)
		} else {
			names[p.Name] = i
		}
		switch {
		case !s.LocalAddress.IsValid():
			if i == 0 {
				bad("ipsec.local-address", "", "required with ike-peers: this PE's IKE and tunnel endpoint")
			}
		case !p.RemoteAddress.IsValid():
			bad(path+".remote-address", "", "required: the remote PE's address")
		case p.RemoteAddress == p.LocalAddress:
			bad(path+".remote-address", p.RemoteAddress.String(), "is this PE's own address")
		case p.RemoteAddress.Is4() != p.LocalAddress.Is4():
			bad(path+".remote-address", p.RemoteAddress.String(), "is not of the family of local address %s", p.LocalAddress)
		case s.LocalAddress.IsValid() && p.LocalAddress != s.LocalAddress:
			bad(path+".local-address", p.LocalAddress.String(), "differs from ipsec.local-address %s, the dataplane's only tunnel endpoint", s.LocalAddress)
		default:
			if other, dup := remotes[p.RemoteAddress]; dup {
				bad(path+".remote-address", p.RemoteAddress.String(), "already has %s", other)
			}
			remotes[p.RemoteAddress] = path
		}
		validateIKEPeerCommon(bad, path, p)
		c.validateIKEProtocol(bad, path, p)
		if p.Resources < 0 || p.Resources > MaxResources {
			bad(path+".resources", strconv.Itoa(p.Resources), "must be 0..%d child SAs (0 or 1: one)", MaxResources)
		}
	}
	c.validateAttachments(bad, names, remotes)
}

// validateIKEProtocol checks an IKE peer's child protocol: esp or ah,
// and ah-proposals only with ah.
func (c *Config) validateIKEProtocol(bad badFunc, path string, p IKEPeer) {
	switch p.Protocol {
	case "", ProtocolESP:
		if len(p.AHProposals) > 0 {
			bad(path+".ah-proposals", p.AHProposals[0].String(), "needs protocol: ah (the child SAs are ESP)")
		}
	case ProtocolAH:
		if p.Resources > 1 {
			bad(path+".resources", strconv.Itoa(p.Resources), "needs protocol: esp (per-resource child SAs are ESP only)")
		}
	default:
		bad(path+".protocol", strconv.Quote(p.Protocol), "want esp (the default) or ah (integrity only: labels and customer packets in the clear)")
	}
}

// refuseAttachmentAH refuses AH for an IPsec attachment's IKE: AH is a
// choice between PEs, and an attachment's gateway sits behind NAT as
// often as not.
func refuseAttachmentAH(bad badFunc, path string, p IKEPeer) {
	if p.Protocol != "" && p.Protocol != ProtocolESP || len(p.AHProposals) > 0 {
		bad(path+".protocol", strconv.Quote(p.Protocol), "attachments take ESP only; protocol ah is for ipsec.ike-peers between PEs")
	}
}

// MaxResources bounds ipsec.ike-peers[].resources.
const MaxResources = 16

// validateIKEPeerCommon checks what an IKE peer and an attachment's ike
// share: identities, authentication and lifetimes.
func validateIKEPeerCommon(bad badFunc, path string, p IKEPeer) {
	for _, id := range []struct{ key, v string }{{"local-id", p.LocalID}, {"remote-id", p.RemoteID}} {
		if _, err := ParseIKEIdentity(id.v); err != nil {
			bad(path+"."+id.key, strconv.Quote(id.v), "%v", err)
		}
	}
	validateIKEAuth(bad, path, p)
	validateLifetime(bad, path+".ike-lifetime", p.IKELifetime)
	validateLifetime(bad, path+".child-lifetime", p.ChildLifetime)
	if p.IKELifetime.SoftBytes != 0 || p.IKELifetime.HardBytes != 0 {
		bad(path+".ike-lifetime.hard-bytes", strconv.FormatUint(p.IKELifetime.HardBytes, 10), "byte limits apply to child SAs only")
	}
}

func validateLifetime(bad badFunc, path string, l Lifetime) {
	switch {
	case l.Hard < time.Second:
		bad(path+".hard", l.Hard.String(), "must be at least 1s")
	case l.Soft <= 0:
		bad(path+".soft", l.Soft.String(), "must be positive")
	case l.Soft >= l.Hard:
		bad(path+".soft", l.Soft.String(), "must be before hard %s: the SA is rekeyed at soft and deleted at hard", l.Hard)
	}
	if l.HardBytes != 0 && l.SoftBytes >= l.HardBytes {
		bad(path+".soft-bytes", strconv.FormatUint(l.SoftBytes, 10), "must be below hard-bytes %d", l.HardBytes)
	}
	if l.HardBytes == 0 && l.SoftBytes != 0 {
		bad(path+".hard-bytes", "0", "required with soft-bytes %d", l.SoftBytes)
	}
}

// ParseIKEIdentity reads an IKE identity: an IP address (ID_IPV4_ADDR or
// ID_IPV6_ADDR), a DNS name (ID_FQDN) or, for certificate peers, an
// e-mail address (ID_RFC822_ADDR, user@dns.name). Empty means "the
// address" and returns the zero Identity.
func ParseIKEIdentity(s string) (ikeparam.Identity, error) {
	if s == "" {
		return ikeparam.Identity{}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return ikeparam.AddrIdentity(a), nil
	}
	if user, domain, ok := strings.Cut(s, "@"); ok {
		if user == "" || !isDNSName(domain) || strings.ContainsFunc(user, func(r rune) bool { return r <= ' ' || r > '~' || r == '@' }) {
			return ikeparam.Identity{}, fmt.Errorf("want an IP address, a DNS name or user@dns.name")
		}
		return ikeparam.RFC822Identity(s), nil
	}
	if !isDNSName(s) {
		return ikeparam.Identity{}, fmt.Errorf("want an IP address or a DNS name")
	}
	return ikeparam.FQDNIdentity(s), nil
}

func isDNSName(s string) bool {
	for _, r := range s {
		if !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// readPSKs fills each IKE peer's PSK from its psk-file.
func (c *Config) readPSKs(baseDir string) Errors {
	var errs Errors
	for _, r := range c.ikePeerRefs() {
		p := r.peer
		if p.Auth == AuthCert {
			continue
		}
		path := r.path + ".psk-file"
		s, err := readSecretFile(baseDir, p.PSKFile)
		if err != nil {
			errs = append(errs, &FieldError{Path: path, Value: strconv.Quote(p.PSKFile), Reason: err.Error()})
			continue
		}
		if len(s) < 16 {
			errs = append(errs, &FieldError{Path: path, Value: strconv.Quote(p.PSKFile), Reason: fmt.Sprintf("holds %d bytes; a PSK needs at least 16", len(s))})
			continue
		}
		p.PSK = NewSecret(s)
	}
	return errs
}

// ikePeerRef is one IKE peer of the configuration and its field path: an
// entry of ipsec.ike-peers or an attachment's ike.
type ikePeerRef struct {
	path string
	peer *IKEPeer
}

// ikePeerRefs lists every IKE peer whose secrets are read at load time.
func (c *Config) ikePeerRefs() []ikePeerRef {
	var out []ikePeerRef
	for i := range c.IPsec.IKEPeers {
		out = append(out, ikePeerRef{fmt.Sprintf("ipsec.ike-peers[%d]", i), &c.IPsec.IKEPeers[i]})
	}
	for i := range c.VRFs {
		for j := range c.VRFs[i].IPsecAttachments {
			out = append(out, ikePeerRef{fmt.Sprintf("vrfs[%d].ipsec-attachments[%d].ike", i, j), &c.VRFs[i].IPsecAttachments[j].IKE})
		}
	}
	return out
}
