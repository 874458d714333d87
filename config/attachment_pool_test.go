package config

import (
	"net/netip"
	"strings"
	"testing"
)

// pools is a PE whose red and blue VRFs lease the same pool: valid, the
// VRFs keep the hosts apart.
const pools = `
dataplane: {backend: userspace}
ipsec:
  local-address: 10.0.0.1
vrfs:
  - name: red
    rd: 65000:1
    ipsec-attachments:
      - name: ra-red
        kind: pool
        pool: 10.77.0.0/24
        pool6: fd00:77::10-fd00:77::20
        dns: [10.1.0.53]
        remote-ids: [laptop.example, "*.hosts.example", "*@example.com"]
        ike: {psk-file: pe2.psk}
  - name: blue
    rd: 65000:2
    ipsec-attachments:
      - name: ra-blue
        kind: pool
        pool: 10.77.0.10-10.77.0.12
        remote-ids: [laptop.blue.example]
        ike: {psk-file: pe2.psk}
`

func TestAttachmentPool(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o600)
	cfg, err := loadIn(t, dir, pools)
	if err != nil {
		t.Fatal(err)
	}
	red, blue := cfg.VRFs[0].IPsecAttachments[0], cfg.VRFs[1].IPsecAttachments[0]
	if red.Kind != AttachmentPool || red.Pool.String() != "10.77.0.1-10.77.0.254" || red.Pool6.String() != "fd00:77::10-fd00:77::20" {
		t.Errorf("red: kind %q pool %v pool6 %v", red.Kind, red.Pool, red.Pool6)
	}
	if len(red.DNS) != 1 || red.DNS[0] != netip.MustParseAddr("10.1.0.53") || len(red.RemoteIDs) != 3 || red.IKE.InitiateOrDefault() {
		t.Errorf("red: dns %v ids %v initiate %v", red.DNS, red.RemoteIDs, red.IKE.InitiateOrDefault())
	}
	if blue.Pool.String() != "10.77.0.10-10.77.0.12" || !blue.Pool.Contains(netip.MustParseAddr("10.77.0.12")) || blue.Pool.Contains(netip.MustParseAddr("10.77.0.13")) {
		t.Errorf("blue pool %v", blue.Pool)
	}
}

func TestAttachmentPoolBad(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o600)
	vrf := func(extra, atts string) string {
		return "dataplane: {backend: userspace}\nipsec: {local-address: 10.0.0.1}\nvrfs:\n  - name: red\n    rd: 65000:1\n" + extra + "    ipsec-attachments:\n" + atts
	}
	const ike = "        ike: {psk-file: pe2.psk}\n"
	const ids = "        remote-ids: [laptop.example]\n"
	pool := func(keys string) string { return "      - name: ra\n        kind: pool\n" + keys }
	cases := []struct {
		name, body string
		want       []string
	}{
		{"no pool", vrf("", pool(ids+ike)), []string{"vrfs[0].ipsec-attachments[0].pool: required with kind: pool"}},
		{"pool too small", vrf("", pool("        pool: 10.77.0.0/31\n"+ids+ike)), []string{"vrfs[0].ipsec-attachments[0].pool: \"10.77.0.0/31\": too small"}},
		{"pool host bits", vrf("", pool("        pool: 10.77.0.1/24\n"+ids+ike)), []string{"vrfs[0].ipsec-attachments[0].pool: \"10.77.0.1/24\": has host bits set; did you mean 10.77.0.0/24?"}},
		{"range backwards", vrf("", pool("        pool: 10.77.0.9-10.77.0.1\n"+ids+ike)), []string{"vrfs[0].ipsec-attachments[0].pool: \"10.77.0.9-10.77.0.1\": the range ends before it starts"}},
		{"pool v6", vrf("", pool("        pool: fd00::/64\n"+ids+ike)), []string{"vrfs[0].ipsec-attachments[0].pool: fd00::1-fd00::ffff:ffff:ffff:fffe: must be IPv4"}},
		{"pool6 v4", vrf("", pool("        pool: 10.77.0.0/24\n        pool6: 10.78.0.0/24\n"+ids+ike)), []string{"vrfs[0].ipsec-attachments[0].pool6: 10.78.0.1-10.78.0.254: must be IPv6"}},
		{"no remote-ids", vrf("", pool("        pool: 10.77.0.0/24\n"+ike)), []string{"vrfs[0].ipsec-attachments[0].remote-ids: required with kind: pool"}},
		{"bad pattern", vrf("", pool("        pool: 10.77.0.0/24\n        remote-ids: ['*example.com']\n"+ike)), []string{`vrfs[0].ipsec-attachments[0].remote-ids[0]: "*example.com": a pattern is`}},
		{"remote address", vrf("", pool("        pool: 10.77.0.0/24\n"+ids+"        ike: {psk-file: pe2.psk, remote-address: 10.0.9.2}\n")),
			[]string{"vrfs[0].ipsec-attachments[0].ike.remote-address: 10.0.9.2: not used with kind: pool"}},
		{"remote id", vrf("", pool("        pool: 10.77.0.0/24\n"+ids+"        ike: {psk-file: pe2.psk, remote-id: a.example}\n")),
			[]string{`vrfs[0].ipsec-attachments[0].ike.remote-id: "a.example": not used with kind: pool`}},
		{"site prefixes", vrf("", pool("        pool: 10.77.0.0/24\n        site-prefixes: [10.9.0.0/24]\n"+ids+ike)),
			[]string{"vrfs[0].ipsec-attachments[0].site-prefixes: 10.9.0.0/24: not used with kind: pool"}},
		{"static route in pool", vrf("    static-routes: [{prefix: 10.77.0.128/25}]\n", pool("        pool: 10.77.0.0/24\n"+ids+ike)),
			[]string{"vrfs[0].ipsec-attachments[0].pool: 10.77.0.1-10.77.0.254: overlaps static route 10.77.0.128/25 (static-routes[0]) of the same VRF"}},
		{"pool over a site", vrf("", "      - name: gw\n        site-prefixes: [10.77.0.0/28]\n        ike: {remote-address: 10.0.9.2, psk-file: pe2.psk}\n"+pool("        pool: 10.77.0.0/24\n"+ids+ike)),
			[]string{"vrfs[0].ipsec-attachments[1].pool: 10.77.0.1-10.77.0.254: overlaps 10.77.0.0/28 (vrfs[0].ipsec-attachments[0].site-prefixes[0])"}},
		{"site over a pool", vrf("", pool("        pool: 10.77.0.0/24\n"+ids+ike)+"      - name: gw\n        site-prefixes: [10.77.0.0/28]\n        ike: {remote-address: 10.0.9.2, psk-file: pe2.psk}\n"),
			[]string{"vrfs[0].ipsec-attachments[1].site-prefixes[0]: 10.77.0.0/28: overlaps 10.77.0.1/32 (vrfs[0].ipsec-attachments[0].pool)"}},
		{"two pools", vrf("", pool("        pool: 10.77.0.0/24\n"+ids+ike)+"      - name: rb\n        kind: pool\n        pool: 10.77.0.200-10.77.1.5\n"+ids+ike),
			[]string{"vrfs[0].ipsec-attachments[1].pool: 10.77.0.200-10.77.1.5: overlaps"}},
		{"pool keys on a gateway", vrf("", "      - name: gw\n        site-prefixes: [10.9.0.0/24]\n        pool: 10.77.0.0/24\n        ike: {remote-address: 10.0.9.2, psk-file: pe2.psk}\n"),
			[]string{`vrfs[0].ipsec-attachments[0].kind: "gateway": pool, pool6, dns and remote-ids need kind: pool`}},
		{"bad dns", vrf("", pool("        pool: 10.77.0.0/24\n        dns: [0.0.0.0]\n"+ids+ike)), []string{"vrfs[0].ipsec-attachments[0].dns[0]: 0.0.0.0: want a DNS server's address"}},
		{"initiate", vrf("", pool("        pool: 10.77.0.0/24\n"+ids+"        ike: {psk-file: pe2.psk, initiate: true}\n")),
			[]string{"vrfs[0].ipsec-attachments[0].ike.initiate: true: a pool answers its hosts"}},
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

// One identity, one attachment: a pool's remote-ids may not admit an
// any-address gateway's remote-id, nor overlap another pool's, in any
// VRF (IKE picks the attachment, so the VRF, by identity alone).
func TestAttachmentPoolIdentityOverlaps(t *testing.T) {
	dir := t.TempDir()
	writePSK(t, dir, testPSK, 0o600)
	cfg := func(redIDs, blueIDs string) string {
		return "dataplane: {backend: userspace}\nipsec: {local-address: 10.0.0.1}\nvrfs:\n" +
			"  - name: red\n    rd: 65000:1\n    ipsec-attachments:\n      - name: ra-red\n        kind: pool\n        pool: 10.77.0.0/24\n        remote-ids: " + redIDs + "\n        ike: {psk-file: pe2.psk}\n" +
			"      - name: gw\n        site-prefixes: [10.9.0.0/24]\n        ike: {psk-file: pe2.psk, remote-id: gw.sites.example}\n" +
			"  - name: blue\n    rd: 65000:2\n    ipsec-attachments:\n      - name: ra-blue\n        kind: pool\n        pool: 10.77.0.0/24\n        remote-ids: " + blueIDs + "\n        ike: {psk-file: pe2.psk}\n"
	}
	if _, err := loadIn(t, dir, cfg("['*.red.example']", "['*.blue.example', '*@blue.example']")); err != nil {
		t.Fatalf("distinct identities refused: %v", err)
	}
	for _, c := range []struct{ name, red, blue, want string }{
		{"pattern admits a gateway", "['*.sites.example']", "[a.blue.example]",
			`vrfs[0].ipsec-attachments[0].remote-ids[0]: "*.sites.example": admits "gw.sites.example", the remote-id of vrfs[0].ipsec-attachments[1].ike`},
		{"same identity in two pools", "[laptop.example]", "[laptop.example]",
			`vrfs[1].ipsec-attachments[0].remote-ids[0]: "laptop.example": overlaps "laptop.example" (vrfs[0].ipsec-attachments[0].remote-ids[0])`},
		{"pattern over another pool's identity", "[laptop.hosts.example]", "['*.hosts.example']",
			`vrfs[1].ipsec-attachments[0].remote-ids[0]: "*.hosts.example": overlaps "laptop.hosts.example"`},
		{"nested patterns", "['*.example']", "['*.hosts.example']",
			`vrfs[1].ipsec-attachments[0].remote-ids[0]: "*.hosts.example": overlaps "*.example"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadIn(t, dir, cfg(c.red, c.blue))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant %s", err, c.want)
			}
		})
	}
}
