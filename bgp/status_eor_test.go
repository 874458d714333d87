package bgp

import (
	"testing"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// TestSentCountLeavesOutEndOfRIB: GoBGP counts an End-of-RIB marker among
// the paths advertised to a peer whenever graceful restart is on at both
// ends; the counts shown are the routes alone.
func TestSentCountLeavesOutEndOfRIB(t *testing.T) {
	grCap, err := apiutil.MarshalCapabilities([]gobgp.ParameterCapabilityInterface{gobgp.NewCapGracefulRestart(false, false, 120, nil)})
	if err != nil {
		t.Fatal(err)
	}
	peer := func(local bool, remote bool, advertised uint64) *api.Peer {
		p := &api.Peer{
			GracefulRestart: &api.GracefulRestart{Enabled: local},
			State:           &api.PeerState{},
			AfiSafis: []*api.AfiSafi{{
				Config: &api.AfiSafiConfig{Family: families["vpnv4"], Enabled: true},
				State:  &api.AfiSafiState{Received: 6, Accepted: 4, Advertised: advertised},
			}},
		}
		if remote {
			p.State.RemoteCap = grCap
		}
		return p
	}
	for _, tc := range []struct {
		name          string
		local, remote bool
		advertised    uint64
		want          uint64
	}{
		{"both ends", true, true, 3, 2},
		{"both ends, nothing but the marker", true, true, 1, 0},
		{"only here", true, false, 2, 2},
		{"only there", false, true, 2, 2},
		{"neither", false, false, 2, 2},
	} {
		got := familyCounts(peer(tc.local, tc.remote, tc.advertised))
		if len(got) != 1 || got[0].Sent != tc.want || got[0].Received != 6 || got[0].Accepted != 4 {
			t.Errorf("%s: %+v, want sent %d", tc.name, got, tc.want)
		}
	}
}
