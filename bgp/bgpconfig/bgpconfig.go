// Package bgpconfig translates the router's YAML configuration into the
// BGP speaker's, the one place a config.Config becomes a bgp.Config, so
// that package bgp depends on no configuration schema (as fib.Config and
// ike.Config do not). The daemon and the in-process benchmark both start
// the speaker from it.
package bgpconfig

import (
	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/mpls"
)

// Translate is the part of cfg the BGP speaker needs. cfg was validated
// at load time; Translate copies, it does not check. The result shares
// cfg's slices (families, route targets, interfaces): neither side
// modifies them.
func Translate(cfg *config.Config) *bgp.Config {
	b := cfg.BGP
	bc := &bgp.Config{
		RouterID: cfg.Router.ID, ASN: cfg.Router.ASN,
		Labels:        mpls.Range{First: mpls.Label(cfg.MPLS.LabelMin), Last: mpls.Label(cfg.MPLS.LabelMax)},
		LabelHoldDown: cfg.MPLS.LabelHoldDown, StateDir: cfg.State.Directory,
		ListenAddress: b.ListenAddress, ListenPort: b.ListenPort,
		API: b.API, APIWrite: b.APIWrite, APIInsecureRemote: b.APIInsecureRemote,
	}
	for _, n := range b.Neighbors {
		bc.Neighbors = append(bc.Neighbors, bgp.Neighbor{
			Address: n.Address, Port: n.Port, ASN: n.ASN, Description: n.Description,
			Families: n.Families, LocalAddress: n.LocalAddress,
			RouteReflectorClient: n.RouteReflectorClient, Passive: n.Passive,
			HoldTime: n.HoldTime, Keepalive: n.Keepalive, ConnectRetry: n.ConnectRetry,
			Password: bgp.NewPassword(n.Password.Reveal()),
			GracefulRestart: bgp.GracefulRestart{Enabled: n.GracefulRestart.On(),
				RestartTime: n.GracefulRestart.RestartTime, StaleTime: n.GracefulRestart.StaleTime},
		})
	}
	for _, v := range cfg.VRFs {
		bv := bgp.VRF{Name: v.Name, RD: v.RD, ImportTargets: v.ImportTargets, ExportTargets: v.ExportTargets,
			Interfaces: v.Interfaces, LabelMode: v.LabelMode}
		for _, r := range v.StaticRoutes {
			bv.StaticRoutes = append(bv.StaticRoutes, r.Prefix)
		}
		for _, n := range v.Neighbors {
			bv.Neighbors = append(bv.Neighbors, bgp.CENeighbor{
				Address: n.Address, Port: n.Port, ASN: n.ASN, Description: n.Description,
				Families: n.Families, LocalAddress: n.LocalAddress, Passive: n.Passive,
				HoldTime: n.HoldTime, Keepalive: n.Keepalive,
				Password:   bgp.NewPassword(n.Password.Reveal()),
				ASOverride: n.ASOverride, AllowASIn: n.AllowASIn, SiteOfOrigin: n.SiteOfOrigin,
				MaxPrefixes: n.MaxPrefixes, MaxPrefixesRestart: n.MaxPrefixesRestart,
				ImportPrefixes: prefixRules(n.ImportPrefixes), ExportPrefixes: prefixRules(n.ExportPrefixes),
				DefaultOriginate: n.DefaultOriginate,
			})
		}
		bc.VRFs = append(bc.VRFs, bv)
	}
	return bc
}

// prefixRules resolves ge and le into each rule's length range; nil (no
// list: accept everything) stays nil.
func prefixRules(rules []config.PrefixRule) []bgp.PrefixRule {
	if rules == nil {
		return nil
	}
	out := make([]bgp.PrefixRule, len(rules))
	for i, r := range rules {
		lo, hi := r.Lengths()
		out[i] = bgp.PrefixRule{Prefix: r.Prefix, MinLen: uint8(lo), MaxLen: uint8(hi), Accept: r.Action == config.ActionAccept}
	}
	return out
}
