package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

const testPSK = "correct-horse-battery-staple-42"

const ikePeers = `
ipsec:
  local-address: 10.0.0.1
  ike-peers:
    - name: pe2
      remote-address: 10.0.0.2
      psk-file: pe2.psk
`

func writePSK(t *testing.T, dir, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "pe2.psk"), []byte(s+"\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func TestIKEPeerDefaults(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o600)
	cfg, err := loadIn(t, dir, ikePeers)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.IPsec.IKEPeers[0]
	if p.PSK.Reveal() != testPSK || p.LocalAddress.String() != "10.0.0.1" || !p.InitiateOrDefault() {
		t.Errorf("peer: %+v", p)
	}
	if got := p.IKEProposals[0].String(); got != "aes128gcm16-prf-sha256-curve25519" {
		t.Errorf("first IKE proposal %q", got)
	}
	if got := p.ESPProposals[0].String(); got != "aes128gcm16" {
		t.Errorf("first ESP proposal %q", got)
	}
	if p.IKELifetime.Hard != 4*time.Hour || p.IKELifetime.Soft != 216*time.Minute ||
		p.ChildLifetime.Hard != time.Hour || p.ChildLifetime.Soft != 54*time.Minute || p.DPDInterval != 30*time.Second {
		t.Errorf("lifetimes: %+v %+v dpd %v", p.IKELifetime, p.ChildLifetime, p.DPDInterval)
	}
	printed := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)
	if strings.Contains(printed, testPSK) {
		t.Errorf("PSK printed: %s", printed)
	}
}

func TestIKEPeerExplicit(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o400)
	cfg, err := loadIn(t, dir, ikePeers+`      local-id: pe1.example.net
      remote-id: 10.0.0.2
      initiate: false
      ike-proposals: [aes256gcm16-prf-sha384-ecp256]
      esp-proposals: [chacha20poly1305-esn-curve25519]
      ike-lifetime: {soft: 50m, hard: 1h}
      child-lifetime: {soft: 5m, hard: 10m, soft-bytes: 1000000, hard-bytes: 2000000}
      dpd-interval: 5s
`)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.IPsec.IKEPeers[0]
	id, _ := ParseIKEIdentity(p.LocalID)
	if id != ikeparam.FQDNIdentity("pe1.example.net") || p.InitiateOrDefault() {
		t.Errorf("identity %v initiate %v", id, p.InitiateOrDefault())
	}
	if p.IKEProposals[0].DH[0] != ikeparam.DHECP256 || p.ESPProposals[0].ESN != ikeparam.ESNOn || p.ESPProposals[0].DH[0] != ikeparam.DHCurve25519 {
		t.Errorf("proposals %v %v", p.IKEProposals, p.ESPProposals)
	}
	if p.ChildLifetime != (Lifetime{Soft: 5 * time.Minute, Hard: 10 * time.Minute, SoftBytes: 1e6, HardBytes: 2e6}) || p.DPDInterval != 5*time.Second {
		t.Errorf("lifetime %+v dpd %v", p.ChildLifetime, p.DPDInterval)
	}
}

// The CBC proposals strongSwan gateways commonly offer (strongSwan syntax) load as
// AES-CBC with HMAC-SHA2, the PRF taken from the integrity algorithm.
func TestIKEPeerCBCProposals(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o600)
	cfg, err := loadIn(t, dir, ikePeers+`      ike-proposals: [aes256-sha384-modp2048, aes128-sha256-ecp256, aes128gcm16-prf-sha256-x25519]
      esp-proposals: [aes256-sha256, aes128-sha512, aes128gcm16]
`)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.IPsec.IKEPeers[0]
	var got []string
	for _, x := range p.IKEProposals {
		got = append(got, x.String())
	}
	for _, x := range p.ESPProposals {
		got = append(got, x.String())
	}
	want := "aes256-sha384-prf-sha384-modp2048 aes128-sha256-prf-sha256-ecp256 aes128gcm16-prf-sha256-curve25519 aes256-sha256 aes128-sha512 aes128gcm16"
	if strings.Join(got, " ") != want {
		t.Errorf("proposals\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if p.IKEProposals[0].Encr[0] != ikeparam.AES256CBC || p.IKEProposals[0].Integ[0] != ikeparam.IntegHMACSHA384192 || p.IKEProposals[0].PRF[0] != ikeparam.PRFHMACSHA384 {
		t.Errorf("first IKE proposal %+v", p.IKEProposals[0])
	}
}

func TestIKEPeerErrors(t *testing.T) {
	r := func(old, new string) string { return strings.Replace(ikePeers, old, new, 1) }
	for _, tc := range []struct {
		name, body, want string
		psk              string
		mode             os.FileMode
	}{
		{"world-readable psk", ikePeers, `ipsec.ike-peers[0].psk-file: "pe2.psk": mode 0644 lets others read it`, testPSK, 0o644},
		{"group-readable psk", ikePeers, `ipsec.ike-peers[0].psk-file: "pe2.psk": mode 0640 lets others read it`, testPSK, 0o640},
		{"short psk", ikePeers, `ipsec.ike-peers[0].psk-file: "pe2.psk": holds 5 bytes; a PSK needs at least 16`, "short", 0o600},
		{"missing psk file", ikePeers, `ipsec.ike-peers[0].psk-file: "pe2.psk": cannot read`, "", 0},
		{"no psk-file", r("      psk-file: pe2.psk\n", ""), "ipsec.ike-peers[0].psk-file: required", testPSK, 0o600},
		{"no name", r("name: pe2", "name: \"\""), "ipsec.ike-peers[0].name: required", testPSK, 0o600},
		{"unknown key", ikePeers + "      pks-file: x\n", "ipsec.ike-peers[0].pks-file: unknown key", testPSK, 0o600},
		{"no remote", r("remote-address: 10.0.0.2", "initiate: true"), "ipsec.ike-peers[0].remote-address: required", testPSK, 0o600},
		{"own address", r("remote-address: 10.0.0.2", "remote-address: 10.0.0.1"), "ipsec.ike-peers[0].remote-address: 10.0.0.1: is this PE's own address", testPSK, 0o600},
		{"family", r("remote-address: 10.0.0.2", "remote-address: 2001:db8::2"), "ipsec.ike-peers[0].remote-address: 2001:db8::2: is not of the family", testPSK, 0o600},
		{"no local address", r("  local-address: 10.0.0.1\n", ""), "ipsec.local-address: required with ike-peers", testPSK, 0o600},
		{"other local address", ikePeers + "      local-address: 10.0.0.9\n", "ipsec.ike-peers[0].local-address: 10.0.0.9: differs from ipsec.local-address 10.0.0.1", testPSK, 0o600},
		{"bad ike proposal", ikePeers + "      ike-proposals: [aes192-sha256-modp2048]\n", `ipsec.ike-peers[0].ike-proposals[0]: "aes192-sha256-modp2048": unknown or unsupported algorithm "aes192"`, testPSK, 0o600},
		{"cbc without integrity", ikePeers + "      ike-proposals: [aes256-prf-sha256-modp2048]\n", `ipsec.ike-peers[0].ike-proposals[0]: "aes256-prf-sha256-modp2048": no integrity algorithm (sha256, sha384 or sha512) for aes256`, testPSK, 0o600},
		{"aead and cbc mixed", ikePeers + "      esp-proposals: [aes128gcm16, aes256gcm16-aes256-sha256]\n", `ipsec.ike-peers[0].esp-proposals[1]: "aes256gcm16-aes256-sha256": aes256gcm16 and aes256 in one proposal: AEAD and non-AEAD ciphers need separate proposals`, testPSK, 0o600},
		{"ike proposal without prf", ikePeers + "      ike-proposals: [aes128gcm16-curve25519]\n", `ipsec.ike-peers[0].ike-proposals[0]: "aes128gcm16-curve25519": no PRF`, testPSK, 0o600},
		{"bad esp proposal", ikePeers + "      esp-proposals: [aes128gcm16, 3des]\n", `ipsec.ike-peers[0].esp-proposals[1]: "3des": unknown or unsupported algorithm`, testPSK, 0o600},
		{"soft after hard", ikePeers + "      child-lifetime: {soft: 2h, hard: 1h}\n", "ipsec.ike-peers[0].child-lifetime.soft: 2h0m0s: must be before hard 1h0m0s", testPSK, 0o600},
		{"soft equals hard", ikePeers + "      ike-lifetime: {soft: 1h, hard: 1h}\n", "ipsec.ike-peers[0].ike-lifetime.soft: 1h0m0s: must be before hard", testPSK, 0o600},
		{"soft bytes above hard", ikePeers + "      child-lifetime: {soft-bytes: 3000, hard-bytes: 2000}\n", "ipsec.ike-peers[0].child-lifetime.soft-bytes: 3000: must be below hard-bytes 2000", testPSK, 0o600},
		{"soft bytes alone", ikePeers + "      child-lifetime: {soft-bytes: 3000}\n", "ipsec.ike-peers[0].child-lifetime.hard-bytes: 0: required with soft-bytes 3000", testPSK, 0o600},
		{"ike bytes", ikePeers + "      ike-lifetime: {hard-bytes: 3000}\n", "ipsec.ike-peers[0].ike-lifetime.hard-bytes: 3000: byte limits apply to child SAs only", testPSK, 0o600},
		{"tiny hard", ikePeers + "      child-lifetime: {hard: 10ms}\n", "ipsec.ike-peers[0].child-lifetime.hard: 10ms: must be at least 1s", testPSK, 0o600},
		{"negative dpd", ikePeers + "      dpd-interval: -5s\n", `ipsec.ike-peers[0].dpd-interval: "-5s": want a non-negative duration`, testPSK, 0o600},
		{"bad lifetime", ikePeers + "      child-lifetime: {soft: soon}\n", `ipsec.ike-peers[0].child-lifetime.soft: "soon"`, testPSK, 0o600},
		{"bad id", ikePeers + "      remote-id: \"pe 2\"\n", `ipsec.ike-peers[0].remote-id: "pe 2": want an IP address or a DNS name`, testPSK, 0o600},
		{"duplicate name", ikePeers + "    - {name: pe2, remote-address: 10.0.0.3, psk-file: pe2.psk}\n", `ipsec.ike-peers[1].name: "pe2": already used by ipsec.ike-peers[0]`, testPSK, 0o600},
		{"duplicate remote", ikePeers + "    - {name: pe3, remote-address: 10.0.0.2, psk-file: pe2.psk}\n", "ipsec.ike-peers[1].remote-address: 10.0.0.2: already has ipsec.ike-peers[0]", testPSK, 0o600},
		{"remote with static tunnel", ikePeers + `  tunnels:
    - remote: 10.0.0.2
      out: {spi: 0x1001, cipher: aes128gcm16, key-file: pe2.psk}
      in: {spi: 0x2001, cipher: aes128gcm16, key-file: pe2.psk}
`, "ipsec.ike-peers[0].remote-address: 10.0.0.2: already has a static tunnel", testPSK, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.mode != 0 {
				writePSK(t, dir, tc.psk, tc.mode)
			}
			_, err := loadIn(t, dir, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), testPSK) {
				t.Errorf("error shows the PSK: %v", err)
			}
		})
	}
}
