package peers

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the config golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// sampleConfig is a PE with an IPv4 and an IPv6 session, a route
// reflector client, and routes of both families.
func sampleConfig() Config {
	a := netip.MustParseAddr
	return Config{
		RouterID: a("10.0.0.1"), ASN: 65000,
		Neighbors: []NeighborConfig{
			{Address: a("10.0.12.2"), RemoteAS: 65000, LocalAddress: a("10.0.12.1"), RRClient: true},
			{Address: a("fd00:13::3"), RemoteAS: 65000, LocalAddress: a("fd00:13::1"), ExtendedNextHop: true},
		},
		Routes: []VPNRoute{
			{RD: "65000:1", Prefix: netip.MustParsePrefix("10.1.0.0/24"), Label: 100, RTs: []string{"65000:1"}},
			{RD: "65000:1", Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Label: 101, RTs: []string{"65000:2", "65000:1"}},
			{RD: "192.0.2.1:5", Prefix: netip.MustParsePrefix("10.5.0.0/24"), Label: 500},
		},
	}
}

func TestFRRConfig(t *testing.T) {
	f := &FRR{daemon: daemon{name: "frr@pe"}, cfg: FRRConfig{Config: sampleConfig()}}
	got, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "frr-bgpd.conf.golden", got)
}

// TestFRRConfigGracefulRestart: graceful restart with its timers in whole
// seconds; FRR's defaults for the timers left zero.
func TestFRRConfigGracefulRestart(t *testing.T) {
	cfg := Config{RouterID: netip.MustParseAddr("10.0.0.1"), ASN: 65000,
		Neighbors: []NeighborConfig{{Address: netip.MustParseAddr("10.0.12.2"), RemoteAS: 65000, RRClient: true}}}
	for _, c := range []struct {
		gr   FRRGracefulRestart
		want []string
		not  []string
	}{
		{FRRGracefulRestart{RestartTime: 30 * time.Second, StalePathTime: 20 * time.Second, SelectDeferTime: 5 * time.Second},
			[]string{" bgp graceful-restart\n", "restart-time 30\n", "stalepath-time 20\n", "select-defer-time 5\n"}, nil},
		{FRRGracefulRestart{}, []string{" bgp graceful-restart\n"}, []string{"restart-time", "stalepath-time", "select-defer-time"}},
	} {
		f := &FRR{daemon: daemon{name: "frr@rr"}, cfg: FRRConfig{Config: cfg, GracefulRestart: &c.gr}}
		got, err := f.config()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v: config lacks %q:\n%s", c.gr, w, got)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("%+v: config has %q:\n%s", c.gr, n, got)
			}
		}
	}
}

func TestGoBGPConfig(t *testing.T) {
	var b strings.Builder
	if err := gobgpConf.Execute(&b, GoBGPConfig{Config: sampleConfig(), ListenAddr: netip.MustParseAddr("10.0.12.1")}); err != nil {
		t.Fatal(err)
	}
	golden(t, "gobgpd.toml.golden", b.String())
}

func TestBIRDConfig(t *testing.T) {
	cfg := sampleConfig()
	b := &BIRD{daemon: daemon{name: "bird@pe", dir: t.TempDir()}, cfg: BIRDConfig{Config: cfg}}
	path, err := b.writeConfig(cfg.Routes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "bird.conf.golden", string(got))

	// A route of a family no neighbor's local address gives a gateway for.
	b.cfg.Neighbors = b.cfg.Neighbors[:1]
	if _, err := b.writeConfig(cfg.Routes); err == nil || !strings.Contains(err.Error(), "gateway") {
		t.Errorf("writeConfig without an IPv6 gateway: err = %v, want one naming the gateway", err)
	}
}

// The templates must not fail at run time on any config that validates,
// including one with no neighbors and no routes.
func TestTemplatesExecuteOnEmptyConfig(t *testing.T) {
	empty := Config{RouterID: netip.MustParseAddr("10.0.0.1"), ASN: 65000}
	if _, err := (&FRR{cfg: FRRConfig{Config: empty}}).config(); err != nil {
		t.Errorf("frr: %v", err)
	}
	if err := gobgpConf.Execute(new(strings.Builder), GoBGPConfig{Config: empty}); err != nil {
		t.Errorf("gobgp: %v", err)
	}
	if _, err := (&BIRD{daemon: daemon{dir: t.TempDir()}, cfg: BIRDConfig{Config: empty}}).writeConfig(nil); err != nil {
		t.Errorf("bird: %v", err)
	}
}
