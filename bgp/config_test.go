package bgp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/mpls"
)

// TestRestartOnly: every field GoBGP cannot change while running refuses
// the reload with the YAML path an operator would look for; neighbors and
// VRFs reload.
func TestRestartOnly(t *testing.T) {
	base := Config{
		RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000,
		Labels:        mpls.Range{First: 1000, Last: 1999},
		ListenAddress: netip.MustParseAddr("192.0.2.1"), ListenPort: 179,
		API: netip.MustParseAddrPort("127.0.0.1:50051"),
	}
	for _, c := range []struct {
		name   string
		change func(*Config)
		want   string // "" for accepted
	}{
		{"router id", func(c *Config) { c.RouterID = netip.MustParseAddr("192.0.2.9") }, "router.id"},
		{"asn", func(c *Config) { c.ASN = 65001 }, "router.asn"},
		{"label min", func(c *Config) { c.Labels.First = 1001 }, "mpls: changing the label range"},
		{"label max", func(c *Config) { c.Labels.Last = 2000 }, "mpls: changing the label range"},
		{"listen address", func(c *Config) { c.ListenAddress = netip.Addr{} }, "listen-address"},
		{"listen port", func(c *Config) { c.ListenPort = 1179 }, "listen-port"},
		{"api", func(c *Config) { c.API = netip.AddrPort{} }, "bgp: changing api,"},
		{"api-write", func(c *Config) { c.APIWrite = true }, "api-write"},
		{"api-insecure-remote", func(c *Config) { c.APIInsecureRemote = true }, "api-insecure-remote"},
		{"neighbors", func(c *Config) { c.Neighbors = []Neighbor{{Address: netip.MustParseAddr("192.0.2.2"), ASN: 65000}} }, ""},
		{"vrfs", func(c *Config) { c.VRFs = []VRF{{Name: "red"}} }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			next := base
			c.change(&next)
			err := restartOnly(&base, &next)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "needs a restart")):
				t.Errorf("error %v; want one naming %q and a restart", err, c.want)
			}
		})
	}
}
