package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeKey writes hex key material of n bytes with the given mode.
func writeKey(t *testing.T, dir, name string, n int, mode os.FileMode) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0xa0 + i)
	}
	if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "%x\n", b), mode); err != nil {
		t.Fatal(err)
	}
}

func loadIn(t *testing.T, dir, body string) (*Config, error) {
	t.Helper()
	p := filepath.Join(dir, "pe.yml")
	if err := os.WriteFile(p, []byte("router: {id: 192.0.2.1, asn: 65000}\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

const tunnels = `
ipsec:
  local-address: 10.0.0.1
  tunnels:
    - remote: 10.0.0.2
      out: {spi: 0x1001, cipher: aes128gcm16, key-file: out.key}
      in: {spi: 0x2001, cipher: aes128gcm16, key-file: in.key}
`

func TestIPsecTunnels(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir, "out.key", 20, 0o600)
	writeKey(t, dir, "in.key", 20, 0o400)
	cfg, err := loadIn(t, dir, tunnels)
	if err != nil {
		t.Fatal(err)
	}
	tn := cfg.IPsec.Tunnels[0]
	if tn.Out.SPI != 0x1001 || tn.In.SPI != 0x2001 || len(tn.Out.Key.Bytes()) != 20 || tn.Out.Key.Bytes()[0] != 0xa0 {
		t.Errorf("tunnel: %+v", tn)
	}
	if cfg.IPsec.Encapsulation != "udp" || cfg.IPsec.ReplayWindow != 0 {
		t.Errorf("defaults: %+v", cfg.IPsec)
	}
	printed := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)
	if strings.Contains(printed, "a0a1a2") || strings.Contains(printed, "160 161 162") || strings.Contains(printed, "0xa0, 0xa1") {
		t.Errorf("key material printed: %s", printed)
	}
}

func TestIPsecErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		keyLen           int
		mode             os.FileMode
	}{
		{"world-readable key", tunnels, `ipsec.tunnels[0].out.key-file: "out.key": mode 0644 lets others read it`, 20, 0o644},
		{"short key", tunnels, `ipsec.tunnels[0].out.key-file: "out.key": holds 16 bytes; aes128gcm16 needs 20`, 16, 0o600},
		{"bad cipher", strings.Replace(tunnels, "cipher: aes128gcm16, key-file: out.key", "cipher: aes128cbc, key-file: out.key", 1), `ipsec.tunnels[0].out.cipher: "aes128cbc"`, 20, 0o600},
		{"reserved spi", strings.Replace(tunnels, "spi: 0x1001", "spi: 255", 1), "ipsec.tunnels[0].out.spi: 255: must be 256..4294967295", 20, 0o600},
		{"no local address", strings.Replace(tunnels, "local-address: 10.0.0.1", "", 1), "ipsec.local-address: required with tunnels", 20, 0o600},
		{"encapsulation", tunnels + "  encapsulation: gre\n", `ipsec.encapsulation: "gre": want udp`, 20, 0o600},
		{"window", tunnels + "  replay-window: 8192\n", "ipsec.replay-window: 8192: must be 64..4096", 20, 0o600},
		{"duplicate inbound spi", tunnels + `    - remote: 10.0.0.3
      out: {spi: 0x1002, cipher: aes128gcm16, key-file: out.key}
      in: {spi: 0x2001, cipher: aes128gcm16, key-file: in.key}
`, "ipsec.tunnels[1].in.spi: 0x2001: already used by ipsec.tunnels[0].in.spi", 20, 0o600},
		{"own address", strings.Replace(tunnels, "remote: 10.0.0.2", "remote: 10.0.0.1", 1), "ipsec.tunnels[0].remote: 10.0.0.1: is this PE's own", 20, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeKey(t, dir, "out.key", tc.keyLen, tc.mode)
			writeKey(t, dir, "in.key", 20, 0o600)
			_, err := loadIn(t, dir, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

// TestIPsecCBCTunnels: manual-key tunnels with the AES-CBC + HMAC-SHA2
// suites load with key files of the suite's length (AES key, then HMAC
// key), and a wrong length names the field, the file and both lengths,
// never the key.
func TestIPsecCBCTunnels(t *testing.T) {
	for _, tc := range []struct {
		cipher string
		keyLen int
		layout string
	}{
		{"aes128-sha256", 48, "16-byte AES key, then 32-byte HMAC key"},
		{"aes128-sha384", 64, "16-byte AES key, then 48-byte HMAC key"},
		{"aes128-sha512", 80, "16-byte AES key, then 64-byte HMAC key"},
		{"aes256-sha256", 64, "32-byte AES key, then 32-byte HMAC key"},
		{"aes256-sha384", 80, "32-byte AES key, then 48-byte HMAC key"},
		{"aes256-sha512", 96, "32-byte AES key, then 64-byte HMAC key"},
	} {
		t.Run(tc.cipher, func(t *testing.T) {
			body := strings.ReplaceAll(tunnels, "aes128gcm16", tc.cipher)
			dir := t.TempDir()
			writeKey(t, dir, "out.key", tc.keyLen, 0o600)
			writeKey(t, dir, "in.key", tc.keyLen, 0o600)
			cfg, err := loadIn(t, dir, body)
			if err != nil {
				t.Fatal(err)
			}
			tn := cfg.IPsec.Tunnels[0]
			if tn.Out.Cipher.String() != tc.cipher || len(tn.In.Key.Bytes()) != tc.keyLen {
				t.Errorf("tunnel: cipher %s, %d key bytes", tn.Out.Cipher, len(tn.In.Key.Bytes()))
			}

			// The GCM key length is wrong for every CBC suite.
			writeKey(t, dir, "out.key", 20, 0o600)
			_, err = loadIn(t, dir, body)
			want := fmt.Sprintf(`ipsec.tunnels[0].out.key-file: "out.key": holds 20 bytes; %s needs %d (%s)`, tc.cipher, tc.keyLen, tc.layout)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v\nwant an error containing %q", err, want)
			}
			if strings.Contains(err.Error(), "a0a1a2") {
				t.Errorf("key material in the error: %v", err)
			}
		})
	}
}
