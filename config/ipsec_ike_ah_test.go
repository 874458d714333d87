package config

import (
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/ike/ikeparam"
)

// An IKE peer with protocol ah: default AH proposals, or explicit ones in
// strongSwan's ah_proposals form.
func TestIKEPeerAH(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o600)
	cfg, err := loadIn(t, dir, ikePeers+"      protocol: ah\n")
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.IPsec.IKEPeers[0]
	if !p.IsAH() || len(p.AHProposals) != 1 || p.AHProposals[0].String() != "sha256-aes128gmac-aes256gmac" {
		t.Errorf("default AH peer: protocol %q proposals %v", p.Protocol, p.AHProposals)
	}
	cfg, err = loadIn(t, dir, ikePeers+"      protocol: ah\n      ah-proposals: [aes256gmac-esn-curve25519, sha256]\n")
	if err != nil {
		t.Fatal(err)
	}
	p = cfg.IPsec.IKEPeers[0]
	if len(p.AHProposals) != 2 || p.AHProposals[0].Integ[0] != ikeparam.IntegAES256GMAC || p.AHProposals[0].ESN != ikeparam.ESNOn ||
		p.AHProposals[1].Integ[0] != ikeparam.IntegHMACSHA256128 {
		t.Errorf("explicit AH proposals %v", p.AHProposals)
	}
	v6 := strings.NewReplacer("10.0.0.1", "2001:db8::1", "10.0.0.2", "2001:db8::2").Replace(ikePeers)
	if _, err := loadIn(t, dir, v6+"      protocol: ah\n"); err != nil {
		t.Errorf("AH peer over IPv6: %v", err)
	}
	cfg, err = loadIn(t, dir, ikePeers)
	if err != nil || cfg.IPsec.IKEPeers[0].IsAH() || len(cfg.IPsec.IKEPeers[0].AHProposals) != 0 {
		t.Errorf("ESP peer: %v %+v", err, cfg.IPsec.IKEPeers)
	}
}

func TestIKEPeerAHErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"unknown protocol", ikePeers + "      protocol: gre\n", `ipsec.ike-peers[0].protocol: "gre": want esp (the default) or ah`},
		{"ah proposals with esp", ikePeers + "      ah-proposals: [sha256]\n", "ipsec.ike-peers[0].ah-proposals: sha256: needs protocol: ah"},
		{"a cipher in an ah proposal", ikePeers + "      protocol: ah\n      ah-proposals: [aes128gcm16]\n", `ipsec.ike-peers[0].ah-proposals[0]: "aes128gcm16": "aes128gcm16" is a cipher: AH encrypts nothing`},
		{"sha384 for ah", ikePeers + "      protocol: ah\n      ah-proposals: [sha384]\n", `ipsec.ike-peers[0].ah-proposals[0]: "sha384": unknown or unsupported algorithm "sha384"`},
		{"resources with ah", ikePeers + "      protocol: ah\n      resources: 2\n", "ipsec.ike-peers[0].resources: 2: needs protocol: esp"},
		{"ah on an attachment", attachments + "          protocol: ah\n", `vrfs[1].ipsec-attachments[0].ike.protocol: "ah": attachments take ESP only`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writePSK(t, dir, testPSK, 0o600)
			_, err := loadIn(t, dir, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}
