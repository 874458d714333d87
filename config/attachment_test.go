package config

import (
	"net/netip"
	"strings"
	"testing"
)

// attachments is a PE with two VRFs whose gateways use the same site
// prefix: valid, the VRFs keep them apart.
const attachments = `
dataplane: {backend: userspace}
ipsec:
  local-address: 10.0.0.1
vrfs:
  - name: red
    rd: 65000:1
    ipsec-attachments:
      - name: site-red
        site-prefixes: [10.9.0.0/24, 10.9.1.0/24]
        ike:
          remote-address: 10.0.9.2
          remote-id: gw.red.example
          psk-file: pe2.psk
  - name: blue
    rd: 65000:2
    ipsec-attachments:
      - name: site-blue
        kind: gateway
        site-prefixes: [10.9.0.0/24]
        local-prefixes: [10.2.0.0/16]
        ike:
          remote-id: gw.blue.example
          psk-file: pe2.psk
          esp-proposals: [aes256gcm16]
`

func TestAttachmentDefaults(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o600)
	cfg, err := loadIn(t, dir, attachments)
	if err != nil {
		t.Fatal(err)
	}
	red, blue := cfg.VRFs[0].IPsecAttachments[0], cfg.VRFs[1].IPsecAttachments[0]
	if red.Kind != AttachmentGateway || len(red.LocalPrefixes) != 2 || red.LocalPrefixes[0] != netip.MustParsePrefix("0.0.0.0/0") {
		t.Errorf("red defaults: kind %q local %v", red.Kind, red.LocalPrefixes)
	}
	if red.IKE.InitiateOrDefault() || red.IKE.LocalAddress != netip.MustParseAddr("10.0.0.1") || red.IKE.PSK.Reveal() != testPSK {
		t.Errorf("red ike: initiate %v local %v psk read %v", red.IKE.InitiateOrDefault(), red.IKE.LocalAddress, red.IKE.PSK.Reveal() == testPSK)
	}
	if blue.IKE.RemoteAddress.IsValid() || blue.IKE.ESPProposals[0].String() != "aes256gcm16" || blue.LocalPrefixes[0].String() != "10.2.0.0/16" {
		t.Errorf("blue: %+v", blue)
	}
	if !cfg.HasAttachments() {
		t.Error("HasAttachments false")
	}
}

// TestAttachmentEveryBackend: both dataplanes carry attachments (the
// kernel one through its ESP gateway's pga-VRF TUNs), so every backend,
// auto included, loads them.
func TestAttachmentEveryBackend(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o600)
	for _, b := range []string{"userspace", "kernel", "auto", "none"} {
		body := strings.Replace(attachments, "backend: userspace", "backend: "+b, 1)
		cfg, err := loadIn(t, dir, body)
		if err != nil {
			t.Errorf("backend %s: %v", b, err)
			continue
		}
		if cfg.Dataplane.Backend != b || !cfg.HasAttachments() {
			t.Errorf("backend %s: loaded as %q, attachments %v", b, cfg.Dataplane.Backend, cfg.HasAttachments())
		}
	}
}

func TestAttachmentBad(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o600)
	vrf := func(atts string) string {
		return "dataplane: {backend: userspace}\nipsec: {local-address: 10.0.0.1}\nvrfs:\n  - name: red\n    rd: 65000:1\n    ipsec-attachments:\n" + atts
	}
	const ike = "        ike: {remote-address: 10.0.9.2, psk-file: pe2.psk}\n"
	cases := []struct {
		name, body string
		want       []string
	}{
		{"unknown kind", vrf("      - name: a\n        kind: hub\n        site-prefixes: [10.9.0.0/24]\n" + ike),
			[]string{`vrfs[0].ipsec-attachments[0].kind: "hub": want gateway or pool`}},
		{"static route to the site", strings.Replace(vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n"+ike), "    rd: 65000:1\n", "    rd: 65000:1\n    static-routes: [{prefix: 10.9.0.0/24}]\n", 1),
			[]string{"vrfs[0].ipsec-attachments[0].site-prefixes[0]: 10.9.0.0/24: is also vrfs[0].static-routes[0]"}},
		{"no name", vrf("      - site-prefixes: [10.9.0.0/24]\n" + ike),
			[]string{"vrfs[0].ipsec-attachments[0].name: required"}},
		{"no site prefix", vrf("      - name: a\n" + ike),
			[]string{"vrfs[0].ipsec-attachments[0].site-prefixes: required"}},
		{"host bits", vrf("      - name: a\n        site-prefixes: [10.9.0.1/24]\n" + ike),
			[]string{"vrfs[0].ipsec-attachments[0].site-prefixes[0]: 10.9.0.1/24: has host bits set; did you mean 10.9.0.0/24?"}},
		{"bad local prefix", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n        local-prefixes: [10.2.0.1/16]\n" + ike),
			[]string{"vrfs[0].ipsec-attachments[0].local-prefixes[0]: 10.2.0.1/16: has host bits set"}},
		{"overlap in one VRF", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n" + ike +
			"      - name: b\n        site-prefixes: [10.9.0.128/25]\n        ike: {remote-address: 10.0.9.3, psk-file: pe2.psk}\n"),
			[]string{"vrfs[0].ipsec-attachments[1].site-prefixes[0]: 10.9.0.128/25: overlaps 10.9.0.0/24 (vrfs[0].ipsec-attachments[0].site-prefixes[0])"}},
		{"duplicate name", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n" + ike +
			"      - name: a\n        site-prefixes: [10.8.0.0/24]\n        ike: {remote-address: 10.0.9.3, psk-file: pe2.psk}\n"),
			[]string{`vrfs[0].ipsec-attachments[1].name: "a": already used by vrfs[0].ipsec-attachments[0]`}},
		{"same gateway twice", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n" + ike +
			"      - name: b\n        site-prefixes: [10.8.0.0/24]\n" + ike),
			[]string{"vrfs[0].ipsec-attachments[1].ike.remote-address: 10.0.9.2: already has vrfs[0].ipsec-attachments[0].ike"}},
		{"any without identity", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n        ike: {psk-file: pe2.psk}\n"),
			[]string{"vrfs[0].ipsec-attachments[0].ike.remote-id: required without remote-address"}},
		{"any and initiate", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n        ike: {psk-file: pe2.psk, remote-id: gw.example, initiate: true}\n"),
			[]string{"vrfs[0].ipsec-attachments[0].ike.initiate: true: needs a remote-address"}},
		{"name inside ike", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n        ike: {name: x, remote-address: 10.0.9.2, psk-file: pe2.psk}\n"),
			[]string{`vrfs[0].ipsec-attachments[0].ike.name: "x": not used here`}},
		{"no psk", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n        ike: {remote-address: 10.0.9.2}\n"),
			[]string{"vrfs[0].ipsec-attachments[0].ike.psk-file: required"}},
		{"bad identity", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n        ike: {remote-address: 10.0.9.2, remote-id: 'a b', psk-file: pe2.psk}\n"),
			[]string{`vrfs[0].ipsec-attachments[0].ike.remote-id: "a b": want an IP address`}},
		{"bad proposal", vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n        ike: {remote-address: 10.0.9.2, psk-file: pe2.psk, esp-proposals: [rot13]}\n"),
			[]string{"vrfs[0].ipsec-attachments[0].ike.esp-proposals[0]"}},
		{"unknown key", vrf("      - name: a\n        site-prefix: [10.9.0.0/24]\n" + ike),
			[]string{"vrfs[0].ipsec-attachments[0].site-prefix: unknown key"}},
		{"no local address", strings.Replace(vrf("      - name: a\n        site-prefixes: [10.9.0.0/24]\n"+ike), "ipsec: {local-address: 10.0.0.1}\n", "", 1),
			[]string{"ipsec.local-address: required with ipsec-attachments"}},
		{"clash with an ike peer",
			"dataplane: {backend: userspace}\nipsec:\n  local-address: 10.0.0.1\n  ike-peers:\n    - {name: a, remote-address: 10.0.9.2, psk-file: pe2.psk}\nvrfs:\n  - name: red\n    rd: 65000:1\n    ipsec-attachments:\n      - name: a\n        site-prefixes: [10.9.0.0/24]\n" + ike,
			[]string{`vrfs[0].ipsec-attachments[0].name: "a": already used by ipsec.ike-peers[0]`,
				"vrfs[0].ipsec-attachments[0].ike.remote-address: 10.0.9.2: already has ipsec.ike-peers[0]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadIn(t, dir, c.body)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
