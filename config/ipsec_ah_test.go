package config

import (
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/ah"
)

const ahTunnels = `
ipsec:
  local-address: 10.0.0.1
  tunnels:
    - remote: 10.0.0.2
      protocol: ah
      out: {spi: 0x1001, integrity: hmac-sha256-128, key-file: out.key}
      in: {spi: 0x2001, integrity: aes128gmac, key-file: in.key}
`

// TestIPsecAHTunnel: protocol ah takes AH transforms and keys of their
// length; esp stays the default.
func TestIPsecAHTunnel(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir, "out.key", 32, 0o600)
	writeKey(t, dir, "in.key", 20, 0o600)
	cfg, err := loadIn(t, dir, ahTunnels)
	if err != nil {
		t.Fatal(err)
	}
	tn := cfg.IPsec.Tunnels[0]
	if !tn.IsAH() || tn.Out.Integrity != ah.HMACSHA256128 || tn.In.Integrity != ah.AES128GMAC ||
		len(tn.Out.Key.Bytes()) != 32 || len(tn.In.Key.Bytes()) != 20 {
		t.Errorf("tunnel: %+v", tn)
	}
	// Over an IPv6 core too (the dataplane rebuilds the IPv6 header a
	// raw socket leaves out: fib/userspace inboundAH6).
	if _, err := loadIn(t, dir, strings.NewReplacer("10.0.0.1", "2001:db8::1", "10.0.0.2", "2001:db8::2").Replace(ahTunnels)); err != nil {
		t.Errorf("AH over IPv6: %v", err)
	}
	writeKey(t, dir, "out.key", 20, 0o600)
	esp, err := loadIn(t, dir, tunnels)
	if err != nil {
		t.Fatal(err)
	}
	if esp.IPsec.Tunnels[0].IsAH() {
		t.Error("a tunnel without protocol is AH")
	}
}

// TestIPsecAHErrors: every mix-up of ESP and AH settings is refused with
// the field's path and the bad value.
func TestIPsecAHErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		outLen           int
	}{
		{"esp cipher with ah", strings.Replace(ahTunnels, "integrity: hmac-sha256-128", "cipher: aes128gcm16, integrity: hmac-sha256-128", 1),
			"ipsec.tunnels[0].out.cipher: aes128gcm16: is an ESP cipher; AH encrypts nothing", 32},
		{"no integrity", strings.Replace(ahTunnels, "integrity: hmac-sha256-128, ", "", 1),
			"ipsec.tunnels[0].out.integrity: required with protocol ah", 32},
		{"unknown integrity", strings.Replace(ahTunnels, "hmac-sha256-128", "hmac-md5-96", 1),
			`ipsec.tunnels[0].out.integrity: "hmac-md5-96"`, 32},
		{"unknown protocol", strings.Replace(ahTunnels, "protocol: ah", "protocol: gre", 1),
			`ipsec.tunnels[0].protocol: "gre": want esp (the default) or ah`, 32},
		{"short key", ahTunnels, "ipsec.tunnels[0].out.key-file: \"out.key\": holds 20 bytes; hmac-sha256-128 needs 32", 20},
		{"reserved spi", strings.Replace(ahTunnels, "spi: 0x1001", "spi: 7", 1),
			"ipsec.tunnels[0].out.spi: 7: must be 256..4294967295 (0-255 are reserved, RFC 4302)", 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeKey(t, dir, "out.key", tc.outLen, 0o600)
			writeKey(t, dir, "in.key", 20, 0o600)
			_, err := loadIn(t, dir, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "a0a1a2") {
				t.Errorf("key material in the error: %v", err)
			}
		})
	}
	// An AH transform on an ESP tunnel.
	dir := t.TempDir()
	writeKey(t, dir, "out.key", 20, 0o600)
	writeKey(t, dir, "in.key", 20, 0o600)
	body := strings.Replace(tunnels, "cipher: aes128gcm16, key-file: out.key", "cipher: aes128gcm16, integrity: aes128gmac, key-file: out.key", 1)
	_, err := loadIn(t, dir, body)
	if want := "ipsec.tunnels[0].out.integrity: aes128gmac: is an AH transform"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant an error containing %q", err, want)
	}
}
