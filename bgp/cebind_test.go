package bgp

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peregrine-net/peregrine/mpls"
)

// ceOnLoopback tells s that vrf's interface "lo" holds 127.0.0.0/8, so
// that its CE sessions over loopback are on link (cebind.go) and bound
// to lo.
func ceOnLoopback(t *testing.T, s *Speaker, vrfs ...string) {
	t.Helper()
	for _, vrf := range vrfs {
		if err := s.SetConnected(context.Background(), vrf, []Connected{{Interface: "lo", Prefix: netip.MustParsePrefix(testLinkPrefix)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// testLinkPrefix is the CE link of ceOnLoopback. As a connected prefix
// it is exported like any other, and the tests that compare whole
// tables leave it out.
const testLinkPrefix = "127.0.0.0/8"

// cePeers lists the sessions vrf's CE server runs: address -> the
// interface GoBGP binds it to, as GoBGP reports them.
func cePeers(t *testing.T, s *Speaker, vrf string) map[string]string {
	t.Helper()
	var cs *ceServer
	_ = s.do(func() error { cs = s.ces[vrf]; return nil })
	out := map[string]string{}
	if cs == nil {
		return out
	}
	if err := cs.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		out[p.Conf.NeighborAddress] = p.Transport.BindInterface
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCESessionBinding: Start runs a configuration with CE sessions; a
// CE on no connected prefix of its VRF is not started and says why; once
// an interface's prefix holds it, its session is bound to that interface
// (the userspace backend) or to the VRF's device (the kernel backend),
// so that two VRFs with the same CE subnet on different links each reach
// their own CE; the address going away stops the session again.
func TestCESessionBinding(t *testing.T) {
	ce := netip.MustParseAddr("10.1.0.2")
	cfg := Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000, Labels: mpls.Range{First: 1000, Last: 1999},
		VRFs: []VRF{
			{Name: "red", LabelMode: "per-vrf", Neighbors: []CENeighbor{{Address: ce, ASN: 65101, Families: []string{"ipv4"}}}},
			{Name: "blue", LabelMode: "per-vrf", Neighbors: []CENeighbor{{Address: ce, ASN: 65102, Families: []string{"ipv4"}}}},
			{Name: "green", LabelMode: "per-vrf", Device: "vrf-green", Neighbors: []CENeighbor{{Address: ce, ASN: 65103, Families: []string{"ipv4"}}}},
		}}
	s := startSpeaker(t, &cfg)
	ctx := context.Background()
	for _, vrf := range []string{"red", "blue", "green"} {
		if got := cePeers(t, s, vrf); len(got) != 0 {
			t.Errorf("%s: sessions %v started before any address holds the CE", vrf, got)
		}
		if r := s.CEReason(vrf, ce); !strings.Contains(r, "not on link") || !strings.Contains(r, "no addresses yet") {
			t.Errorf("%s: reason %q", vrf, r)
		}
	}

	conn := func(ifn, p string) Connected { return Connected{Interface: ifn, Prefix: netip.MustParsePrefix(p)} }
	set := func(vrf string, conns ...Connected) {
		t.Helper()
		if err := s.SetConnected(ctx, vrf, conns); err != nil {
			t.Fatal(err)
		}
	}
	set("red", conn("ce9", "192.0.2.0/24"))
	if r := s.CEReason("red", ce); !strings.Contains(r, "192.0.2.0/24 on ce9") {
		t.Errorf("red with an address elsewhere: reason %q", r)
	}
	set("red", conn("ce9", "192.0.2.0/24"), conn("ce1", "10.1.0.0/16"), conn("ce1b", "10.1.0.0/24"))
	set("blue", conn("ce2", "10.1.0.0/24"))
	set("green", conn("ce3", "10.1.0.0/24"))
	for vrf, want := range map[string]string{"red": "ce1b", "blue": "ce2", "green": "vrf-green"} {
		if got := cePeers(t, s, vrf); len(got) != 1 || got[ce.String()] != want {
			t.Errorf("%s: sessions %v, want %s bound to %s", vrf, got, ce, want)
		}
		if r := s.CEReason(vrf, ce); r != "" {
			t.Errorf("%s: reason %q once on link", vrf, r)
		}
	}

	set("red", conn("ce1", "10.1.0.0/16"))
	if got := cePeers(t, s, "red"); got[ce.String()] != "ce1" {
		t.Errorf("red after ce1b lost its address: %v, want the session moved to ce1", got)
	}
	set("red")
	if got := cePeers(t, s, "red"); len(got) != 0 {
		t.Errorf("red with no addresses: sessions %v still run", got)
	}
	if r := s.CEReason("red", ce); !strings.Contains(r, "not on link") {
		t.Errorf("red with no addresses: reason %q", r)
	}
	// show bgp vrf still lists the CE, idle, with why.
	ns, ok, err := s.CENeighbors(ctx, "red")
	if err != nil || !ok || len(ns) != 1 || ns[0].Address != ce || ns[0].State != "idle" || ns[0].ASN != 65101 || !strings.Contains(ns[0].Reason, "not on link") {
		t.Errorf("red CENeighbors with its CE off link: %+v ok=%v err=%v", ns, ok, err)
	}
}
