package kernel

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

var scaleVPNv4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN}

// startScaleSpeaker runs a GoBGP server in this process, in the VM's root
// namespace, passive toward pe1, with routes VPNv4 routes to scaleVPN:
// route i has RD 65001:i+1, label 1000+i, VRF i's target and the
// speaker as next hop, so that VRF i imports exactly one route. Stopped
// with b.
func startScaleSpeaker(b *testing.B, routes int) {
	ctx := context.Background()
	s := server.NewBgpServer()
	go s.Serve()
	err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: scaleASN, RouterId: scaleSpk.String(), ListenPort: 179, ListenAddresses: []string{scaleSpk.String()},
	}})
	if err != nil {
		b.Fatalf("GoBGP: %v", err)
	}
	b.Cleanup(func() { _ = s.StopBgp(context.Background(), &api.StopBgpRequest{}) })
	err = s.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: scalePE.String(), PeerAsn: scaleASN},
		Transport: &api.Transport{PassiveMode: true},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: scaleVPNv4, Enabled: true}}},
	}})
	if err != nil {
		b.Fatalf("GoBGP peer: %v", err)
	}
	origin := mustAnyPB(b, &api.OriginAttribute{Origin: 0})
	for i := range routes {
		rd := mustAnyPB(b, &api.RouteDistinguisherTwoOctetASN{Admin: scaleASN + 1, Assigned: uint32(i + 1)})
		nlri := mustAnyPB(b, &api.LabeledVPNIPAddressPrefix{Labels: []uint32{uint32(1000 + i)}, Rd: rd,
			PrefixLen: uint32(scaleVPN.Bits()), Prefix: scaleVPN.Addr().String()})
		reach := mustAnyPB(b, &api.MpReachNLRIAttribute{Family: scaleVPNv4, NextHops: []string{scaleSpk.String()}, Nlris: []*anypb.Any{nlri}})
		ext := mustAnyPB(b, &api.ExtendedCommunitiesAttribute{Communities: []*anypb.Any{
			mustAnyPB(b, &api.TwoOctetAsSpecificExtended{IsTransitive: true, SubType: 0x02, Asn: scaleASN, LocalAdmin: uint32(1000 + i)}),
		}})
		_, err := s.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL,
			Path: &api.Path{Family: scaleVPNv4, Nlri: nlri, Pattrs: []*anypb.Any{origin, reach, ext}}})
		if err != nil {
			b.Fatalf("GoBGP route %d: %v", i, err)
		}
	}
}

func mustAnyPB(b *testing.B, m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// httpGet is the body of a GET of url, which must answer 200.
func httpGet(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}
