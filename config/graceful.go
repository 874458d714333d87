package config

import (
	"fmt"
	"slices"
	"time"
)

// GracefulRestart is a neighbor's BGP graceful restart (RFC 4724, with
// the notification extension of RFC 8538): while this PE or the neighbor
// restarts, the other keeps its routes as stale instead of withdrawing
// them, and flushes what is not announced again once the restarted side
// has sent End-of-RIB.
type GracefulRestart struct {
	// Enabled: default on for a neighbor with a VPN family (vpnv4,
	// vpnv6), off otherwise.
	Enabled *bool `config:"enabled"`
	// RestartTime is what this PE advertises: how long the neighbor
	// should keep this PE's routes while the session is down. Whole
	// seconds, at most 4095 s (a 12-bit field); default 120 s.
	RestartTime time.Duration `config:"restart-time"`
	// StaleTime is how long this PE keeps a restarted neighbor's stale
	// routes once the session is back, waiting for its End-of-RIB; past
	// it the session is reset, which flushes them (bgp/stale.go).
	// Default 360 s. mpls.label-hold-down must cover RestartTime plus
	// StaleTime, the longest a remote PE configured alike keeps this PE's
	// routes, and so its labels.
	StaleTime time.Duration `config:"stale-time"`
}

// Graceful restart defaults.
const (
	DefaultGRRestartTime = 120 * time.Second
	DefaultGRStaleTime   = 360 * time.Second
	maxGRRestartTime     = 4095 * time.Second
)

// On reports whether graceful restart is enabled (after defaults).
func (g GracefulRestart) On() bool { return g.Enabled != nil && *g.Enabled }

func (n *Neighbor) applyGracefulRestartDefaults() {
	g := &n.GracefulRestart
	if g.Enabled == nil {
		on := slices.Contains(n.Families, "vpnv4") || slices.Contains(n.Families, "vpnv6")
		g.Enabled = &on
	}
	if g.RestartTime == 0 {
		g.RestartTime = DefaultGRRestartTime
	}
	if g.StaleTime == 0 {
		g.StaleTime = DefaultGRStaleTime
	}
}

func (c *Config) validateGracefulRestart(bad badFunc) {
	for i, n := range c.BGP.Neighbors {
		g := n.GracefulRestart
		if !g.On() {
			continue
		}
		p := fmt.Sprintf("bgp.neighbors[%d].graceful-restart", i)
		if g.RestartTime > maxGRRestartTime || g.RestartTime%time.Second != 0 {
			bad(p+".restart-time", g.RestartTime.String(), "want whole seconds up to 4095s (RFC 4724's 12-bit field)")
		}
		if g.StaleTime%time.Second != 0 {
			bad(p+".stale-time", g.StaleTime.String(), "want whole seconds")
		}
		if hd := c.MPLS.LabelHoldDown; hd < g.RestartTime+g.StaleTime {
			bad("mpls.label-hold-down", hd.String(), "must cover %s.restart-time plus stale-time (%s): a remote PE may hold this PE's labels that long",
				p, g.RestartTime+g.StaleTime)
		}
	}
}
