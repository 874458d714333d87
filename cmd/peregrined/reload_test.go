package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/fib/kernel"
	"github.com/peregrine-net/peregrine/fib/userspace"
)

// TestReloadNeedsRestart: every change that only takes effect at start is
// refused with a *RestartError naming its field; changes a running daemon
// makes (VRFs, tunnels on a backend that carries them, log level) pass.
func TestReloadNeedsRestart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "k.hex", strings.Repeat("ab", 20))
	writeFile(t, dir, "pe2.psk", "a-psk-of-twenty-bytes")
	const tunnels = `ipsec:
  local-address: 192.0.2.1
  tunnels:
    - remote: 192.0.2.2
      out: {spi: 0x1001, cipher: aes128gcm16, key-file: k.hex}
      in: {spi: 0x2001, cipher: aes128gcm16, key-file: k.hex}
`
	load := func(t *testing.T, extra string) *config.Config {
		t.Helper()
		base := goodConfig
		if strings.Contains(extra, "dataplane:") {
			base = strings.Replace(base, "dataplane: {backend: none}\n", "", 1)
		}
		cfg, err := config.Load(writeFile(t, dir, "pe.yml", base+extra))
		if err != nil {
			t.Fatalf("%v\n%s", err, extra)
		}
		return cfg
	}
	for _, tc := range []struct {
		name         string
		running, new string
		dp           runningDataplane
		field        string // "" when the reload must pass
	}{
		{"nothing changed", "", "", runningDataplane{}, ""},
		{"log level", "", "log: {level: debug}\n", runningDataplane{}, ""},
		{"vrf added", "", "vrfs: [{name: red, rd: '65000:1'}]\n", runningDataplane{}, ""},
		{"tunnels added on userspace", "", tunnels, runningDataplane{}, ""},
		{"tunnels added on kernel with a gateway", tunnels, tunnels + "    - {remote: 192.0.2.3, out: {spi: 0x1002, cipher: aes128gcm16, key-file: k.hex}, in: {spi: 0x2002, cipher: aes128gcm16, key-file: k.hex}}\n", runningDataplane{}, ""},
		{"tunnels added on kernel without IPsec", "", tunnels, runningDataplane{noTunnels: true}, "ipsec.tunnels"},
		{"tunnels removed on kernel without IPsec", "", "", runningDataplane{noTunnels: true}, ""},
		{"tunnels added on a backend that says it cannot carry them", "", tunnels, dataplaneOf(carrier{fake.New(), false}), "ipsec.tunnels"},
		{"tunnels added on a backend that says it carries them", "", tunnels, dataplaneOf(carrier{fake.New(), true}), ""},
		{"control socket", "", "control: {socket: /tmp/other.sock}\n", runningDataplane{}, "control.socket"},
		{"control socket group", "", "control: {socket-group: root}\n", runningDataplane{}, "control.socket-group"},
		{"metrics", "", "metrics: {listen: '127.0.0.1:9963'}\n", runningDataplane{}, "metrics.listen"},
		{"backend", "", "dataplane: {backend: userspace}\n", runningDataplane{}, "dataplane.backend"},
		{"mtu", "", "dataplane: {backend: none, mtu: 1400}\n", runningDataplane{}, "dataplane.mtu"},
		{"ttl mode", "", "mpls: {ttl-mode: pipe}\n", runningDataplane{}, "mpls.ttl-mode"},
		{"state directory", "", "state: {directory: /srv/peregrine}\n", runningDataplane{}, "state.directory"},
		{"replay window only", tunnels, tunnels + "  replay-window: 64\n", runningDataplane{}, ""},
		{"ike peer added", "", "ipsec: {local-address: 192.0.2.1, ike-peers: [{name: pe2, remote-address: 192.0.2.2, psk-file: pe2.psk}]}\n", runningDataplane{}, "ipsec.ike-peers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := restartNeeded(load(t, tc.running), load(t, tc.new), tc.dp)
			var re *RestartError
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.field != "" && !errors.As(err, &re):
				t.Errorf("accepted (%v); want a restart error for %s", err, tc.field)
			case tc.field != "" && (re.Field != tc.field || !strings.HasPrefix(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), "needs a restart")):
				t.Errorf("error %q: want one naming %s and saying a restart is needed", err, tc.field)
			}
		})
	}
}

// carrier is a backend that answers fib.TunnelCarrier with carries.
type carrier struct {
	*fake.Backend
	carries bool
}

func (c carrier) CarriesTunnels() bool { return c.carries }

// silent is a backend without the fib.TunnelCarrier ability.
type silent struct{ fib.Backend }

// TestDataplaneOf: the reload learns whether the running backend can
// carry tunnels through fib.TunnelCarrier alone, and a backend that does
// not say is taken not to (a reload adding tunnels then needs a restart).
// No backend at all ("none") programs nothing, so tunnels may come.
func TestDataplaneOf(t *testing.T) {
	for _, tc := range []struct {
		name      string
		b         fib.Backend
		noTunnels bool
	}{
		{"none", nil, false},
		{"says it carries", carrier{fake.New(), true}, false},
		{"says it does not", carrier{fake.New(), false}, true},
		{"does not say", silent{fake.New()}, true},
		{"fake", fake.New(), false},
		{"userspace", &userspace.Backend{}, false},
		{"kernel without an ESP gateway", &kernel.Backend{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dataplaneOf(tc.b).noTunnels; got != tc.noTunnels {
				t.Errorf("cannot carry tunnels: %v, want %v", got, tc.noTunnels)
			}
		})
	}
}

// TestReloadRefusedKeepsRunningConfig drives daemon.reload: a file that
// changes mpls.ttl-mode (which the backend took at start) is refused with a
// log line naming the field, and the running configuration stays.
func TestReloadRefusedKeepsRunningConfig(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "pe.yml", goodConfig)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	d := newDaemon(path, cfg, &logs)
	writeFile(t, dir, "pe.yml", goodConfig+"mpls: {ttl-mode: pipe}\n")
	d.reload(t.Context())
	if d.cfg != cfg || d.cfg.MPLS.TTLMode != "uniform" {
		t.Errorf("running configuration replaced: ttl-mode %s", d.cfg.MPLS.TTLMode)
	}
	if !strings.Contains(logs.String(), "reload refused") || !strings.Contains(logs.String(), "mpls.ttl-mode") {
		t.Errorf("log does not say why:\n%s", logs.String())
	}
}

// TestReloadIKEPeers: a reload that changes the IKE peers (here only the
// PSK) is refused; one that leaves them alone is not.
func TestReloadIKEPeers(t *testing.T) {
	dir := t.TempDir()
	load := func(psk, extra string) *config.Config {
		t.Helper()
		writeFile(t, dir, "pe2.psk", psk)
		cfg, err := config.Load(writeFile(t, dir, "pe.yml", goodConfig+`ipsec:
  local-address: 192.0.2.1
  ike-peers: [{name: pe2, remote-address: 192.0.2.2, psk-file: pe2.psk}]
`+extra))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a := load("first-psk-0123456789", "")
	if !sameIKEPeers(a, load("first-psk-0123456789", "log: {level: debug}\n")) {
		t.Error("unrelated change counted as an IKE peer change")
	}
	if sameIKEPeers(a, load("second-psk-0123456789", "")) {
		t.Error("a new PSK was not seen as a change")
	}
}
