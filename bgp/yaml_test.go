package bgp

import (
	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/mpls"
)

// parseConfig reads a test's speaker configuration from the daemon's YAML,
// which is how the tests were written and how operators read them. It
// translates as bgpconfig.Translate does, which this package's tests
// cannot import (it imports bgp); bgpconfig's own test checks that one
// against every field of the configuration's.
func parseConfig(y []byte) (*Config, error) {
	cfg, err := config.Parse(y)
	if err != nil {
		return nil, err
	}
	b := cfg.BGP
	bc := &Config{
		RouterID: cfg.Router.ID, ASN: cfg.Router.ASN,
		Labels:        mpls.Range{First: mpls.Label(cfg.MPLS.LabelMin), Last: mpls.Label(cfg.MPLS.LabelMax)},
		LabelHoldDown: cfg.MPLS.LabelHoldDown, // StateDir stays "": the tests keep labels in memory
		ListenAddress: b.ListenAddress, ListenPort: b.ListenPort,
		API: b.API, APIWrite: b.APIWrite, APIInsecureRemote: b.APIInsecureRemote,
	}
	for _, n := range b.Neighbors {
		bc.Neighbors = append(bc.Neighbors, Neighbor{
			Address: n.Address, Port: n.Port, ASN: n.ASN, Description: n.Description,
			Families: n.Families, LocalAddress: n.LocalAddress,
			RouteReflectorClient: n.RouteReflectorClient, Passive: n.Passive,
			HoldTime: n.HoldTime, Keepalive: n.Keepalive, ConnectRetry: n.ConnectRetry,
			Password: NewPassword(n.Password.Reveal()),
			GracefulRestart: GracefulRestart{Enabled: n.GracefulRestart.On(),
				RestartTime: n.GracefulRestart.RestartTime, StaleTime: n.GracefulRestart.StaleTime},
		})
	}
	for _, v := range cfg.VRFs {
		bv := VRF{Name: v.Name, RD: v.RD, ImportTargets: v.ImportTargets, ExportTargets: v.ExportTargets,
			Interfaces: v.Interfaces, LabelMode: v.LabelMode}
		for _, r := range v.StaticRoutes {
			bv.StaticRoutes = append(bv.StaticRoutes, r.Prefix)
		}
		bc.VRFs = append(bc.VRFs, bv)
	}
	return bc, nil
}
