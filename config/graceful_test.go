package config

import (
	"strings"
	"testing"
	"time"
)

func TestGracefulRestartDefaults(t *testing.T) {
	cfg, err := Parse([]byte("router: {id: 192.0.2.1, asn: 65000}\nbgp:\n  neighbors:\n" +
		"    - {address: 192.0.2.2, asn: 65000}\n" +
		"    - {address: 192.0.2.3, asn: 65000, families: [ipv4]}\n" +
		"    - {address: 192.0.2.4, asn: 65000, graceful-restart: {enabled: false}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, false} {
		g := cfg.BGP.Neighbors[i].GracefulRestart
		if g.On() != want || g.RestartTime != DefaultGRRestartTime || g.StaleTime != DefaultGRStaleTime {
			t.Errorf("neighbor %d: graceful-restart on %v, %v, %v; want on %v and the default times", i, g.On(), g.RestartTime, g.StaleTime, want)
		}
	}
	if cfg.MPLS.LabelHoldDown != 480*time.Second {
		t.Errorf("label-hold-down default %v, want 8m", cfg.MPLS.LabelHoldDown)
	}
}

func TestGracefulRestartValidation(t *testing.T) {
	base := "router: {id: 192.0.2.1, asn: 65000}\n"
	for _, tc := range []struct{ body, want string }{
		{"bgp: {neighbors: [{address: 192.0.2.2, asn: 65000, graceful-restart: {restart-time: 5000s}}]}\nmpls: {label-hold-down: 2h}\n",
			`bgp.neighbors[0].graceful-restart.restart-time: 1h23m20s: want whole seconds up to 4095s`},
		{"bgp: {neighbors: [{address: 192.0.2.2, asn: 65000, graceful-restart: {stale-time: 1500ms}}]}\nmpls: {label-hold-down: 1h}\n",
			`bgp.neighbors[0].graceful-restart.stale-time: 1.5s: want whole seconds`},
		{"bgp: {neighbors: [{address: 192.0.2.2, asn: 65000}]}\nmpls: {label-hold-down: 5m}\n",
			`mpls.label-hold-down: 5m0s: must cover bgp.neighbors[0].graceful-restart.restart-time plus stale-time (8m0s)`},
	} {
		_, err := Parse([]byte(base + tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.body, err, tc.want)
		}
	}
	// With graceful restart off, the hold-down is the operator's choice.
	if _, err := Parse([]byte(base + "bgp: {neighbors: [{address: 192.0.2.2, asn: 65000, graceful-restart: {enabled: false}}]}\nmpls: {label-hold-down: 0s}\n")); err != nil {
		t.Errorf("hold-down 0 without graceful restart: %v", err)
	}
}
