package bgp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// testCE is a GoBGP speaker in AS 65101 at ce:port playing a customer
// router, passive, with one neighbor: the PE at pe.
func testCE(t *testing.T, ce string, port int, pe string) *server.BgpServer {
	t.Helper()
	return testCELog(t, ce, port, pe, io.Discard)
}

// testCELog is testCE logging to w.
func testCELog(t *testing.T, ce string, port int, pe string, w io.Writer) *server.BgpServer {
	t.Helper()
	ctx := context.Background()
	srv := server.NewBgpServer(server.LoggerOption(newSlogAdapter(slog.New(slog.NewTextHandler(w, nil)))))
	go srv.Serve()
	t.Cleanup(func() { _ = stopGoBGP(srv) })
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: 65101, RouterId: "10.255.0.2", ListenAddresses: []string{ce}, ListenPort: int32(port),
	}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: pe, PeerAsn: 65000},
		Transport: &api.Transport{PassiveMode: true},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: families["ipv4"], Enabled: true}}},
	}}); err != nil {
		t.Fatal(err)
	}
	return srv
}

// ceAnnounce makes the CE announce (or withdraw) prefix.
func ceAnnounce(t *testing.T, ce *server.BgpServer, prefix string, withdraw bool) {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	nlri := gobgp.NewIPAddrPrefix(uint8(p.Bits()), p.Addr().String())
	path, err := apiutil.NewPath(nlri, withdraw, []gobgp.PathAttributeInterface{
		gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_IGP),
		gobgp.NewPathAttributeNextHop("0.0.0.0"),
		gobgp.NewPathAttributeMultiExitDisc(42),
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if withdraw {
		err = ce.DeletePath(context.Background(), &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Path: path})
	} else {
		_, err = ce.AddPath(context.Background(), &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// waitVPN polls the speaker's VPNv4 RIB until the path of key (as vpnRIB
// names it) contains every one of want, or is absent when want is nil.
func waitVPN(t *testing.T, s *Speaker, key string, want []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	var ok bool
	for time.Now().Before(deadline) {
		var rib map[string]string
		if err := s.do(func() error { rib = vpnRIB(t, s.srv); return nil }); err != nil {
			t.Fatal(err)
		}
		got, ok = rib[key]
		if want == nil && !ok {
			return
		}
		all := ok
		for _, w := range want {
			all = all && strings.Contains(got, w)
		}
		if want != nil && all {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: got %q (present %v), want %q", key, got, ok, want)
}

// TestCESessionExportsAndWithdraws runs a real eBGP session between a
// VRF's CE server and a GoBGP CE over loopback: what the CE announces is
// exported as a VPNv4 path with the VRF's RD and export target, the CE's
// AS path and MED, and the site of origin; what it withdraws, and all it
// announced when its session goes down, is withdrawn.
func TestCESessionExportsAndWithdraws(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a BGP session over loopback")
	}
	port := freePort(t, "127.0.0.3")
	ce := testCE(t, "127.0.0.3", port, "127.0.0.1")
	ceAnnounce(t, ce, "10.2.0.0/24", false)

	base := Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000, Labels: mpls.Range{First: 1000, Last: 1999},
		VRFs: []VRF{{Name: "red", RD: vpn.MustParseRD("65000:1"), ExportTargets: []vpn.RT{vpn.MustParseRT("65000:1")}, LabelMode: "per-vrf"}}}
	s := startSpeaker(t, &base)
	withCE := base
	withCE.VRFs = []VRF{base.VRFs[0]}
	withCE.VRFs[0].Neighbors = []CENeighbor{{
		Address: netip.MustParseAddr("127.0.0.3"), Port: uint16(port), ASN: 65101, Families: []string{"ipv4"},
		LocalAddress: netip.MustParseAddr("127.0.0.1"), HoldTime: 9 * time.Second, Keepalive: 3 * time.Second,
		SiteOfOrigin: vpn.MustParseRT("65101:1"),
	}}
	ceOnLoopback(t, s, "red")
	if err := s.do(func() error { return s.apply(context.Background(), &withCE) }); err != nil {
		t.Fatal(err)
	}
	const key = "65000:1 10.2.0.0/24"
	waitVPN(t, s, key, []string{"label [1000]", "{AsPath: 65101}", "{Med: 42}", "rt:65000:1;", "soo:65101:1;"})

	ceAnnounce(t, ce, "10.2.0.0/24", true)
	waitVPN(t, s, key, nil)

	ceAnnounce(t, ce, "10.2.0.0/24", false)
	waitVPN(t, s, key, []string{"{AsPath: 65101}"})
	if err := ce.ShutdownPeer(context.Background(), &api.ShutdownPeerRequest{Address: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	waitVPN(t, s, key, nil)

	// Removing the VRF's CE sessions stops them and leaves the VRF.
	if err := s.do(func() error { return s.apply(context.Background(), &base) }); err != nil {
		t.Fatal(err)
	}
	if n := len(s.ces); n != 0 {
		t.Errorf("%d CE servers left after their sessions were removed", n)
	}
}

// ceRIB is the CE's IPv4 unicast RIB: prefix -> AS path of its best path.
func ceRIB(t *testing.T, ce *server.BgpServer) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := ce.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: families["ipv4"]}, func(d *api.Destination) {
		for _, p := range d.Paths {
			if !p.Best {
				continue
			}
			attrs, err := apiutil.GetNativePathAttributes(p)
			if err != nil {
				t.Error(err)
				return
			}
			asPath := ""
			for _, a := range attrs {
				if a, ok := a.(*gobgp.PathAttributeAsPath); ok {
					asPath = strings.TrimSuffix(strings.TrimPrefix(a.String(), "{AsPath: "), "}")
				}
			}
			out[d.Prefix] = asPath
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitCE polls the CE's RIB until prefix has AS path want ("" for absent).
func waitCE(t *testing.T, ce *server.BgpServer, name, prefix, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	var ok bool
	for time.Now().Before(deadline) {
		got, ok = ceRIB(t, ce)[prefix]
		if (want == "" && !ok) || (ok && got == want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s has AS path %q (present %v), want %q", name, prefix, got, ok, want)
}

// TestCEsOfOneCustomerAcrossTwoPEs: two PEs over loopback, each with a CE
// of the same customer AS (65101) in red. Each CE learns the other site's
// prefix and the remote PE's static one with the provider AS prepended.
// Without as-override the other site's path carries 65101, which the CE
// rejects as a loop (GoBGP, like FRR, drops it); with as-override it
// arrives as 65000 65000 and is accepted.
func TestCEsOfOneCustomerAcrossTwoPEs(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	p1, p2 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	c1, c2 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4")
	ce1, ce2 := testCE(t, "127.0.0.3", c1, "127.0.0.1"), testCE(t, "127.0.0.4", c2, "127.0.0.2")
	ceAnnounce(t, ce1, "10.3.0.0/24", false)
	ceAnnounce(t, ce2, "10.4.0.0/24", false)
	red := `
  - {name: red, rd: '65000:%d', import-targets: ['65000:1'], export-targets: ['65000:1']%s}`
	cfg1 := speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, fmt.Sprintf(red, 1, ""))
	cfg2 := speakerConfig(t, "2.2.2.2", "127.0.0.2", p2, "127.0.0.1", p1, fmt.Sprintf(red, 2, ", static-routes: [{prefix: 10.9.0.0/24}]"))
	pe1, pe2 := startSpeaker(t, cfg1), startSpeaker(t, cfg2)
	ceOnLoopback(t, pe1, "red")
	ceOnLoopback(t, pe2, "red")
	withCE := func(s *Speaker, cfg *Config, ce string, port int, self string, asOverride bool) {
		t.Helper()
		c := *cfg
		c.VRFs = []VRF{cfg.VRFs[0]}
		c.VRFs[0].Neighbors = []CENeighbor{{
			Address: netip.MustParseAddr(ce), Port: uint16(port), ASN: 65101, Families: []string{"ipv4"},
			LocalAddress: netip.MustParseAddr(self), HoldTime: 9 * time.Second, Keepalive: 3 * time.Second,
			ASOverride: asOverride,
		}}
		if err := s.do(func() error { return s.apply(context.Background(), &c) }); err != nil {
			t.Fatal(err)
		}
	}
	withCE(pe1, cfg1, "127.0.0.3", c1, "127.0.0.1", false)
	withCE(pe2, cfg2, "127.0.0.4", c2, "127.0.0.2", false)

	waitCE(t, ce1, "ce1", "10.9.0.0/24", "65000")
	// Both CEs hear the other site only once the routes crossed the core.
	waitVPN(t, pe1, "65000:2 10.4.0.0/24", []string{"{AsPath: 65101}"})
	waitVPN(t, pe2, "65000:1 10.3.0.0/24", []string{"{AsPath: 65101}"})
	time.Sleep(time.Second)
	if got, ok := ceRIB(t, ce1)["10.4.0.0/24"]; ok {
		t.Errorf("ce1 without as-override accepted the other site's route, AS path %q", got)
	}

	withCE(pe1, cfg1, "127.0.0.3", c1, "127.0.0.1", true)
	withCE(pe2, cfg2, "127.0.0.4", c2, "127.0.0.2", true)
	waitCE(t, ce1, "ce1", "10.4.0.0/24", "65000 65000")
	waitCE(t, ce2, "ce2", "10.3.0.0/24", "65000 65000")

	// A route the other site announces once the sessions are up arrives
	// too (GoBGP filtered those before AllowAspathLoopLocal).
	ceAnnounce(t, ce2, "10.5.0.0/24", false)
	waitCE(t, ce1, "ce1", "10.5.0.0/24", "65000 65000")

	// The other site withdraws: its route leaves ce1.
	ceAnnounce(t, ce2, "10.4.0.0/24", true)
	waitVPN(t, pe2, "65000:2 10.4.0.0/24", nil)
	waitVPN(t, pe1, "65000:2 10.4.0.0/24", nil)
	waitCE(t, ce1, "ce1", "10.4.0.0/24", "")
}

// TestCEIsolationSameAddressTwoVRFs: red and blue each have a CE at
// 127.0.0.3 (on two ports, as two routers behind two VRF interfaces
// would be). Each CE is sent its own VRF's remote routes only, and what
// each announces is exported with its own VRF's RD and targets only.
func TestCEIsolationSameAddressTwoVRFs(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	p1, p2 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	cRed, cBlue := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.3")
	ceRed, ceBlue := testCE(t, "127.0.0.3", cRed, "127.0.0.1"), testCE(t, "127.0.0.3", cBlue, "127.0.0.1")
	ceAnnounce(t, ceRed, "10.3.0.0/24", false)
	ceAnnounce(t, ceBlue, "10.3.0.0/24", false) // the same customer prefix in both
	ceAnnounce(t, ceBlue, "10.66.0.0/24", false)
	vrfs := `
  - {name: red, rd: '65000:%d1', import-targets: ['65000:1'], export-targets: ['65000:1']%s}
  - {name: blue, rd: '65000:%d2', import-targets: ['65000:2'], export-targets: ['65000:2']%s}`
	cfg1 := speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, fmt.Sprintf(vrfs, 1, "", 1, ""))
	cfg2 := speakerConfig(t, "2.2.2.2", "127.0.0.2", p2, "127.0.0.1", p1, fmt.Sprintf(vrfs, 2, ", static-routes: [{prefix: 10.9.0.0/24}]", 2, ", static-routes: [{prefix: 10.8.0.0/24}]"))
	pe1, pe2 := startSpeaker(t, cfg1), startSpeaker(t, cfg2)
	ceOnLoopback(t, pe1, "red", "blue")
	c := *cfg1
	c.VRFs = slices.Clone(cfg1.VRFs)
	for i, port := range []int{cRed, cBlue} {
		c.VRFs[i].Neighbors = []CENeighbor{{
			Address: netip.MustParseAddr("127.0.0.3"), Port: uint16(port), ASN: 65101, Families: []string{"ipv4"},
			LocalAddress: netip.MustParseAddr("127.0.0.1"), HoldTime: 9 * time.Second, Keepalive: 3 * time.Second,
		}}
	}
	if err := pe1.do(func() error { return pe1.apply(context.Background(), &c) }); err != nil {
		t.Fatal(err)
	}
	waitCE(t, ceRed, "red CE", "10.9.0.0/24", "65000")
	waitCE(t, ceBlue, "blue CE", "10.8.0.0/24", "65000")
	waitVPN(t, pe2, "65000:11 10.3.0.0/24", []string{"{AsPath: 65101}", "rt:65000:1;"})
	waitVPN(t, pe2, "65000:12 10.3.0.0/24", []string{"{AsPath: 65101}", "rt:65000:2;"})
	waitVPN(t, pe2, "65000:12 10.66.0.0/24", []string{"rt:65000:2;"})
	time.Sleep(time.Second)
	red, blue := ceRIB(t, ceRed), ceRIB(t, ceBlue)
	if _, ok := red["10.8.0.0/24"]; ok {
		t.Errorf("red CE has blue's 10.8.0.0/24: %v", red)
	}
	if _, ok := blue["10.9.0.0/24"]; ok {
		t.Errorf("blue CE has red's 10.9.0.0/24: %v", blue)
	}
	var rib map[string]string
	if err := pe2.do(func() error { rib = vpnRIB(t, pe2.srv); return nil }); err != nil {
		t.Fatal(err)
	}
	if r := rib["65000:11 10.66.0.0/24"]; r != "" {
		t.Errorf("blue's 10.66.0.0/24 exported from red: %s", r)
	}
	for k, v := range rib {
		if strings.HasPrefix(k, "65000:11 ") && strings.Contains(v, "rt:65000:2;") || strings.HasPrefix(k, "65000:12 ") && strings.Contains(v, "rt:65000:1;") {
			t.Errorf("%s carries the other VRF's target: %s", k, v)
		}
	}
}

// TestCEMaxPrefixes: a CE that sends one prefix more than max-prefixes
// allows is sent a Cease with subcode 1, "Maximum Number of Prefixes
// Reached" (RFC 4486), as the CE's own log of the NOTIFICATION shows, and
// none of its routes stays exported.
func TestCEMaxPrefixes(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a BGP session over loopback")
	}
	log, s := maxPrefixesCE(t, 0)
	for _, p := range []string{"10.3.0.0/24", "10.3.1.0/24", "10.3.2.0/24"} {
		waitVPN(t, s, "65000:1 "+p, nil)
	}
	// max-prefixes-restart 0: the session is held administratively down
	// (GoBGP alone leaves it in its PFX_CT state).
	deadline := time.Now().Add(5 * time.Second)
	admin := api.PeerState_UP
	for admin != api.PeerState_DOWN && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if err := s.do(func() error {
			return s.ces["red"].srv.ListPeer(context.Background(), &api.ListPeerRequest{Address: "127.0.0.3"}, func(p *api.Peer) { admin = p.State.AdminState })
		}); err != nil {
			t.Fatal(err)
		}
	}
	if admin != api.PeerState_DOWN {
		t.Errorf("CE session over max-prefixes: admin state %v, want DOWN until the configuration changes", admin)
	}
	if n := strings.Count(log.String(), "received notification"); n != 1 {
		t.Errorf("%d NOTIFICATIONs, want 1", n)
	}
}

// TestCEMaxPrefixesRestart: with max-prefixes-restart 2s the session
// comes back after 2s, and (the CE still sending too many) is closed
// again.
func TestCEMaxPrefixesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a BGP session over loopback")
	}
	start := time.Now()
	log, _ := maxPrefixesCE(t, 2*time.Second)
	first := time.Since(start)
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(log.String(), "received notification") < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := strings.Count(log.String(), "received notification"); n < 2 {
		t.Fatalf("%d NOTIFICATIONs in 15s after the first, want a second after the 2s restart", n)
	}
	if gap := time.Since(start) - first; gap < 2*time.Second {
		t.Errorf("session back %v after the first Cease, before max-prefixes-restart 2s", gap)
	}
}

// maxPrefixesCE opens a CE session with max-prefixes 2 and restart to a
// CE that sends three prefixes, and returns once the CE has received its
// Cease subcode 1, with the CE's log.
func maxPrefixesCE(t *testing.T, restart time.Duration) (*syncBuffer, *Speaker) {
	t.Helper()
	port := freePort(t, "127.0.0.3")
	log := new(syncBuffer)
	ce := testCELog(t, "127.0.0.3", port, "127.0.0.1", log)
	for _, p := range []string{"10.3.0.0/24", "10.3.1.0/24", "10.3.2.0/24"} {
		ceAnnounce(t, ce, p, false)
	}
	base := Config{RouterID: netip.MustParseAddr("192.0.2.1"), ASN: 65000, Labels: mpls.Range{First: 1000, Last: 1999},
		VRFs: []VRF{{Name: "red", RD: vpn.MustParseRD("65000:1"), ExportTargets: []vpn.RT{vpn.MustParseRT("65000:1")}, LabelMode: "per-vrf"}}}
	s := startSpeaker(t, &base)
	ceOnLoopback(t, s, "red")
	withCE := base
	withCE.VRFs = []VRF{base.VRFs[0]}
	withCE.VRFs[0].Neighbors = []CENeighbor{{
		Address: netip.MustParseAddr("127.0.0.3"), Port: uint16(port), ASN: 65101, Families: []string{"ipv4"},
		LocalAddress: netip.MustParseAddr("127.0.0.1"), HoldTime: 9 * time.Second, Keepalive: 3 * time.Second,
		MaxPrefixes: 2, MaxPrefixesRestart: restart,
	}}
	if err := s.do(func() error { return s.apply(context.Background(), &withCE) }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(log.String(), "Code=6") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	var line string
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "received notification") {
			line = l
		}
	}
	if !strings.Contains(line, "Code=6") || !strings.Contains(line, "Subcode=1 ") {
		t.Fatalf("CE received no Cease subcode 1; its log:\n%s", log.String())
	}
	return log, s
}

// TestCESiteOfOrigin: the CEs behind PE1 and PE2 are one site (SoO
// 65101:1, a dual-homed site's two links): PE1 holds PE2's route from that
// site back from its CE, while sending the PE's static route. Once PE1's
// CE is another site (65101:2), it gets the route.
func TestCESiteOfOrigin(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	p1, p2 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	c1, c2 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4")
	ce1, ce2 := testCE(t, "127.0.0.3", c1, "127.0.0.1"), testCE(t, "127.0.0.4", c2, "127.0.0.2")
	ceAnnounce(t, ce2, "10.4.0.0/24", false)
	red := `
  - {name: red, rd: '65000:%d', import-targets: ['65000:1'], export-targets: ['65000:1']%s}`
	cfg1 := speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, fmt.Sprintf(red, 1, ""))
	cfg2 := speakerConfig(t, "2.2.2.2", "127.0.0.2", p2, "127.0.0.1", p1, fmt.Sprintf(red, 2, ", static-routes: [{prefix: 10.9.0.0/24}]"))
	pe1, pe2 := startSpeaker(t, cfg1), startSpeaker(t, cfg2)
	ceOnLoopback(t, pe1, "red")
	ceOnLoopback(t, pe2, "red")
	withCE := func(s *Speaker, cfg *Config, ce string, port int, self, soo string) {
		t.Helper()
		c := *cfg
		c.VRFs = []VRF{cfg.VRFs[0]}
		c.VRFs[0].Neighbors = []CENeighbor{{
			Address: netip.MustParseAddr(ce), Port: uint16(port), ASN: 65101, Families: []string{"ipv4"},
			LocalAddress: netip.MustParseAddr(self), HoldTime: 9 * time.Second, Keepalive: 3 * time.Second,
			ASOverride: true, SiteOfOrigin: vpn.MustParseRT(soo),
		}}
		if err := s.do(func() error { return s.apply(context.Background(), &c) }); err != nil {
			t.Fatal(err)
		}
	}
	withCE(pe2, cfg2, "127.0.0.4", c2, "127.0.0.2", "65101:1")
	withCE(pe1, cfg1, "127.0.0.3", c1, "127.0.0.1", "65101:1")
	waitVPN(t, pe1, "65000:2 10.4.0.0/24", []string{"soo:65101:1;"})
	waitCE(t, ce1, "ce1", "10.9.0.0/24", "65000")
	time.Sleep(time.Second)
	if got, ok := ceRIB(t, ce1)["10.4.0.0/24"]; ok {
		t.Errorf("ce1 got its own site's route back, AS path %q", got)
	}

	withCE(pe1, cfg1, "127.0.0.3", c1, "127.0.0.1", "65101:2")
	waitCE(t, ce1, "ce1", "10.4.0.0/24", "65000 65000")
}
