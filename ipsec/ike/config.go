package ike

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Lifetime bounds an SA. At Soft the engine rekeys; at Hard it deletes.
// Byte limits are counted by the dataplane, which calls Engine.Rekey when
// SoftBytes is reached; the engine only passes them on in ChildSA.
type Lifetime struct {
	Soft, Hard           time.Duration
	SoftBytes, HardBytes uint64
}

// Mode is the child SA's encapsulation mode.
type Mode uint8

// Modes. Transport is Peregrine's PE-to-PE default: the outer header is
// the PE's own (PE address to PE address) and ESP's next header is 137,
// an MPLS label stack (RFC 4023 section 5); no second IP header is needed.
// Tunnel mode is for peers such as strongSwan that tunnel IP subnets.
const (
	Transport Mode = iota
	Tunnel
)

func (m Mode) String() string {
	if m == Tunnel {
		return "tunnel"
	}
	return "transport"
}

// PeerConfig is one remote PE (or other IKEv2 peer).
type PeerConfig struct {
	// Name identifies the peer in events and logs.
	Name string
	// LocalAddr and RemoteAddr are the IKE and ESP endpoints. RemotePort
	// (default 500) and RemoteNATTPort (default 4500) are where the peer
	// listens.
	LocalAddr, RemoteAddr      netip.Addr
	RemotePort, RemoteNATTPort uint16
	// LocalID and RemoteID default to the addresses' identities.
	LocalID, RemoteID Identity
	PSK               PSK
	// Cert, when set, authenticates both ends by certificate (RFC 7427
	// signatures) instead of PSK, which is then unused.
	Cert *CertAuth
	// IKE and ESP proposals; defaults are DefaultIKEProposals and
	// DefaultESPProposals.
	IKE []IKEProposal
	ESP []ESPProposal
	// AH, when set, makes every child SA of this peer AH (RFC 4302:
	// integrity only, the payload in the clear) negotiated with these
	// proposals, an explicit choice: ESP is then neither offered nor
	// accepted, and an ESP peer accepts no AH. AH covers the outer
	// addresses and has no UDP encapsulation, so it cannot cross a NAT:
	// a child is refused when one is detected, and ForceUDPEncap must be
	// off.
	AH []AHProposal
	// IKELifetime.Soft is when the IKE SA is rekeyed, Hard when it is
	// dropped without a rekey; ChildLifetime the same for child SAs.
	IKELifetime, ChildLifetime Lifetime
	// DPDInterval: after this long without a message from the peer, send
	// an empty INFORMATIONAL request (RFC 7296 section 2.4). 0 disables.
	DPDInterval time.Duration
	// Mode and traffic selectors of the child SA. The default selectors
	// are the two PE addresses with any protocol (see the package doc).
	Mode              Mode
	LocalTS, RemoteTS []TrafficSelector
	// ForceUDPEncap puts ESP in UDP (RFC 3948) even without a NAT, by
	// making the peer detect one; it matches config's "encapsulation: udp".
	ForceUDPEncap bool
	// Initiate makes the engine start the IKE SA itself (Engine.Start);
	// otherwise it waits for the peer.
	Initiate bool
	// RemoteAccess, when set, makes this peer a pool of remote-access
	// hosts, each leased an address by configuration payload (see
	// remote_access.go).
	RemoteAccess *RemoteAccess
	// RequestAddress makes us the remote-access host: IKE_AUTH asks the
	// responder for an IPv4 address (CFG_REQUEST), which the child SAs
	// then report as VirtualIP4. LocalTS should be 0.0.0.0/0, which the
	// responder narrows to that address.
	RequestAddress bool
	// Resources, above 1, turns on per-resource child SAs (RFC 9611,
	// resources.go): IKE_AUTH and each extra child carry
	// SA_RESOURCE_INFO, and an initiator whose peer answers with it
	// creates child SAs with the same selectors until there are
	// Resources of them or the peer answers TS_MAX_QUEUE; a responder
	// accepts that many and answers TS_MAX_QUEUE past them. A peer that
	// does not announce it (strongSwan 5.9) keeps one child SA. 0 or 1:
	// off, no notify sent, one child.
	Resources int
}

// Defaults: AES-256-GCM and ChaCha20-Poly1305, SHA-256 PRF, X25519 then
// ECP-256 then MODP-2048; then, for gateways and desktop clients that
// speak nothing else, AES-CBC with HMAC-SHA2. The AEADs come first, so two
// Peregrines never pick CBC; a responder takes what the initiator lists
// first.
var (
	DefaultIKEProposals = []IKEProposal{{
		Encr: []Encr{AES256GCM16, ChaCha20Poly1305, AES128GCM16},
		PRF:  []PRF{PRFHMACSHA256, PRFHMACSHA384, PRFHMACSHA512},
		DH:   []DHGroup{DHCurve25519, DHECP256, DHModp2048},
	}, {
		Encr:  []Encr{AES256CBC, AES128CBC},
		Integ: []Integ{IntegHMACSHA256128, IntegHMACSHA384192, IntegHMACSHA512256},
		PRF:   []PRF{PRFHMACSHA256, PRFHMACSHA384, PRFHMACSHA512},
		DH:    []DHGroup{DHCurve25519, DHECP256, DHModp2048},
	}}
	DefaultESPProposals = []ESPProposal{{
		Encr: []Encr{AES256GCM16, ChaCha20Poly1305, AES128GCM16},
	}, {
		Encr:  []Encr{AES256CBC, AES128CBC},
		Integ: []Integ{IntegHMACSHA256128, IntegHMACSHA384192, IntegHMACSHA512256},
	}}
)

// withDefaults returns a copy of c with defaults filled in.
func (c PeerConfig) withDefaults() PeerConfig {
	if c.RemotePort == 0 {
		c.RemotePort = 500
	}
	if c.RemoteNATTPort == 0 {
		c.RemoteNATTPort = 4500
	}
	if c.LocalID.Type == 0 {
		c.LocalID = AddrIdentity(c.LocalAddr)
	}
	if c.RemoteID.Type == 0 && c.RemoteAddr.IsValid() {
		c.RemoteID = AddrIdentity(c.RemoteAddr)
	}
	if len(c.IKE) == 0 {
		c.IKE = DefaultIKEProposals
	}
	if len(c.ESP) == 0 {
		c.ESP = DefaultESPProposals
	}
	if len(c.LocalTS) == 0 {
		c.LocalTS = []TrafficSelector{TSHost(c.LocalAddr)}
	}
	if len(c.RemoteTS) == 0 && c.RemoteAddr.IsValid() {
		c.RemoteTS = []TrafficSelector{TSHost(c.RemoteAddr)}
	}
	if c.IKELifetime.Hard == 0 {
		c.IKELifetime.Hard = 4 * time.Hour
	}
	if c.IKELifetime.Soft == 0 {
		c.IKELifetime.Soft = c.IKELifetime.Hard * 9 / 10
	}
	if c.ChildLifetime.Hard == 0 {
		c.ChildLifetime.Hard = time.Hour
	}
	if c.ChildLifetime.Soft == 0 {
		c.ChildLifetime.Soft = c.ChildLifetime.Hard * 9 / 10
	}
	return c
}

// ConfigError names the offending field by its path, e.g.
// "peers[pe2].ike[0].encr[1]".
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "ike: config " + e.Field + ": " + e.Reason }

// validate checks a defaulted config.
func (c PeerConfig) validate() error {
	p := "peers[" + c.Name + "]"
	bad := func(f, format string, a ...any) error {
		return &ConfigError{Field: p + f, Reason: fmt.Sprintf(format, a...)}
	}
	switch {
	case c.Name == "":
		return bad(".name", "empty")
	case !c.LocalAddr.IsValid():
		return bad(".local-address", "required")
	case c.RemoteAddr.IsValid() && c.RemoteAddr.Is4() != c.LocalAddr.Is4():
		return bad(".remote-address", "%s is not of the local address's family", c.RemoteAddr)
	case c.Cert == nil && len(c.PSK.Bytes()) < 16:
		return bad(".psk", "shorter than 16 bytes")
	case c.Cert != nil && (len(c.Cert.Chain) == 0 || c.Cert.Key.Signer() == nil || len(c.Cert.CAs) == 0):
		return bad(".certificate", "needs a certificate, its private key and at least one CA")
	case c.Initiate && !c.RemoteAddr.IsValid():
		return bad(".remote-address", "required to initiate")
	case c.RemoteAccess != nil:
		if err := c.RemoteAccess.check(&c); err != nil {
			return bad(".remote-access", "%v", err)
		}
	case c.RemoteID.Type == 0:
		return bad(".remote-id", "required when remote-address is not set")
	case c.IKELifetime.Soft > c.IKELifetime.Hard:
		return bad(".ike-lifetime", "soft %v after hard %v", c.IKELifetime.Soft, c.IKELifetime.Hard)
	case c.ChildLifetime.Soft > c.ChildLifetime.Hard:
		return bad(".child-lifetime", "soft %v after hard %v", c.ChildLifetime.Soft, c.ChildLifetime.Hard)
	}
	for i, pr := range c.IKE {
		if len(pr.Encr) == 0 || len(pr.PRF) == 0 || len(pr.DH) == 0 {
			return bad(fmt.Sprintf(".ike[%d]", i), "needs encr, prf and dh")
		}
		if err := checkCiphers(pr.Encr, pr.Integ); err != nil {
			return bad(fmt.Sprintf(".ike[%d]", i)+err.Field, "%s", err.Reason)
		}
		for j, f := range pr.PRF {
			if f.Hash() == nil {
				return bad(fmt.Sprintf(".ike[%d].prf[%d]", i, j), "unsupported %s", f)
			}
		}
		for j, g := range pr.DH {
			if g != DHCurve25519 && g != DHECP256 && g != DHModp2048 {
				return bad(fmt.Sprintf(".ike[%d].dh[%d]", i, j), "unsupported %s", g)
			}
		}
	}
	for i, pr := range c.ESP {
		if len(pr.Encr) == 0 {
			return bad(fmt.Sprintf(".esp[%d]", i), "needs encr")
		}
		if err := checkCiphers(pr.Encr, pr.Integ); err != nil {
			return bad(fmt.Sprintf(".esp[%d]", i)+err.Field, "%s", err.Reason)
		}
	}
	for i, pr := range c.AH {
		if len(pr.Integ) == 0 {
			return bad(fmt.Sprintf(".ah[%d]", i), "needs integ")
		}
		for j, in := range pr.Integ {
			if !in.ValidAH() {
				return bad(fmt.Sprintf(".ah[%d].integ[%d]", i, j), "unsupported for AH %s", in)
			}
		}
	}
	if len(c.AH) > 0 && (c.ForceUDPEncap || c.RemoteAccess != nil || c.RequestAddress) {
		return bad(".ah", "AH cannot be UDP-encapsulated nor serve remote access")
	}
	for i, ts := range append(append([]TrafficSelector{}, c.LocalTS...), c.RemoteTS...) {
		if !ts.valid() {
			return bad(fmt.Sprintf(".traffic-selectors[%d]", i), "invalid range %s", ts)
		}
	}
	return nil
}

// checkCiphers checks one proposal's encryption and integrity lists: all
// supported, all AEAD without integrity or all AES-CBC with it. The
// error's Field is relative to the proposal.
func checkCiphers(encr []Encr, integ []Integ) *ConfigError {
	for j, e := range encr {
		if !e.Valid() {
			return &ConfigError{Field: fmt.Sprintf(".encr[%d]", j), Reason: "unsupported " + e.String()}
		}
		if e.IsAEAD() != encr[0].IsAEAD() {
			return &ConfigError{Field: fmt.Sprintf(".encr[%d]", j), Reason: fmt.Sprintf("%s and %s in one proposal: AEAD and non-AEAD ciphers need separate proposals", encr[0], e)}
		}
	}
	for j, in := range integ {
		if !in.Valid() {
			return &ConfigError{Field: fmt.Sprintf(".integ[%d]", j), Reason: "unsupported " + in.String()}
		}
	}
	switch {
	case encr[0].IsAEAD() && len(integ) > 0:
		return &ConfigError{Field: ".integ", Reason: "must be empty with the AEAD " + encr[0].String()}
	case !encr[0].IsAEAD() && len(integ) == 0:
		return &ConfigError{Field: ".integ", Reason: "required with " + encr[0].String()}
	}
	return nil
}

// childProto is the protocol of c's child SAs: AH when c.AH is set.
func (c *PeerConfig) childProto() ProtocolID {
	if len(c.AH) > 0 {
		return ProtoAH
	}
	return ProtoESP
}

// childProposals are c's child SA proposals in ESPProposal's shape: the
// ESP ones, or the AH ones without Encr.
func (c *PeerConfig) childProposals() []ESPProposal {
	if len(c.AH) == 0 {
		return c.ESP
	}
	ps := make([]ESPProposal, len(c.AH))
	for i, p := range c.AH {
		ps[i] = p.Child()
	}
	return ps
}

// Config configures an Engine.
type Config struct {
	Peers []PeerConfig
	// Logger receives the engine's log; nil discards it. Secrets never
	// reach it.
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject a fake one.
	Now func() time.Time
	// Retransmit is the first retransmission timeout (default 1 s); it
	// doubles on every try (RFC 7296 section 2.1) up to Tries sends in all
	// (default 6, about a minute), after which the IKE SA is dead.
	Retransmit time.Duration
	Tries      int
	// CookieThreshold is the number of half-open IKE SAs past which the
	// responder demands a cookie (RFC 7296 section 2.6). Default 64;
	// negative always demands one.
	CookieThreshold int
	// MaxChildSAs bounds the child SAs of one IKE SA, those being rekeyed
	// included (default 8; a PE pair needs 1, 2 during a rekey, 3 in a
	// rekey collision). A peer's CREATE_CHILD_SA past it, new child or
	// rekey, is answered NO_ADDITIONAL_SAS (RFC 7296 section 3.10.1), so
	// a peer cannot grow our state or the dataplane's SA tables.
	MaxChildSAs int
	// HalfOpenTimeout drops a responder SA that never completes IKE_AUTH
	// (default 30 s).
	HalfOpenTimeout time.Duration
	// RestartAfter is how long after an IKE SA to a peer configured with
	// Initiate fails (unreachable, refused, dead, deleted by the peer) the
	// engine initiates again (default 10 s). Engine.Delete stops that.
	RestartAfter time.Duration
	// ReceiveQueues is how many sockets the dataplane receives
	// ESP-in-UDP on, a SO_REUSEPORT group that hands SPI s to socket s
	// mod ReceiveQueues (esptransport.OpenSpread). With per-resource
	// child SAs the engine picks their inbound SPIs so that each falls
	// on the least used socket, and a rekey keeps its child's socket.
	// 0 or 1: SPIs at random.
	ReceiveQueues int
	// Ports are the local IKE and NAT-T ports (default 500 and 4500).
	Port, NATTPort uint16
}

var errNoPeers = errors.New("ike: config: no peers")
