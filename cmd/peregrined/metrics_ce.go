package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CE sessions (vrfs[].neighbors), labelled by VRF and neighbor: a CE's
// address is unique within its VRF only.
var (
	descCESessionUp = prometheus.NewDesc("peregrine_bgp_ce_session_up",
		"1 if the BGP session to the VRF's CE is established.", []string{"vrf", "neighbor"}, nil)
	descCEPrefixes = prometheus.NewDesc("peregrine_bgp_ce_prefixes",
		"Prefixes per CE session and family: received, accepted (after policy) or sent.", []string{"vrf", "neighbor", "family", "kind"}, nil)
	descCEFlaps = prometheus.NewDesc("peregrine_bgp_ce_session_flaps_total",
		"Times the BGP session to the VRF's CE left established since the CE was configured.", []string{"vrf", "neighbor"}, nil)
)

var ceDescs = []*prometheus.Desc{descCESessionUp, descCEPrefixes, descCEFlaps}

func (c *collector) collectCE(gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, uint64, ...string)) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ns, _ := c.ce.AllCENeighbors(ctx)
	for _, n := range ns {
		addr := n.Address.String()
		up := 0.0
		if n.State == "established" {
			up = 1
		}
		gauge(descCESessionUp, up, n.VRF, addr)
		counter(descCEFlaps, n.Flaps, n.VRF, addr)
		for _, f := range n.Families {
			gauge(descCEPrefixes, float64(f.Received), n.VRF, addr, f.Name, "received")
			gauge(descCEPrefixes, float64(f.Accepted), n.VRF, addr, f.Name, "accepted")
			gauge(descCEPrefixes, float64(f.Sent), n.VRF, addr, f.Name, "sent")
		}
	}
}
