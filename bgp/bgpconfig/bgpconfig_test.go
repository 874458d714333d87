package bgpconfig

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/mpls"
)

const full = `
router: {id: 192.0.2.1, asn: 65001}
mpls: {label-min: 2000, label-max: 2999, label-hold-down: 10m}
state: {directory: /srv/pe}
bgp:
  listen-address: 192.0.2.1
  listen-port: 1179
  api: '127.0.0.1:50051'
  api-write: true
  neighbors:
    - address: 192.0.2.2
      port: 1180
      asn: 65001
      description: pe2
      families: [vpnv4]
      local-address: 192.0.2.1
      route-reflector-client: true
      passive: true
      hold-time: 9s
      keepalive: 3s
      connect-retry: 2s
      password-env: BGPCONFIG_TEST_PASSWORD
      graceful-restart: {restart-time: 30s, stale-time: 60s}
vrfs:
  - name: red
    rd: '65001:1'
    import-targets: ['65001:10']
    export-targets: ['65001:11']
    interfaces: [ce0]
    label-mode: per-prefix
    static-routes:
      - {prefix: 10.1.0.0/24, next-hop: 10.0.0.2}
      - {prefix: 10.2.0.0/24}
    neighbors:
      - {address: 10.0.0.2, port: 1179, asn: 65101, description: ce1, families: [ipv4, ipv6], local-address: 10.0.0.1,
         passive: true, hold-time: 9s, keepalive: 3s, as-override: true, allowas-in: 1, site-of-origin: '65101:7',
         max-prefixes: 10, max-prefixes-restart: 1m, default-originate: true,
         import-prefixes: [{prefix: 10.0.0.0/8, ge: 16, action: deny}, {prefix: 10.0.0.0/8, le: 24, action: accept}],
         export-prefixes: []}
`

func TestTranslate(t *testing.T) {
	t.Setenv("BGPCONFIG_TEST_PASSWORD", "s3cret-md5")
	cfg, err := config.Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	rt := func(s string) vpn.RT {
		r, err := vpn.ParseRT(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rd, err := vpn.ParseRD("65001:1")
	if err != nil {
		t.Fatal(err)
	}
	want := &bgp.Config{
		RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65001,
		Labels:        mpls.Range{First: 2000, Last: 2999},
		LabelHoldDown: 10 * time.Minute, StateDir: "/srv/pe",
		ListenAddress: netip.MustParseAddr("192.0.2.1"), ListenPort: 1179,
		API: netip.MustParseAddrPort("127.0.0.1:50051"), APIWrite: true,
		Neighbors: []bgp.Neighbor{{
			Address: netip.MustParseAddr("192.0.2.2"), Port: 1180, ASN: 65001, Description: "pe2",
			Families: []string{"vpnv4"}, LocalAddress: netip.MustParseAddr("192.0.2.1"),
			RouteReflectorClient: true, Passive: true,
			HoldTime: 9 * time.Second, Keepalive: 3 * time.Second, ConnectRetry: 2 * time.Second,
			Password:        bgp.NewPassword("s3cret-md5"),
			GracefulRestart: bgp.GracefulRestart{Enabled: true, RestartTime: 30 * time.Second, StaleTime: time.Minute},
		}},
		VRFs: []bgp.VRF{{
			Name: "red", RD: rd, ImportTargets: []vpn.RT{rt("65001:10")}, ExportTargets: []vpn.RT{rt("65001:11")},
			Interfaces: []string{"ce0"}, LabelMode: "per-prefix",
			StaticRoutes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("10.2.0.0/24")},
			Neighbors: []bgp.CENeighbor{{
				Address: netip.MustParseAddr("10.0.0.2"), Port: 1179, ASN: 65101, Description: "ce1",
				Families: []string{"ipv4", "ipv6"}, LocalAddress: netip.MustParseAddr("10.0.0.1"),
				Passive: true, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second,
				ASOverride: true, AllowASIn: 1, SiteOfOrigin: rt("65101:7"),
				MaxPrefixes: 10, MaxPrefixesRestart: time.Minute, DefaultOriginate: true,
				ImportPrefixes: []bgp.PrefixRule{
					{Prefix: netip.MustParsePrefix("10.0.0.0/8"), MinLen: 16, MaxLen: 32, Accept: false},
					{Prefix: netip.MustParsePrefix("10.0.0.0/8"), MinLen: 8, MaxLen: 24, Accept: true},
				},
				ExportPrefixes: []bgp.PrefixRule{}, // present and empty: deny all
			}},
		}},
	}
	got := Translate(cfg)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Translate:\n got %+v\nwant %+v", got, want)
	}
	if p := got.Neighbors[0].Password.Reveal(); p != "s3cret-md5" {
		t.Errorf("password = %q", p)
	}
	if s := fmt.Sprintf("%v %+v %#v %v %q %x", got, *got, *got, got.Neighbors, got.Neighbors[0].Password, got.Neighbors[0].Password); strings.Contains(s, "s3cret") {
		t.Errorf("printing the translated config shows the password: %s", s)
	}
}

// TestTranslateCoversConfig fails when config gains a BGP, neighbor or
// VRF field that Translate does not know about: translate it, or add it
// here as deliberately not the speaker's.
func TestTranslateCoversConfig(t *testing.T) {
	for _, c := range []struct {
		typ     reflect.Type
		handled []string
	}{
		{reflect.TypeFor[config.Router](), []string{"ID", "ASN"}},
		{reflect.TypeFor[config.BGP](), []string{"ListenAddress", "ListenPort", "API", "APIWrite", "APIInsecureRemote", "Neighbors"}},
		{reflect.TypeFor[config.Neighbor](), []string{"Address", "Port", "ASN", "Description", "Families", "LocalAddress",
			"RouteReflectorClient", "Passive", "HoldTime", "Keepalive", "ConnectRetry", "GracefulRestart",
			"PasswordFile", "PasswordEnv", // read into Password at load time
			"Password"}},
		{reflect.TypeFor[config.VRF](), []string{"Name", "RD", "ImportTargets", "ExportTargets", "Interfaces", "StaticRoutes", "LabelMode", "Neighbors",
			"IPsecAttachments"}}, // exported only while up: Speaker.SetAttached, from the keying service
		{reflect.TypeFor[config.CENeighbor](), []string{"Address", "Port", "ASN", "Description", "Families", "LocalAddress",
			"Passive", "HoldTime", "Keepalive",
			"PasswordFile", // read into Password at load time
			"Password", "ASOverride", "AllowASIn", "SiteOfOrigin", "MaxPrefixes", "MaxPrefixesRestart",
			"ImportPrefixes", "ExportPrefixes", "DefaultOriginate"}},
		{reflect.TypeFor[config.StaticRoute](), []string{"Prefix",
			"NextHop"}}, // the FIB's: BGP exports the prefix whatever its next hop
	} {
		for i := range c.typ.NumField() {
			if f := c.typ.Field(i).Name; !slices.Contains(c.handled, f) {
				t.Errorf("config.%s.%s: not translated to bgp.Config, nor listed here as not the speaker's", c.typ.Name(), f)
			}
		}
	}
}
