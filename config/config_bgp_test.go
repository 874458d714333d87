package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/bgp/vpn"
)

const pe = `
router: {id: 192.0.2.1, asn: 65000}
bgp:
  neighbors:
    - address: 10.0.0.2
      asn: 65000
      route-reflector-client: true
    - {address: '2001:db8::2', asn: 65001, families: [ipv6, vpnv6], hold-time: 9s}
vrfs:
  - name: red
    rd: 65000:1
    import-targets: [65000:1]
    export-targets: ['rt:65000:1', 192.0.2.1:7]
    interfaces: [ce1]
    static-routes:
      - {prefix: 10.1.0.0/24, next-hop: 10.1.255.2}
      - {prefix: '2001:db8:1::/48'}
  - name: blue
    rd: 4200000000:2
    import-targets: [4200000000:2]
    export-targets: [4200000000:2]
    interfaces: [ce2]
    label-mode: per-prefix
`

func TestParseBGPAndVRFs(t *testing.T) {
	cfg, err := Parse([]byte(pe))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.BGP.Neighbors
	if len(n) != 2 || n[0].HoldTime != DefaultHoldTime || n[0].Keepalive != DefaultKeepalive ||
		fmt.Sprint(n[0].Families) != "[vpnv4 vpnv6]" || !n[0].RouteReflectorClient {
		t.Errorf("neighbor 0 defaults: %+v", n[0])
	}
	if n[1].HoldTime != 9*time.Second || n[1].Keepalive != 3*time.Second {
		t.Errorf("neighbor 1 timers: hold %v keepalive %v, want 9s 3s", n[1].HoldTime, n[1].Keepalive)
	}
	red, blue := cfg.VRFs[0], cfg.VRFs[1]
	if red.RD != vpn.MustParseRD("65000:1") || red.ExportTargets[1] != vpn.MustParseRT("192.0.2.1:7") || red.LabelMode != "per-vrf" {
		t.Errorf("red: %+v", red)
	}
	if blue.RD.Kind() != vpn.KindAS4 || blue.LabelMode != "per-prefix" {
		t.Errorf("blue: %+v", blue)
	}
	if cfg.BGP.API.IsValid() || cfg.BGP.APIWrite || cfg.BGP.ListenPort != 179 || cfg.BGP.ListenAddress.IsValid() {
		t.Errorf("bgp defaults: %+v", cfg.BGP)
	}
}

func TestBadBGPAndVRFConfigs(t *testing.T) {
	base := "router: {id: 192.0.2.1, asn: 65000}\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"neighbor asn range", "bgp: {neighbors: [{address: 10.0.0.2, asn: 4294967296}]}", "bgp.neighbors[0].asn: 4294967296: out of range"},
		{"neighbor no address", "bgp: {neighbors: [{asn: 1}]}", "bgp.neighbors[0].address: required"},
		{"neighbor duplicate", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1}, {address: 10.0.0.2, asn: 1}]}", "bgp.neighbors[1].address: 10.0.0.2: already used by bgp.neighbors[0]"},
		{"neighbor family", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, families: [vpnv4, l2vpn]}]}", `bgp.neighbors[0].families[1]: "l2vpn": want one of`},
		{"neighbor unknown key", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, pasword-file: x}]}", "bgp.neighbors[0].pasword-file: unknown key"},
		{"local address family", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, local-address: '::1'}]}", "bgp.neighbors[0].local-address: ::1: is not of the same address family"},
		{"rr client eBGP", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, route-reflector-client: true}]}", "bgp.neighbors[0].route-reflector-client: true: only an iBGP neighbor"},
		{"hold time short", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, hold-time: 2s}]}", "bgp.neighbors[0].hold-time: 2s: must be 0"},
		{"hold time fraction", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, hold-time: 4500ms}]}", "bgp.neighbors[0].hold-time: 4.5s: must be whole seconds"},
		{"hold time no unit", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, hold-time: 90}]}", "bgp.neighbors[0].hold-time: 90: want a duration"},
		{"keepalive vs hold", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, hold-time: 9s, keepalive: 9s}]}", "bgp.neighbors[0].keepalive: 9s: must be shorter than hold-time"},
		{"listen v4 neighbor v6", "bgp: {listen-address: 0.0.0.0, neighbors: [{address: 10.0.0.2, asn: 1}, {address: '2001:db8::2', asn: 1}]}",
			"bgp.listen-address: 0.0.0.0: listens on IPv4 only, so bgp.neighbors[1].address 2001:db8::2 cannot connect to it"},
		{"listen v6 neighbor v4", "bgp: {listen-address: '::', neighbors: [{address: 10.0.0.2, asn: 1}]}",
			"bgp.listen-address: ::: listens on IPv6 only, so bgp.neighbors[0].address 10.0.0.2 cannot connect to it"},
		{"api no port", "bgp: {api: 127.0.0.1}", `bgp.api: "127.0.0.1"`},
		{"api port zero", "bgp: {api: '127.0.0.1:0'}", `bgp.api: 127.0.0.1:0: needs a port`},
		{"api remote", "bgp: {api: '192.0.2.1:50051'}", `bgp.api: 192.0.2.1:50051: is not a loopback address`},
		{"api any", "bgp: {api: '[::]:50051'}", `bgp.api: [::]:50051: is not a loopback address`},
		{"api write without api", "bgp: {api-write: true}", `bgp.api-write: true: has no effect without bgp.api`},
		{"api insecure without api", "bgp: {api-insecure-remote: true}", `bgp.api-insecure-remote: true: has no effect without bgp.api`},
		{"vrf rd syntax", "vrfs: [{name: red, rd: '65000-1'}]", `vrfs[0].rd: "65000-1": route distinguisher "65000-1": bad syntax`},
		{"vrf rd missing", "vrfs: [{name: red}]", "vrfs[0].rd: required"},
		{"vrf rt syntax", "vrfs: [{name: red, rd: '1:1', import-targets: ['1:1', '70000:70000']}]", `vrfs[0].import-targets[1]: "70000:70000"`},
		{"vrf duplicate rd", "vrfs: [{name: red, rd: '1:1'}, {name: blue, rd: '1:1'}]", "vrfs[1].rd: 1:1: already used by vrfs[0]"},
		{"vrf duplicate name", "vrfs: [{name: red, rd: '1:1'}, {name: red, rd: '1:2'}]", `vrfs[1].name: "red": already used by vrfs[0]`},
		{"vrf device names clash", "vrfs: [{name: customer0000869, rd: '1:1'}, {name: red, rd: '1:3'}, {name: customer0001026, rd: '1:2'}]", `vrfs[2].name: "customer0001026": its devices would be those of vrfs[0] "customer0000869" (pg-customerf742, vrf-customef742)`},
		{"vrf long name", "vrfs: [{name: a-very-long-vrf-name, rd: '1:1'}]", `vrfs[0].name: "a-very-long-vrf-name": must be 1-15 characters`},
		{"interface in two vrfs", "vrfs: [{name: red, rd: '1:1', interfaces: [ce1]}, {name: blue, rd: '1:2', interfaces: [ce2, ce1]}]", `vrfs[1].interfaces[1]: "ce1": already bound to vrfs[0].interfaces[0] (vrf red)`},
		{"static host bits", "vrfs: [{name: red, rd: '1:1', static-routes: [{prefix: 10.1.0.1/24}]}]", "vrfs[0].static-routes[0].prefix: 10.1.0.1/24: has host bits set; did you mean 10.1.0.0/24?"},
		{"static bad prefix", "vrfs: [{name: red, rd: '1:1', static-routes: [{prefix: 10.1.0.0/33}]}]", `vrfs[0].static-routes[0].prefix: "10.1.0.0/33"`},
		{"static next hop family", "vrfs: [{name: red, rd: '1:1', static-routes: [{prefix: 10.1.0.0/24, next-hop: '::1'}]}]", "vrfs[0].static-routes[0].next-hop: ::1: is not of the same address family"},
		{"label mode", "vrfs: [{name: red, rd: '1:1', label-mode: per-ce}]", `vrfs[0].label-mode: "per-ce": want per-vrf or per-prefix`},
		{"label range too small", "mpls: {label-min: 100, label-max: 100}\nvrfs: [{name: red, rd: '1:1'}, {name: blue, rd: '1:2'}]", "mpls.label-max: 100: the range 100..100 holds 1 labels but the VRFs need at least 2"},
		{"password both", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, password-file: x, password-env: Y}]}", "bgp.neighbors[0].password-env: \"Y\": set password-file or password-env, not both"},
		{"password env unset", "bgp: {neighbors: [{address: 10.0.0.2, asn: 1, password-env: PEREGRINE_TEST_UNSET_VAR}]}", `bgp.neighbors[0].password-env: "PEREGRINE_TEST_UNSET_VAR": environment variable is not set`},
		{"vrfs not a list", "vrfs: {name: red}", "vrfs: {...}: want a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base + tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

// TestBGPAPIAccepted: the loopback API, and a remote one with the explicit
// insecure flag.
func TestBGPAPIAccepted(t *testing.T) {
	for _, y := range []string{
		"bgp: {api: '127.0.0.1:50051'}",
		"bgp: {api: '[::1]:50051', api-write: true}",
		"bgp: {api: '192.0.2.1:50051', api-insecure-remote: true}",
	} {
		if _, err := Parse([]byte("router: {id: 192.0.2.1, asn: 65000}\n" + y)); err != nil {
			t.Errorf("%s: %v", y, err)
		}
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "rr.md5")
	if err := os.WriteFile(pw, []byte("s3cret-md5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "pe.yml")
	body := "router: {id: 192.0.2.1, asn: 65000}\nbgp: {neighbors: [{address: 10.0.0.2, asn: 65000, password-file: rr.md5}]}\n"
	if err := os.WriteFile(cfgPath, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.BGP.Neighbors[0].Password
	if got.Reveal() != "s3cret-md5" {
		t.Errorf("password = %q", got.Reveal())
	}
	for _, s := range []string{fmt.Sprint(got), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), fmt.Sprint(cfg.BGP.Neighbors)} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("secret printed: %s", s)
		}
	}

	if err := os.Chmod(pw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(cfgPath)
	if err == nil || !strings.Contains(err.Error(), `bgp.neighbors[0].password-file: "rr.md5": mode 0644 lets others read it`) {
		t.Errorf("world-readable password file: %v", err)
	}
}

// TestListenAddressDefaultBothFamilies: a configuration with no
// listen-address and neighbors of both families is valid, and leaves the
// address unset, which the speaker reads as "IPv4 and IPv6" (the
// default was 0.0.0.0, and an IPv6 core's sessions stayed active).
func TestListenAddressDefaultBothFamilies(t *testing.T) {
	cfg, err := Parse([]byte(`
router: {id: 192.0.2.1, asn: 65000}
bgp: {neighbors: [{address: 'fd00:0:0:1::2', asn: 65000}, {address: 10.0.0.2, asn: 65000}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BGP.ListenAddress.IsValid() {
		t.Errorf("default bgp.listen-address = %s, want unset (every address, both families)", cfg.BGP.ListenAddress)
	}
	for _, l := range []string{"'::'", "'2001:db8::1'"} {
		if _, err := Parse([]byte("router: {id: 192.0.2.1, asn: 65000}\nbgp: {listen-address: " + l + ", neighbors: [{address: 'fd00::2', asn: 65000}]}\n")); err != nil {
			t.Errorf("listen-address %s with an IPv6 neighbor: %v", l, err)
		}
	}
}
