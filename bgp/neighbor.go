package bgp

import (
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// families maps config family names to GoBGP's AFI/SAFI.
var families = map[string]*api.Family{
	"ipv4":  {Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST},
	"ipv6":  {Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST},
	"vpnv4": {Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN},
	"vpnv6": {Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_MPLS_VPN},
}

func seconds(d time.Duration) uint64 { return uint64(d / time.Second) }

// peerFromConfig builds GoBGP's peer definition, with every address family
// explicit.
func peerFromConfig(n Neighbor, routerID string) *api.Peer {
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: n.Address.String(),
			PeerAsn:         n.ASN,
			Description:     n.Description,
			AuthPassword:    n.Password.Reveal(),
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      seconds(n.ConnectRetry),
			HoldTime:          seconds(n.HoldTime),
			KeepaliveInterval: seconds(n.Keepalive),
		}},
		Transport: &api.Transport{PassiveMode: n.Passive, RemotePort: uint32(n.Port)},
	}
	if n.LocalAddress.IsValid() {
		p.Transport.LocalAddress = n.LocalAddress.String()
	}
	if n.RouteReflectorClient {
		p.RouteReflector = &api.RouteReflector{RouteReflectorClient: true, RouteReflectorClusterId: routerID}
	}
	for _, f := range n.Families {
		p.AfiSafis = append(p.AfiSafis, &api.AfiSafi{Config: &api.AfiSafiConfig{Family: families[f], Enabled: true}})
	}
	gracefulRestart(p, n.GracefulRestart)
	return p
}
