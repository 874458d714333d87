package bgp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// TestCEPeerAsGoBGPSeesIt hands cePeer's definition to a GoBGP server and
// reads the peer back: GoBGP, not this package, says whether as-override,
// allowas-in, the prefix limit, the families and the VRF binding arrived.
func TestCEPeerAsGoBGPSeesIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := server.NewBgpServer()
	go s.Serve()
	defer func() { _ = stopGoBGP(s) }()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: 65000, RouterId: "192.0.2.1", ListenPort: -1}}); err != nil {
		t.Fatal(err)
	}
	n := CENeighbor{
		Address: netip.MustParseAddr("10.1.0.2"), Port: 1179, ASN: 65101, Description: "red site 1",
		Families: []string{"ipv4", "ipv6"}, Passive: true, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second,
		Password:   NewPassword("ce-s3cret"),
		ASOverride: true, AllowASIn: 2, MaxPrefixes: 100,
	}
	if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: cePeer(n, "vrf-red")}); err != nil {
		t.Fatal(err)
	}
	var got *api.Peer
	if err := s.ListPeer(ctx, &api.ListPeerRequest{Address: "10.1.0.2"}, func(p *api.Peer) { got = p }); err != nil || got == nil {
		t.Fatalf("ListPeer: %v, %v", got, err)
	}
	c := got.Conf
	if c.PeerAsn != 65101 || !c.ReplacePeerAsn || !c.AllowAspathLoopLocal || c.AllowOwnAsn != 2 || c.Description != "red site 1" {
		t.Errorf("conf = %+v", c)
	}
	if tr := got.Transport; !tr.PassiveMode || tr.RemotePort != 1179 || tr.BindInterface != "vrf-red" {
		t.Errorf("transport = %+v", tr)
	}
	if h := got.Timers.Config.HoldTime; h != 9 {
		t.Errorf("hold time = %d, want 9", h)
	}
	fams := map[api.Family_Afi]uint32{}
	for _, a := range got.AfiSafis {
		f := a.Config.Family
		if f.Safi != api.Family_SAFI_UNICAST {
			t.Errorf("family %v: a CE session carries unicast only", f)
		}
		if a.PrefixLimits == nil {
			t.Errorf("family %v has no prefix limit", f)
			continue
		}
		fams[f.Afi] = a.PrefixLimits.MaxPrefixes
	}
	if fams[api.Family_AFI_IP] != 100 || fams[api.Family_AFI_IP6] != 100 || len(fams) != 2 {
		t.Errorf("prefix limits by AFI = %v, want 100 for IPv4 and IPv6", fams)
	}
}

// TestCEPeerDefaults: without the policy knobs a CE session is a plain
// eBGP unicast session: no own-AS accepted, no AS replaced, no limit.
func TestCEPeerDefaults(t *testing.T) {
	p := cePeer(CENeighbor{Address: netip.MustParseAddr("fd00:1::2"), ASN: 65101, Families: []string{"ipv6"}}, "")
	if p.Conf.ReplacePeerAsn || p.Conf.AllowOwnAsn != 0 || p.Transport.BindInterface != "" || p.Transport.LocalAddress != "" {
		t.Errorf("peer = %+v", p)
	}
	if len(p.AfiSafis) != 1 || p.AfiSafis[0].PrefixLimits != nil || p.AfiSafis[0].Config.Family.Afi != api.Family_AFI_IP6 {
		t.Errorf("afi-safis = %+v", p.AfiSafis)
	}
}
