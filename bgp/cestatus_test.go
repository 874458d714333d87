package bgp

// One PE, red with three CEs over loopback, blue with none:
//
//	ce1 127.0.0.3 AS 65101 ---------------.
//	ce2 127.0.0.4 AS 65102 ---------------+-- red's CE server, PE 127.0.0.1 AS 65000
//	ce3 127.0.0.5 (nothing listens) ------+
//	ce4 127.0.0.6 (nothing listens, MD5) -'
//
// The MD5 session is one that never comes up: this host's kernel may
// refuse TCP MD5 ("failed to set md5: protocol not available"), and the
// password is in the PE's configuration of the session either way.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// ceBase is a PE config with VRFs red and blue and no CE.
func ceBase() Config {
	return Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000, Labels: mpls.Range{First: 1000, Last: 1999},
		VRFs: []VRF{
			{Name: "red", RD: vpn.MustParseRD("65000:1"), ExportTargets: []vpn.RT{vpn.MustParseRT("65000:1")}, LabelMode: "per-vrf"},
			{Name: "blue", RD: vpn.MustParseRD("65000:2"), ExportTargets: []vpn.RT{vpn.MustParseRT("65000:2")}, LabelMode: "per-vrf"},
		}}
}

// loopbackCE is a CE neighbor at addr:port that the PE reaches from
// 127.0.0.1.
func loopbackCE(addr string, port int, asn uint32) CENeighbor {
	return CENeighbor{Address: netip.MustParseAddr(addr), Port: uint16(port), ASN: asn, Families: []string{"ipv4"},
		LocalAddress: netip.MustParseAddr("127.0.0.1"), HoldTime: 9 * time.Second, Keepalive: 3 * time.Second}
}

// applyCEs applies base with vrf's CE neighbors set to ns (the other
// VRFs' as given), directly, as a reload would.
func applyCEs(t *testing.T, s *Speaker, base Config, ces map[string][]CENeighbor) {
	t.Helper()
	c := base
	c.VRFs = nil
	for _, v := range base.VRFs {
		v.Neighbors = ces[v.Name]
		c.VRFs = append(c.VRFs, v)
	}
	if err := s.do(func() error { return s.apply(context.Background(), &c) }); err != nil {
		t.Fatal(err)
	}
}

// waitCENeighbor polls CENeighbors until the CE at addr in vrf satisfies
// ok, and returns it.
func waitCENeighbor(t *testing.T, s *Speaker, vrf, addr string, what string, ok func(CENeighborStatus) bool) CENeighborStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last []CENeighborStatus
	for time.Now().Before(deadline) {
		ns, known, err := s.CENeighbors(context.Background(), vrf)
		if err != nil || !known {
			t.Fatalf("CENeighbors(%s): %v, known %v", vrf, err, known)
		}
		last = ns
		for _, n := range ns {
			if n.Address.String() == addr && ok(n) {
				return n
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("vrf %s CE %s: never %s; last %+v", vrf, addr, what, last)
	return CENeighborStatus{}
}

func ceEstablished(n CENeighborStatus) bool { return n.State == "established" }

// TestCEStatusAndRoutes runs red's CE sessions for real and reads them
// back through CENeighbors and CERoutes: states, counts, the paths each
// CE sent and was sent, reasons for the sessions that are down, and
// never the MD5 password.
func TestCEStatusAndRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	const secret = "Ce-Md5-Secret-31"
	p1, p2, p3, p4 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4"), freePort(t, "127.0.0.5"), freePort(t, "127.0.0.6")
	ce1 := newTestCE(t, testCEConfig{addr: "127.0.0.3", port: p1, pe: "127.0.0.1", asn: 65101})
	ce2 := newTestCE(t, testCEConfig{addr: "127.0.0.4", port: p2, pe: "127.0.0.1", asn: 65102})
	ceAnnounce(t, ce1, "10.3.0.0/24", false)
	ceAnnounce(t, ce2, "10.4.0.0/24", false)
	base := ceBase()
	s := startSpeaker(t, &base)
	ceOnLoopback(t, s, "red")
	n1 := loopbackCE("127.0.0.3", p1, 65101)
	n1.Description = "site 1"
	n4 := loopbackCE("127.0.0.6", p4, 65104)
	n4.Password = NewPassword(secret)
	applyCEs(t, s, base, map[string][]CENeighbor{"red": {n1, loopbackCE("127.0.0.4", p2, 65102), loopbackCE("127.0.0.5", p3, 65103), n4}})

	sentBoth := func(n CENeighborStatus) bool {
		return ceEstablished(n) && len(n.Families) == 1 && n.Families[0] == FamilyCount{Name: "ipv4", Received: 1, Accepted: 1, Sent: 2}
	}
	got1 := waitCENeighbor(t, s, "red", "127.0.0.3", "established with 1/1/1 ipv4", sentBoth)
	waitCENeighbor(t, s, "red", "127.0.0.4", "established with 1/1/1 ipv4", sentBoth)
	if got1.VRF != "red" || got1.ASN != 65101 || got1.Description != "site 1" || got1.Flaps != 0 || got1.Reason != "" {
		t.Errorf("ce1: %+v", got1)
	}
	down := waitCENeighbor(t, s, "red", "127.0.0.5", "refused", func(n CENeighborStatus) bool { return strings.Contains(n.Reason, "connection refused") })
	if down.State == "established" || down.Uptime != 0 {
		t.Errorf("ce3: %+v", down)
	}
	if strings.Contains(down.Reason, "listener") {
		t.Errorf("ce3's reason blames a listener the CE server never has: %q", down.Reason)
	}

	routes, ok, err := s.CERoutes(context.Background(), "red", "ipv4")
	if err != nil || !ok {
		t.Fatalf("CERoutes: %v, %v", err, ok)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	want := CERoutes{
		Learned: []CEPath{
			{Prefix: netip.MustParsePrefix("10.3.0.0/24"), NextHop: netip.MustParseAddr("127.0.0.3"), Neighbor: netip.MustParseAddr("127.0.0.3"),
				Origin: "i", ASPath: "65101", MED: 42, HasMED: true, Best: true},
			{Prefix: netip.MustParsePrefix("10.4.0.0/24"), NextHop: netip.MustParseAddr("127.0.0.4"), Neighbor: netip.MustParseAddr("127.0.0.4"),
				Origin: "i", ASPath: "65102", MED: 42, HasMED: true, Best: true},
		},
		// eBGP to eBGP: next-hop self, the PE's AS prepended, MED not
		// passed on.
		// The VRF's connected link prefix (ceOnLoopback) goes to both.
		Advertised: []CEPath{
			{Prefix: netip.MustParsePrefix("10.4.0.0/24"), NextHop: lo, Neighbor: netip.MustParseAddr("127.0.0.3"), Origin: "i", ASPath: "65000 65102"},
			{Prefix: netip.MustParsePrefix(testLinkPrefix), NextHop: lo, Neighbor: netip.MustParseAddr("127.0.0.3"), Origin: "i", ASPath: "65000"},
			{Prefix: netip.MustParsePrefix("10.3.0.0/24"), NextHop: lo, Neighbor: netip.MustParseAddr("127.0.0.4"), Origin: "i", ASPath: "65000 65101"},
			{Prefix: netip.MustParsePrefix(testLinkPrefix), NextHop: lo, Neighbor: netip.MustParseAddr("127.0.0.4"), Origin: "i", ASPath: "65000"},
		},
	}
	if g, w := fmt.Sprintf("%+v", routes), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("CERoutes(red, ipv4):\n got %s\nwant %s", g, w)
	}
	if r, _, err := s.CERoutes(context.Background(), "red", "ipv6"); err != nil || len(r.Learned)+len(r.Advertised) != 0 {
		t.Errorf("CERoutes(red, ipv6) = %+v, %v; want nothing", r, err)
	}
	if r, _, err := s.CERoutes(context.Background(), "red", ""); err != nil || fmt.Sprintf("%+v", r) != fmt.Sprintf("%+v", want) {
		t.Errorf("CERoutes(red, both) = %+v, %v", r, err)
	}

	// Unknown VRFs and families; a VRF without CE sessions has none.
	if _, ok, err := s.CENeighbors(context.Background(), "nope"); ok || err != nil {
		t.Errorf("CENeighbors(nope): ok %v, %v", ok, err)
	}
	if _, ok, err := s.CERoutes(context.Background(), "nope", "ipv4"); ok || err != nil {
		t.Errorf("CERoutes(nope): ok %v, %v", ok, err)
	}
	if _, _, err := s.CERoutes(context.Background(), "red", "vpnv4"); !errors.Is(err, ErrUnknownFamily) {
		t.Errorf("CERoutes(red, vpnv4): %v, want ErrUnknownFamily", err)
	}
	if ns, ok, err := s.CENeighbors(context.Background(), "blue"); !ok || err != nil || len(ns) != 0 {
		t.Errorf("CENeighbors(blue) = %+v, %v, %v; want none", ns, ok, err)
	}
	all, err := s.AllCENeighbors(context.Background())
	if err != nil || len(all) != 4 {
		t.Errorf("AllCENeighbors: %d, %v; want red's 4", len(all), err)
	}

	// No way of printing what the read API returns shows the password.
	js, err := json.Marshal([]any{all, routes})
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprintf("%v %+v %#v %s", all, all, all, js); strings.Contains(out, secret) {
		t.Errorf("the CE read API shows the password: %s", out)
	}

	// ce2 closes its session: one flap, and its path leaves red.
	if err := ce2.ShutdownPeer(context.Background(), &api.ShutdownPeerRequest{Address: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	waitCENeighbor(t, s, "red", "127.0.0.4", "down with a flap", func(n CENeighborStatus) bool { return !ceEstablished(n) && n.Flaps == 1 })
	routes, _, _ = s.CERoutes(context.Background(), "red", "ipv4")
	if len(routes.Learned) != 1 || routes.Learned[0].Prefix.String() != "10.3.0.0/24" {
		t.Errorf("learned after ce2 went down: %+v", routes.Learned)
	}
	if n := waitCENeighbor(t, s, "red", "127.0.0.3", "still up", ceEstablished); n.Flaps != 0 {
		t.Errorf("ce1 flapped with ce2: %+v", n)
	}
}

// TestCEPathAttributes: newCEPath spells every attribute a CE path may
// carry as routers print it.
func TestCEPathAttributes(t *testing.T) {
	nlri := gobgp.NewIPv6AddrPrefix(48, "2001:db8:1::")
	p, err := apiutil.NewPath(nlri, false, []gobgp.PathAttributeInterface{
		gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_INCOMPLETE),
		gobgp.NewPathAttributeMpReachNLRI("2001:db8::3", []gobgp.AddrPrefixInterface{nlri}),
		gobgp.NewPathAttributeAsPath([]gobgp.AsPathParamInterface{
			gobgp.NewAs4PathParam(gobgp.BGP_ASPATH_ATTR_TYPE_CONFED_SEQ, []uint32{64512, 64513}),
			gobgp.NewAs4PathParam(gobgp.BGP_ASPATH_ATTR_TYPE_SEQ, []uint32{65101, 4200000001}),
			gobgp.NewAs4PathParam(gobgp.BGP_ASPATH_ATTR_TYPE_SET, []uint32{65201, 65202}),
		}),
		gobgp.NewPathAttributeMultiExitDisc(0),
		gobgp.NewPathAttributeCommunities([]uint32{65101<<16 | 7, 0xFFFFFF01}),
		gobgp.NewPathAttributeLargeCommunities([]*gobgp.LargeCommunity{gobgp.NewLargeCommunity(4200000001, 1, 2)}),
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := newCEPath(p)
	if err != nil {
		t.Fatal(err)
	}
	want := CEPath{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), NextHop: netip.MustParseAddr("2001:db8::3"), Origin: "?",
		ASPath: "(64512 64513) 65101 4200000001 {65201,65202}", HasMED: true,
		Communities: []string{"65101:7", "no-export", "4200000001:1:2"}}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("newCEPath:\n got %+v\nwant %+v", got, want)
	}
}
