package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/bgp/vpn"
)

// twoCustomers has red and blue with the same CE address and AS: valid,
// since each VRF is its own address space.
const twoCustomers = `
router: {id: 192.0.2.1, asn: 65000}
bgp: {listen-address: 192.0.2.1}
vrfs:
  - name: red
    rd: 65000:1
    import-targets: [65000:1]
    export-targets: [65000:1]
    interfaces: [ce1]
    neighbors:
      - address: 10.1.0.2
        asn: 65101
        description: red site 1
        as-override: true
        allowas-in: 2
        site-of-origin: 65101:1
        max-prefixes: 100
        max-prefixes-restart: 30s
      - {address: 'fd00:1::2', asn: 65101, families: [ipv6], hold-time: 9s, passive: true, local-address: 'fd00:1::1', port: 1179}
  - name: blue
    rd: 65000:2
    import-targets: [65000:2]
    export-targets: [65000:2]
    interfaces: [ce2]
    neighbors:
      - address: 10.1.0.2
        asn: 65101
        families: [ipv4, ipv6]
        default-originate: true
        import-prefixes:
          - {prefix: 10.66.0.0/16, le: 32, action: deny}
          - {prefix: 10.0.0.0/8, ge: 16, le: 24, action: accept}
          - {prefix: 'fd00::/8', ge: 48, action: accept}
        export-prefixes:
          - {prefix: 0.0.0.0/0, action: accept}
          - {prefix: '::/0', le: 0, action: accept}
`

func TestParseCENeighbors(t *testing.T) {
	cfg, err := Parse([]byte(twoCustomers))
	if err != nil {
		t.Fatal(err)
	}
	red, blue := cfg.VRFs[0].Neighbors, cfg.VRFs[1].Neighbors
	if len(red) != 2 || len(blue) != 1 {
		t.Fatalf("neighbors: red %d, blue %d, want 2 and 1", len(red), len(blue))
	}
	r0 := red[0]
	if r0.Address != netip.MustParseAddr("10.1.0.2") || r0.ASN != 65101 || r0.Description != "red site 1" ||
		!r0.ASOverride || r0.AllowASIn != 2 || r0.SiteOfOrigin != vpn.MustParseRT("65101:1") ||
		r0.MaxPrefixes != 100 || r0.MaxPrefixesRestart != 30*time.Second {
		t.Errorf("red[0] = %+v", r0)
	}
	// Defaults: port 179, the address's family, the global timers.
	if r0.Port != 179 || fmt.Sprint(r0.Families) != "[ipv4]" || r0.HoldTime != DefaultHoldTime || r0.Keepalive != DefaultKeepalive || r0.Passive {
		t.Errorf("red[0] defaults = %+v", r0)
	}
	r1 := red[1]
	if r1.Port != 1179 || fmt.Sprint(r1.Families) != "[ipv6]" || r1.HoldTime != 9*time.Second || r1.Keepalive != 3*time.Second ||
		!r1.Passive || r1.LocalAddress != netip.MustParseAddr("fd00:1::1") {
		t.Errorf("red[1] = %+v", r1)
	}
	if b := blue[0]; fmt.Sprint(b.Families) != "[ipv4 ipv6]" || b.ASOverride || b.AllowASIn != 0 || b.SiteOfOrigin.IsValid() || b.MaxPrefixes != 0 || !b.DefaultOriginate {
		t.Errorf("blue[0] = %+v", b)
	}
	if r0.DefaultOriginate || r0.ImportPrefixes != nil || r0.ExportPrefixes != nil {
		t.Errorf("red[0] policy defaults = %+v", r0)
	}
	// Each rule's matched lengths, as FRR reads ge and le.
	var got []string
	for _, r := range append(slices.Clone(blue[0].ImportPrefixes), blue[0].ExportPrefixes...) {
		lo, hi := r.Lengths()
		got = append(got, fmt.Sprintf("%s %d..%d %s", r.Prefix, lo, hi, r.Action))
	}
	want := []string{"10.66.0.0/16 16..32 deny", "10.0.0.0/8 16..24 accept", "fd00::/8 48..128 accept", "0.0.0.0/0 0..0 accept", "::/0 0..0 accept"}
	if !slices.Equal(got, want) {
		t.Errorf("prefix rules:\n got %q\nwant %q", got, want)
	}
}

// TestBadCENeighbors: each bad key is one error naming the field's path and
// the bad value; none panics.
func TestBadCENeighbors(t *testing.T) {
	const head = "router: {id: 192.0.2.1, asn: 65000}\nvrfs: [{name: red, rd: '65000:1', interfaces: [ce1], neighbors: ["
	for _, tc := range []struct{ name, neighbors, want string }{
		{"address missing", "{asn: 65001}", "vrfs[0].neighbors[0].address: required"},
		{"address not an address", "{address: 10.1.0.x, asn: 65001}", `vrfs[0].neighbors[0].address: "10.1.0.x"`},
		{"address multicast", "{address: 224.0.0.5, asn: 65001}", "vrfs[0].neighbors[0].address: 224.0.0.5: must be a unicast address"},
		{"address unspecified", "{address: 0.0.0.0, asn: 65001}", "vrfs[0].neighbors[0].address: 0.0.0.0: must be a unicast address"},
		{"address zone", "{address: 'fe80::2%ce1', asn: 65001}", "vrfs[0].neighbors[0].address: fe80::2%ce1: must not carry a zone"},
		{"duplicate in one vrf", "{address: 10.1.0.2, asn: 65001}, {address: 10.1.0.2, asn: 65002}", "vrfs[0].neighbors[1].address: 10.1.0.2: already used by vrfs[0].neighbors[0]"},
		{"asn missing", "{address: 10.1.0.2}", "vrfs[0].neighbors[0].asn: required"},
		{"asn is ours", "{address: 10.1.0.2, asn: 65000}", "vrfs[0].neighbors[0].asn: 65000: is router.asn"},
		{"unknown family", "{address: 10.1.0.2, asn: 65001, families: [vpnv4]}", `vrfs[0].neighbors[0].families[0]: "vpnv4": want ipv4 or ipv6`},
		{"family twice", "{address: 10.1.0.2, asn: 65001, families: [ipv4, ipv4]}", `vrfs[0].neighbors[0].families[1]: "ipv4": listed twice`},
		{"local address family", "{address: 10.1.0.2, asn: 65001, local-address: 'fd00::1'}", "vrfs[0].neighbors[0].local-address: fd00::1: is not of the same address family as 10.1.0.2"},
		{"hold time short", "{address: 10.1.0.2, asn: 65001, hold-time: 2s}", "vrfs[0].neighbors[0].hold-time: 2s: must be 0 (no keepalives) or at least 3s"},
		{"keepalive not shorter", "{address: 10.1.0.2, asn: 65001, hold-time: 9s, keepalive: 9s}", "vrfs[0].neighbors[0].keepalive: 9s: must be shorter than hold-time (9s)"},
		{"hold time fraction", "{address: 10.1.0.2, asn: 65001, hold-time: 3500ms}", "vrfs[0].neighbors[0].hold-time: 3.5s: must be whole seconds"},
		{"allowas-in too many", "{address: 10.1.0.2, asn: 65001, allowas-in: 11}", "vrfs[0].neighbors[0].allowas-in: 11: must be 0..10"},
		{"allowas-in negative", "{address: 10.1.0.2, asn: 65001, allowas-in: -1}", "vrfs[0].neighbors[0].allowas-in: -1: must not be negative"},
		{"site-of-origin syntax", "{address: 10.1.0.2, asn: 65001, site-of-origin: 'site-1'}", `vrfs[0].neighbors[0].site-of-origin: "site-1"`},
		{"as-override not bool", "{address: 10.1.0.2, asn: 65001, as-override: 'yes please'}", `vrfs[0].neighbors[0].as-override: "yes please": want true or false`},
		{"max-prefixes negative", "{address: 10.1.0.2, asn: 65001, max-prefixes: -5}", "vrfs[0].neighbors[0].max-prefixes: -5: must not be negative"},
		{"restart without max", "{address: 10.1.0.2, asn: 65001, max-prefixes-restart: 30s}", "vrfs[0].neighbors[0].max-prefixes-restart: 30s: has no effect without max-prefixes"},
		{"restart fraction", "{address: 10.1.0.2, asn: 65001, max-prefixes: 10, max-prefixes-restart: 500ms}", "vrfs[0].neighbors[0].max-prefixes-restart: 500ms: must be whole seconds, at least 1s"},
		{"unknown key", "{address: 10.1.0.2, asn: 65001, route-reflector-client: true}", "vrfs[0].neighbors[0].route-reflector-client: unknown key"},
		{"password-env is a global key only", "{address: 10.1.0.2, asn: 65001, password-env: X}", "vrfs[0].neighbors[0].password-env: unknown key"},
		{"rule prefix not a prefix", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.0.0.0/33, action: accept}]}", `vrfs[0].neighbors[0].import-prefixes[0].prefix: "10.0.0.0/33"`},
		{"rule prefix missing", "{address: 10.1.0.2, asn: 65001, export-prefixes: [{le: 24, action: accept}]}", "vrfs[0].neighbors[0].export-prefixes[0].prefix: required"},
		{"rule prefix host bits", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.1.0.1/16, action: accept}]}", "vrfs[0].neighbors[0].import-prefixes[0].prefix: 10.1.0.1/16: has host bits set; did you mean 10.1.0.0/16?"},
		{"rule family not carried", "{address: 10.1.0.2, asn: 65001, export-prefixes: [{prefix: 'fd00::/8', action: accept}]}", "vrfs[0].neighbors[0].export-prefixes[0].prefix: fd00::/8: is ipv6, which this session does not carry"},
		{"rule v4 on v6 session", "{address: 'fd00::2', asn: 65001, import-prefixes: [{prefix: 10.0.0.0/8, le: 24, action: deny}]}", "vrfs[0].neighbors[0].import-prefixes[0].prefix: 10.0.0.0/8: is ipv4, which this session does not carry"},
		{"rule le too long", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.0.0.0/8, le: 33, action: accept}]}", "vrfs[0].neighbors[0].import-prefixes[0].le: 33: must be at most 32 for ipv4"},
		{"rule le over a byte", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.0.0.0/8, le: 300, action: accept}]}", "vrfs[0].neighbors[0].import-prefixes[0].le: 300: out of range 0..255"},
		{"rule le negative", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.0.0.0/8, le: -1, action: accept}]}", "vrfs[0].neighbors[0].import-prefixes[0].le: -1: must not be negative"},
		{"rule le below prefix length", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.0.0.0/16, le: 8, action: accept}]}", "vrfs[0].neighbors[0].import-prefixes[0].le: 8: is shorter than the prefix length of 10.0.0.0/16"},
		{"rule ge below prefix length", "{address: 10.1.0.2, asn: 65001, export-prefixes: [{prefix: 10.0.0.0/16, ge: 12, action: accept}]}", "vrfs[0].neighbors[0].export-prefixes[0].ge: 12: is shorter than the prefix length of 10.0.0.0/16"},
		{"rule ge too long v6", "{address: 'fd00::2', asn: 65001, export-prefixes: [{prefix: 'fd00::/8', ge: 129, action: accept}]}", "vrfs[0].neighbors[0].export-prefixes[0].ge: 129: must be at most 128 for ipv6"},
		{"rule ge above le", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.0.0.0/8, ge: 24, le: 16, action: accept}]}", "vrfs[0].neighbors[0].import-prefixes[0].ge: 24: is greater than le (16)"},
		{"rule action unknown", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.0.0.0/8, action: permit}]}", `vrfs[0].neighbors[0].import-prefixes[0].action: "permit": want accept or deny`},
		{"rule action missing", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.0.0.0/8}, {prefix: 10.0.0.0/8, action: deny}]}", "vrfs[0].neighbors[0].import-prefixes[0].action: required: accept or deny"},
		{"rule unknown key", "{address: 10.1.0.2, asn: 65001, import-prefixes: [{prefix: 10.0.0.0/8, action: deny, seq: 5}]}", "vrfs[0].neighbors[0].import-prefixes[0].seq: unknown key"},
		{"rules not a list", "{address: 10.1.0.2, asn: 65001, export-prefixes: {prefix: 10.0.0.0/8}}", "vrfs[0].neighbors[0].export-prefixes: {...}: want a list"},
		{"passive with the core on every address", "{address: 10.1.0.2, asn: 65001, passive: true, local-address: 10.1.0.1}", "vrfs[0].neighbors[0].passive: true: needs bgp.listen-address"},
		{"default-originate not bool", "{address: 10.1.0.2, asn: 65001, default-originate: always}", `vrfs[0].neighbors[0].default-originate: "always": want true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(head + tc.neighbors + "]}]\n"))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg.VRFs[0].Neighbors)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

// TestBadCEPassive: a passive CE whose session this PE could not accept
// in its VRF alone is refused, naming the field and the value; the same
// CE with the core on a specific address and its own local-address is
// valid.
func TestBadCEPassive(t *testing.T) {
	const cfg = "router: {id: 192.0.2.1, asn: 65000}\nbgp: {%s}\nvrfs: [{name: red, rd: '65000:1', interfaces: [ce1], neighbors: [%s]}]\n"
	const ce = "{address: 10.1.0.2, asn: 65001, passive: true, local-address: 10.1.0.1}"
	for _, tc := range []struct{ name, bgp, neighbor, want string }{
		{"core on 0.0.0.0", "listen-address: 0.0.0.0", ce, "vrfs[0].neighbors[0].passive: true: needs bgp.listen-address to be a specific address, not 0.0.0.0"},
		{"core on ::", "listen-address: '::'", "{address: 'fd00:1::2', asn: 65001, passive: true, local-address: 'fd00:1::1'}", "vrfs[0].neighbors[0].passive: true: needs bgp.listen-address to be a specific address, not ::"},
		{"core listens nowhere", "listen-address: 192.0.2.1, listen-port: 0", ce, "vrfs[0].neighbors[0].passive: true: needs bgp.listen-port"},
		{"no local-address", "listen-address: 192.0.2.1", "{address: 10.1.0.2, asn: 65001, passive: true}", "vrfs[0].neighbors[0].local-address: required with passive: true: this PE's address on the CE's link, where vrf red listens"},
		{"local-address is the core's", "listen-address: 192.0.2.1", "{address: 10.1.0.2, asn: 65001, passive: true, local-address: 192.0.2.1}", "vrfs[0].neighbors[0].local-address: 192.0.2.1: is bgp.listen-address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(fmt.Sprintf(cfg, tc.bgp, tc.neighbor)))
			if err == nil {
				t.Fatalf("accepted: %+v", c.VRFs[0].Neighbors)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(fmt.Sprintf(cfg, "listen-address: 192.0.2.1", ce))); err != nil {
		t.Errorf("a passive CE with the core on 192.0.2.1: %v", err)
	}
}

// TestCEPasswordFile: a CE's password file is read with the checks of a
// global neighbor's, and the password never prints.
func TestCEPasswordFile(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "ce.md5")
	if err := os.WriteFile(pw, []byte("ce-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "pe.yml")
	body := "router: {id: 192.0.2.1, asn: 65000}\nvrfs: [{name: red, rd: '65000:1', neighbors: [{address: 10.1.0.2, asn: 65001, password-file: ce.md5}]}]\n"
	if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.VRFs[0].Neighbors[0].Password.Reveal(); got != "ce-s3cret" {
		t.Errorf("password = %q", got)
	}
	if s := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg); strings.Contains(s, "s3cret") {
		t.Errorf("secret printed: %s", s)
	}
	if err := os.Chmod(pw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(cfgPath); err == nil || !strings.Contains(err.Error(), `vrfs[0].neighbors[0].password-file: "ce.md5": mode 0644 lets others read it`) {
		t.Errorf("world-readable CE password file: %v", err)
	}
}

func TestCheckCEOnLink(t *testing.T) {
	cfg, err := Parse([]byte(twoCustomers))
	if err != nil {
		t.Fatal(err)
	}
	on := []netip.Prefix{netip.MustParsePrefix("10.1.0.1/24"), netip.MustParsePrefix("fd00:1::1/64")}
	if errs := cfg.CheckCEOnLink("red", on); len(errs) != 0 {
		t.Errorf("on-link CEs reported: %v", errs)
	}
	errs := cfg.CheckCEOnLink("red", on[:1])
	if len(errs) != 1 || !strings.Contains(errs.Error(), "vrfs[0].neighbors[1].address: fd00:1::2: is in no subnet of vrf red's interfaces (they have 10.1.0.0/24)") {
		t.Errorf("off-link IPv6 CE: %v", errs)
	}
	// Blue's CE has red's address; only blue's own subnets count.
	errs = cfg.CheckCEOnLink("blue", nil)
	if len(errs) != 1 || !strings.Contains(errs.Error(), "vrfs[1].neighbors[0].address: 10.1.0.2: is in no subnet of vrf blue's interfaces (they have no addresses yet)") {
		t.Errorf("blue without addresses: %v", errs)
	}
}
