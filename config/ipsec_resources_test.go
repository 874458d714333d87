package config

import (
	"strings"
	"testing"
)

// tunnelResources is tunnels with one more SA pair (RFC 9611 resources).
const tunnelResources = tunnels + `      resources:
        - out: {spi: 0x1002, cipher: aes128gcm16, key-file: out2.key}
          in: {spi: 0x2002, cipher: aes128gcm16, key-file: in2.key}
`

// TestIPsecResources: a resource's SA pair is read with its own keys.
func TestIPsecResources(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir, "out.key", 20, 0o600)
	writeKey(t, dir, "in.key", 20, 0o600)
	writeKey(t, dir, "out2.key", 36, 0o600)
	writeKey(t, dir, "in2.key", 20, 0o600)
	body := strings.Replace(tunnelResources, "{spi: 0x1002, cipher: aes128gcm16", "{spi: 0x1002, cipher: aes256gcm16", 1)
	cfg, err := loadIn(t, dir, body)
	if err != nil {
		t.Fatal(err)
	}
	rs := cfg.IPsec.Tunnels[0].Resources
	if len(rs) != 1 || rs[0].Out.SPI != 0x1002 || rs[0].In.SPI != 0x2002 || len(rs[0].Out.Key.Bytes()) != 36 || len(rs[0].In.Key.Bytes()) != 20 {
		t.Fatalf("resources: %+v", rs)
	}
}

func TestIPsecResourcesErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"same outbound key", tunnelResources, `ipsec.tunnels[0].resources[0].out.key-file: "out2.key": holds the same key as ipsec.tunnels[0].out: two outbound SAs with one key would reuse nonces`},
		{"same outbound spi", strings.Replace(tunnelResources, "spi: 0x1002", "spi: 0x1001", 1), "ipsec.tunnels[0].resources[0].out.spi: 0x1001: already used by ipsec.tunnels[0].out.spi"},
		{"same inbound spi", strings.Replace(tunnelResources, "spi: 0x2002", "spi: 0x2001", 1), "ipsec.tunnels[0].resources[0].in.spi: 0x2001: already used by ipsec.tunnels[0].in.spi"},
		{"no key file", strings.Replace(tunnelResources, ", key-file: in2.key", "", 1), "ipsec.tunnels[0].resources[0].in.key-file: required"},
		{"reserved spi", strings.Replace(tunnelResources, "spi: 0x2002", "spi: 7", 1), "ipsec.tunnels[0].resources[0].in.spi: 7: must be 256..4294967295"},
		{"ah", strings.Replace(tunnelResources, "    - remote: 10.0.0.2\n", "    - remote: 10.0.0.2\n      protocol: ah\n", 1), "ipsec.tunnels[0].resources: 1 pairs: need protocol esp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeKey(t, dir, "out.key", 20, 0o600)
			writeKey(t, dir, "in.key", 20, 0o600)
			writeKey(t, dir, "out2.key", 20, 0o600) // the same bytes as out.key
			writeKey(t, dir, "in2.key", 20, 0o600)
			_, err := loadIn(t, dir, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

// TestIKEPeerResources: ike-peers[].resources is read and bounded.
func TestIKEPeerResources(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir, "psk", 32, 0o600)
	body := `
ipsec:
  local-address: 10.0.0.1
  ike-peers:
    - name: pe2
      local-address: 10.0.0.1
      remote-address: 10.0.0.2
      psk-file: psk
      resources: RES
`
	cfg, err := loadIn(t, dir, strings.Replace(body, "RES", "4", 1))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.IPsec.IKEPeers[0].Resources; r != 4 {
		t.Errorf("resources %d, want 4", r)
	}
	_, err = loadIn(t, dir, strings.Replace(body, "RES", "17", 1))
	if want := "ipsec.ike-peers[0].resources: 17: must be 0..16"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error containing %q", err, want)
	}
}
