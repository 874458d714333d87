package config

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"

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
	// ReplayWindow is the anti-replay window of the manually keyed
	// tunnels' inbound SAs in packets, 64..4096, or 0 (the default) for
	// no anti-replay check: a manual SA's sender starts counting at 1
	// again whenever it restarts, and the receiver, with no key exchange
	// to start a new SA, would drop its packets as replays until the
	// count passed the old one (as Linux's `ip xfrm state`, whose
	// replay-window defaults to 0). Set it where both PEs always restart
	// together, or use IKE.
	ReplayWindow int      `config:"replay-window"`
	Tunnels      []Tunnel `config:"tunnels"`
	// IKEPeers are remote PEs keyed by IKEv2 rather than by hand.
	IKEPeers []IKEPeer `config:"ike-peers"`
}

// Tunnel is the pair of SAs to one remote PE.
type Tunnel struct {
	Remote netip.Addr `config:"remote"`
	Out    SA         `config:"out"`
	In     SA         `config:"in"`
}

// SA is one direction's security association.
type SA struct {
	// SPI is the security parameter index, 256..4294967295 (0-255 are
	// reserved, RFC 4303 section 2.1). Inbound SPIs must be unique.
	SPI    uint32     `config:"spi"`
	Cipher esp.Cipher `config:"cipher"`
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

// Key is secret key material. Printing it in any form shows "<redacted>".
type Key struct{ b []byte }

// Bytes returns the key material, for handing to the ESP engine.
func (k Key) Bytes() []byte { return k.b }

func (k Key) String() string {
	if len(k.b) == 0 {
		return ""
	}
	return "<redacted>"
}

// GoString keeps %#v from printing the key.
func (k Key) GoString() string { return `config.Key{"` + k.String() + `"}` }

// LogValue implements slog.LogValuer.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText implements encoding.TextMarshaler for JSON and YAML output.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (c *Config) validateIPsec(bad badFunc) {
	s := c.IPsec
	switch s.Encapsulation {
	case "udp", "esp":
	default:
		bad("ipsec.encapsulation", strconv.Quote(s.Encapsulation), "want udp (ESP in UDP 4500) or esp (IP protocol 50)")
	}
	if s.ReplayWindow != 0 && (s.ReplayWindow < 64 || s.ReplayWindow > 4096) {
		bad("ipsec.replay-window", strconv.Itoa(s.ReplayWindow), "must be 64..4096 packets, or 0 for no anti-replay check")
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
		validateSA(bad, p+".out", t.Out)
		validateSA(bad, p+".in", t.In)
		if t.In.SPI >= 256 {
			if other, dup := inSPIs[t.In.SPI]; dup {
				bad(p+".in.spi", fmt.Sprintf("0x%x", t.In.SPI), "already used by %s: inbound SPIs pick the SA and must be unique", other)
			}
			inSPIs[t.In.SPI] = p + ".in.spi"
		}
	}
}

func validateSA(bad badFunc, p string, sa SA) {
	if sa.SPI < 256 {
		bad(p+".spi", fmt.Sprintf("%d", sa.SPI), "must be 256..4294967295 (0-255 are reserved, RFC 4303)")
	}
	if !sa.Cipher.IsValid() {
		bad(p+".cipher", "", "required: aes128gcm16, aes256gcm16, chacha20poly1305, or AES-CBC with HMAC-SHA2: aes128|aes256 with -sha256|-sha384|-sha512")
	}
	if sa.KeyFile == "" {
		bad(p+".key-file", "", "required: a file holding the key material in hex (see the cipher)")
	}
}

// readKeys fills each SA's Key from its key file and checks its length
// against the cipher.
func (c *Config) readKeys(baseDir string) Errors {
	var errs Errors
	for i := range c.IPsec.Tunnels {
		t := &c.IPsec.Tunnels[i]
		for _, d := range []struct {
			name string
			sa   *SA
		}{{"out", &t.Out}, {"in", &t.In}} {
			p := fmt.Sprintf("ipsec.tunnels[%d].%s.key-file", i, d.name)
			text, err := readSecretFile(baseDir, d.sa.KeyFile)
			if err != nil {
				errs = append(errs, &FieldError{Path: p, Value: strconv.Quote(d.sa.KeyFile), Reason: err.Error()})
				continue
			}
			key, err := hex.DecodeString(strings.TrimPrefix(strings.Join(strings.Fields(text), ""), "0x"))
			if err != nil {
				errs = append(errs, &FieldError{Path: p, Value: strconv.Quote(d.sa.KeyFile), Reason: "does not hold a hex key"})
				continue
			}
			if want := d.sa.Cipher.KeyLen(); len(key) != want {
				errs = append(errs, &FieldError{Path: p, Value: strconv.Quote(d.sa.KeyFile),
					Reason: fmt.Sprintf("holds %d bytes; %s needs %d (%s)", len(key), d.sa.Cipher, want, d.sa.Cipher.KeyLayout())})
				continue
			}
			d.sa.Key = Key{key}
		}
	}
	return errs
}
