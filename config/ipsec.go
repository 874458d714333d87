package config

import (
	"crypto/subtle"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// IPsec configures the protection of traffic between PEs. Every packet a
// VRF sends to a remote PE goes through that PE's tunnel; with no tunnel
// or no outbound SA it is dropped and counted, never sent in clear. Until
// IKEv2 lands, SAs are keyed by hand ("manual keying", RFC 4301 section
// 4.5).
type IPsec struct {
	// LocalAddress is this PE's tunnel endpoint: the source of outer
	// headers and where remote PEs send. Required with tunnels.
	LocalAddress netip.Addr `config:"local-address"`
	// Encapsulation is "udp" (ESP in UDP port 4500, RFC 3948: crosses
	// NAT and matches strongSwan's userspace ESP) or "esp" (IP protocol
	// 50).
	Encapsulation string `config:"encapsulation"`
	// ReplayWindow is the anti-replay window of the inbound SAs in
	// packets, 64..4096; DefaultReplayWindow (1024) when left out. A
	// manually keyed sender continues above every sequence number it
	// used after a restart (its marks persist in state.directory), so
	// its peer can keep the check on. 0 turns the check off for the
	// manual tunnels' inbound SAs, an explicit opt-out for a peer whose
	// sender starts at 1 again when it restarts (as Linux's `ip xfrm
	// state` with replay-window 0); it never does for IKE SAs, where 0
	// means the default. A change applies to an inbound SA with its
	// next key: an SA made again would forget what it has seen.
	ReplayWindow int      `config:"replay-window"`
	Tunnels      []Tunnel `config:"tunnels"`
	// IKEPeers are remote PEs keyed by IKEv2 rather than by hand.
	IKEPeers []IKEPeer `config:"ike-peers"`
	// UnprotectedPeers are remote PEs (addresses, or prefixes of them)
	// that VRF traffic may reach as plain MPLS, unencrypted, over
	// dataplane.mpls-interfaces: another vendor's PE across a trusted
	// core. Nothing is unprotected unless listed here; a remote PE that
	// is neither listed nor has a tunnel still gets nothing (its routes'
	// packets are dropped and counted). An entry may not cover a
	// protected peer's address.
	UnprotectedPeers []PeerPrefix `config:"unprotected-peers"`
}

// DefaultReplayWindow is ipsec.replay-window when the file leaves it out.
const DefaultReplayWindow = 1024

// Tunnel is the pair of SAs to one remote PE.
type Tunnel struct {
	Remote netip.Addr `config:"remote"`
	Out    SA         `config:"out"`
	In     SA         `config:"in"`
	// ResetSequence lets the outbound SA start at sequence number 1 when
	// its persisted sequence is lost (state.directory's file unreadable);
	// without it such a tunnel stays closed, because the key may already
	// have sealed those numbers, and sealing them again reuses AEAD
	// nonces, which gives away the authentication key and the XOR of the
	// two plaintexts. Safe with a key that never sealed (rotate the key
	// and set it); with an old key it is the operator accepting that
	// risk. A readable persisted sequence is always continued, so leaving
	// it set does not restart a running key.
	ResetSequence bool `config:"reset-sequence"`
	// Protocol is "esp" (the default: confidentiality and integrity) or
	// "ah" (RFC 4302: integrity only). With ah the MPLS label stack and
	// the customer's packets cross the core in the clear, protected
	// against change and replay but readable by anyone on the path; the
	// daemon logs a warning per AH tunnel at startup and `show ipsec sa`
	// says "integrity only". AH is always IP protocol 51, whatever
	// ipsec.encapsulation says: it covers the outer IP addresses, so it
	// cannot cross NAT (RFC 3948 has no AH-in-UDP). Over an IPv6 core
	// the outer header's traffic class, flow label and hop limit are
	// outside the ICV (RFC 4302 section 3.3.3.1.2).
	Protocol string `config:"protocol"`
	// Resources are more SA pairs to the same remote PE for the same
	// traffic (RFC 9611 per-resource SAs), so that one PE pair uses
	// every core: the sender seals each flow with one of out and the
	// resources' outs (by the TUN queue the flow arrives on), and the
	// receiver opens inbound SPI s on UDP socket s mod its number of
	// receivers (one per CPU), so consecutive inbound SPIs spread best.
	// Each SA is explicit: its own SPI and its own key file (never a key
	// derived from another); an outbound key may serve one SA only,
	// since two SAs sealing with one key would reuse nonces. Protocol
	// esp only. Both PEs list the same pairs, out and in swapped.
	Resources []SAPair `config:"resources"`
}

// SAPair is one resource's SAs of a Tunnel.
type SAPair struct {
	Out SA `config:"out"`
	In  SA `config:"in"`
}

// Protocol values.
const (
	ProtocolESP = "esp"
	ProtocolAH  = "ah"
)

// IsAH reports whether the tunnel's SAs are AH rather than ESP.
func (t Tunnel) IsAH() bool { return t.Protocol == ProtocolAH }

// SA is one direction's security association.
type SA struct {
	// SPI is the security parameter index, 256..4294967295 (0-255 are
	// reserved, RFC 4303 section 2.1). Inbound SPIs must be unique.
	SPI uint32 `config:"spi"`
	// Cipher is the ESP transform (protocol esp).
	Cipher esp.Cipher `config:"cipher"`
	// Integrity is the AH transform (protocol ah): hmac-sha256-128 (key
	// 32 bytes), aes128gmac (16-byte AES key and 4-byte salt: 20) or
	// aes256gmac (36). A manual GMAC key, like an ESP AEAD key, is
	// safe only because its sequence (its IV) persists in
	// state.directory.
	Integrity ah.Integ `config:"integrity"`
	// KeyFile holds the key material in hex: for the AEADs the cipher key
	// followed by the 4-byte salt (20 bytes for aes128gcm16, 36 for
	// aes256gcm16 and chacha20poly1305); for AES-CBC the AES key (16 or
	// 32 bytes) followed by the HMAC key (32, 48 or 64 bytes for -sha256,
	// -sha384, -sha512: 48 bytes for aes128-sha256, 96 for aes256-sha512).
	// It must not be readable by group or others.
	KeyFile string `config:"key-file"`
	// Key is read from KeyFile at load time.
	Key Key `config:"-"`
}

func (c *Config) validateIPsec(bad badFunc) {
	s := c.IPsec
	switch s.Encapsulation {
	case "udp", "esp":
	default:
		bad("ipsec.encapsulation", strconv.Quote(s.Encapsulation), "want udp (ESP in UDP 4500) or esp (IP protocol 50)")
	}
	if s.ReplayWindow != 0 && (s.ReplayWindow < 64 || s.ReplayWindow > 4096) {
		bad("ipsec.replay-window", strconv.Itoa(s.ReplayWindow), "must be 64..4096 packets, or 0 to turn the anti-replay check off")
	}
	if d := c.State.Directory; !filepath.IsAbs(d) {
		bad("state.directory", strconv.Quote(d), "must be an absolute path: where manual SAs' sequence numbers and the VPN labels persist across restarts")
	}
	if len(s.Tunnels) > 0 && !s.LocalAddress.IsValid() {
		bad("ipsec.local-address", "", "required with tunnels: this PE's tunnel endpoint address")
	}
	remotes := map[netip.Addr]int{}
	inSPIs := map[uint32]string{}
	for i, t := range s.Tunnels {
		p := fmt.Sprintf("ipsec.tunnels[%d]", i)
		switch {
		case !t.Remote.IsValid():
			bad(p+".remote", "", "required: the remote PE's tunnel address")
		case t.Remote == s.LocalAddress:
			bad(p+".remote", t.Remote.String(), "is this PE's own ipsec.local-address")
		case s.LocalAddress.IsValid() && t.Remote.Is4() != s.LocalAddress.Is4():
			bad(p+".remote", t.Remote.String(), "is not of the same address family as ipsec.local-address %s", s.LocalAddress)
		default:
			if j, dup := remotes[t.Remote]; dup {
				bad(p+".remote", t.Remote.String(), "already has a tunnel: ipsec.tunnels[%d]", j)
			}
			remotes[t.Remote] = i
		}
		switch t.Protocol {
		case "", ProtocolESP:
			validateSA(bad, p+".out", t.Out)
			validateSA(bad, p+".in", t.In)
		case ProtocolAH:
			validateAHSA(bad, p+".out", t.Out)
			validateAHSA(bad, p+".in", t.In)
		default:
			bad(p+".protocol", strconv.Quote(t.Protocol), "want esp (the default) or ah (integrity only: labels and customer packets in the clear)")
		}
		uniqueIn := func(path string, spi uint32) {
			if spi < 256 {
				return
			}
			if other, dup := inSPIs[spi]; dup {
				bad(path, fmt.Sprintf("0x%x", spi), "already used by %s: inbound SPIs pick the SA and must be unique", other)
			}
			inSPIs[spi] = path
		}
		uniqueIn(p+".in.spi", t.In.SPI)
		validateResources(bad, p, t, uniqueIn)
	}
}

// validateResources checks t's per-resource SA pairs: ESP like the
// tunnel's own, inbound SPIs unique everywhere (uniqueIn) and outbound
// SPIs unique in the tunnel. That each outbound key is its own is
// checked once the keys are read (readKeys).
func validateResources(bad badFunc, p string, t Tunnel, uniqueIn func(path string, spi uint32)) {
	if len(t.Resources) > 0 && t.IsAH() {
		bad(p+".resources", fmt.Sprintf("%d pairs", len(t.Resources)), "need protocol esp: per-resource SAs are for spreading ESP over cores")
		return
	}
	outSPIs := map[uint32]string{t.Out.SPI: p + ".out.spi"}
	for j, r := range t.Resources {
		rp := fmt.Sprintf("%s.resources[%d]", p, j)
		validateSA(bad, rp+".out", r.Out)
		validateSA(bad, rp+".in", r.In)
		if other, dup := outSPIs[r.Out.SPI]; dup && r.Out.SPI >= 256 {
			bad(rp+".out.spi", fmt.Sprintf("0x%x", r.Out.SPI), "already used by %s: each outbound SA of a tunnel has its own SPI", other)
		}
		outSPIs[r.Out.SPI] = rp + ".out.spi"
		uniqueIn(rp+".in.spi", r.In.SPI)
	}
}

func validateSA(bad badFunc, p string, sa SA) {
	if sa.SPI < 256 {
		bad(p+".spi", fmt.Sprintf("%d", sa.SPI), "must be 256..4294967295 (0-255 are reserved, RFC 4303)")
	}
	if !sa.Cipher.IsValid() {
		bad(p+".cipher", "", "required: aes128gcm16, aes256gcm16, chacha20poly1305, or AES-CBC with HMAC-SHA2: aes128|aes256 with -sha256|-sha384|-sha512")
	}
	if sa.Integrity.IsValid() {
		bad(p+".integrity", sa.Integrity.String(), "is an AH transform: set the tunnel's protocol: ah, or give an ESP cipher only")
	}
	if sa.KeyFile == "" {
		bad(p+".key-file", "", "required: a file holding the key material in hex (see the cipher)")
	}
}

// validateAHSA checks one direction of a protocol ah tunnel.
func validateAHSA(bad badFunc, p string, sa SA) {
	if sa.SPI < 256 {
		bad(p+".spi", fmt.Sprintf("%d", sa.SPI), "must be 256..4294967295 (0-255 are reserved, RFC 4302)")
	}
	if sa.Cipher.IsValid() {
		bad(p+".cipher", sa.Cipher.String(), "is an ESP cipher; AH encrypts nothing: with protocol ah give integrity: hmac-sha256-128, aes128gmac or aes256gmac")
	}
	if !sa.Integrity.IsValid() {
		bad(p+".integrity", "", "required with protocol ah: hmac-sha256-128, aes128gmac or aes256gmac")
	}
	if sa.KeyFile == "" {
		bad(p+".key-file", "", "required: a file holding the key material in hex (see the integrity transform)")
	}
}

// keyNeed is the key length sa's transform takes and its name, for the
// key file's check: the AH transform under protocol ah, else the cipher.
func keyNeed(t *Tunnel, sa *SA) (int, string) {
	if t.IsAH() {
		return sa.Integrity.KeyLen(), fmt.Sprintf("%s needs %d", sa.Integrity, sa.Integrity.KeyLen())
	}
	return sa.Cipher.KeyLen(), fmt.Sprintf("%s needs %d (%s)", sa.Cipher, sa.Cipher.KeyLen(), sa.Cipher.KeyLayout())
}

// readKeys fills each SA's Key from its key file and checks its length
// against the cipher.
func (c *Config) readKeys(baseDir string) Errors {
	var errs Errors
	for i := range c.IPsec.Tunnels {
		t := &c.IPsec.Tunnels[i]
		type named struct {
			name string
			sa   *SA
		}
		sas := []named{{"out", &t.Out}, {"in", &t.In}}
		for j := range t.Resources {
			r := &t.Resources[j]
			sas = append(sas, named{fmt.Sprintf("resources[%d].out", j), &r.Out}, named{fmt.Sprintf("resources[%d].in", j), &r.In})
		}
		for _, d := range sas {
			p := fmt.Sprintf("ipsec.tunnels[%d].%s.key-file", i, d.name)
			text, err := readSecretBytes(baseDir, d.sa.KeyFile)
			if err != nil {
				errs = append(errs, &FieldError{Path: p, Value: strconv.Quote(d.sa.KeyFile), Reason: err.Error()})
				continue
			}
			key, err := parseHexKey(text)
			clear(text)
			if err != nil {
				errs = append(errs, &FieldError{Path: p, Value: strconv.Quote(d.sa.KeyFile), Reason: err.Error()})
				continue
			}
			if want, what := keyNeed(t, d.sa); len(key) != want {
				errs = append(errs, &FieldError{Path: p, Value: strconv.Quote(d.sa.KeyFile),
					Reason: fmt.Sprintf("holds %d bytes; %s", len(key), what)})
				clear(key)
				continue
			}
			d.sa.Key = NewKey(key)
		}
		errs = append(errs, t.distinctOutKeys(i)...)
	}
	return errs
}

// distinctOutKeys refuses an outbound key that seals for two SAs of
// tunnel i (its out and its resources' outs): with one key, two
// sequence spaces would give the same AEAD nonces.
func (t *Tunnel) distinctOutKeys(i int) Errors {
	var errs Errors
	outs := []*SA{&t.Out}
	names := []string{fmt.Sprintf("ipsec.tunnels[%d].out", i)}
	for j := range t.Resources {
		r := &t.Resources[j]
		path := fmt.Sprintf("ipsec.tunnels[%d].resources[%d].out", i, j)
		for k, o := range outs {
			a, b := o.Key.Bytes(), r.Out.Key.Bytes()
			if a != nil && b != nil && subtle.ConstantTimeCompare(a, b) == 1 {
				errs = append(errs, &FieldError{Path: path + ".key-file", Value: strconv.Quote(r.Out.KeyFile),
					Reason: "holds the same key as " + names[k] + ": two outbound SAs with one key would reuse nonces; give each its own key"})
				break
			}
		}
		outs, names = append(outs, &r.Out), append(names, path)
	}
	return errs
}
