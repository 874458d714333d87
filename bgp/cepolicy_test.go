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
)

// The tests of this file run over loopback, in-process:
//
//	ce1 127.0.0.3 ─┐                                      ┌─ (PE2's VRF red:
//	ce2 127.0.0.4 ─┼─ PE1 127.0.0.1 ══ VPNv4 ══ PE2 127.0.0.2   static routes)
//	ce3 127.0.0.5 ─┘   (VRF red's CE server)
//
// Each CE is a GoBGP speaker; what a CE receives is read from its RIB,
// what the VPN receives from PE2's VPNv4 RIB.

// policyCE is a GoBGP CE in AS asn at addr:port, passive, with PE
// 127.0.0.1 as neighbor, carrying families.
func policyCE(t *testing.T, addr string, port int, asn uint32, fams ...string) *server.BgpServer {
	t.Helper()
	return policyCEOf(t, "127.0.0.1", addr, port, asn, fams...)
}

// policyCEOf is policyCE with PE pe as neighbor.
func policyCEOf(t *testing.T, pe, addr string, port int, asn uint32, fams ...string) *server.BgpServer {
	t.Helper()
	ctx := context.Background()
	srv := server.NewBgpServer(server.LoggerOption(newSlogAdapter(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	go srv.Serve()
	t.Cleanup(func() { _ = stopGoBGP(srv) })
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: asn, RouterId: addr, ListenAddresses: []string{addr}, ListenPort: int32(port),
	}}); err != nil {
		t.Fatal(err)
	}
	peer := &api.Peer{Conf: &api.PeerConf{NeighborAddress: pe, PeerAsn: 65000}, Transport: &api.Transport{PassiveMode: true}}
	for _, f := range fams {
		peer.AfiSafis = append(peer.AfiSafis, &api.AfiSafi{Config: &api.AfiSafiConfig{Family: families[f], Enabled: true}})
	}
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peer}); err != nil {
		t.Fatal(err)
	}
	return srv
}

// ceNeighborAt is PE1's side of a session with a policyCE.
func ceNeighborAt(addr string, port int, asn uint32) CENeighbor {
	return CENeighbor{Address: netip.MustParseAddr(addr), Port: uint16(port), ASN: asn, Families: []string{"ipv4"},
		LocalAddress: netip.MustParseAddr("127.0.0.1"), HoldTime: 9 * time.Second, Keepalive: 3 * time.Second}
}

// ceReceived is what a CE received from the PE for family, best or not
// (a route the CE also originates stays its own best, and an echo must
// still show): prefix -> "AS path via next hop", plus " large
// communities" if any.
func ceReceived(t *testing.T, ce *server.BgpServer, family string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := ce.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: families[family]}, func(d *api.Destination) {
		for _, p := range d.Paths {
			if p.NeighborIp == "<nil>" || p.NeighborIp == "" {
				continue // the CE's own routes
			}
			attrs, err := apiutil.GetNativePathAttributes(p)
			if err != nil {
				t.Error(err)
				return
			}
			var asPath, nh, lc string
			for _, a := range attrs {
				switch a := a.(type) {
				case *gobgp.PathAttributeAsPath:
					asPath = strings.TrimSuffix(strings.TrimPrefix(a.String(), "{AsPath: "), "}")
				case *gobgp.PathAttributeNextHop:
					nh = a.Value.String()
				case *gobgp.PathAttributeMpReachNLRI:
					nh = a.Nexthop.String()
				case *gobgp.PathAttributeLargeCommunities:
					lc = " " + a.String()
				}
			}
			if d.Prefix == testLinkPrefix {
				continue // the test's CE link (ceOnLoopback), a connected prefix of every VRF
			}
			out[d.Prefix] = asPath + " via " + nh + lc
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitReceived polls until the prefixes ce holds for family are exactly
// want, then checks that they stay so for a second: a route a filter
// lets through by mistake arrives within it.
func waitReceived(t *testing.T, ce *server.BgpServer, name, family string, want ...string) map[string]string {
	t.Helper()
	slices.Sort(want)
	var got []string
	var rib map[string]string
	deadline := time.Now().Add(20 * time.Second)
	settled := time.Time{}
	for time.Now().Before(deadline) {
		rib = ceReceived(t, ce, family)
		got = got[:0]
		for p := range rib {
			got = append(got, p)
		}
		slices.Sort(got)
		switch {
		case !slices.Equal(got, want):
			settled = time.Time{}
		case settled.IsZero():
			settled = time.Now()
		case time.Since(settled) > time.Second:
			return rib
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s received %v\nwant %v", name, rib, want)
	return nil
}

// waitVPNPrefixes polls until PE s's VPNv4 RIB holds, under rd, exactly
// the prefixes want, stable for a second.
func waitVPNPrefixes(t *testing.T, s *Speaker, rd string, want ...string) {
	t.Helper()
	slices.Sort(want)
	var got []string
	deadline := time.Now().Add(20 * time.Second)
	settled := time.Time{}
	for time.Now().Before(deadline) {
		var rib map[string]string
		if err := s.do(func() error { rib = vpnRIB(t, s.srv); return nil }); err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for k := range rib {
			if p, ok := strings.CutPrefix(k, rd+" "); ok && p != testLinkPrefix {
				got = append(got, p)
			}
		}
		slices.Sort(got)
		switch {
		case !slices.Equal(got, want):
			settled = time.Time{}
		case settled.IsZero():
			settled = time.Now()
		case time.Since(settled) > time.Second:
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("VPN RIB under %s has %v, want %v", rd, got, want)
}

// applyCE applies cfg with red's CE neighbors set to ns, as Start would
// once it runs CE sessions (it refuses them: ErrCENotRunYet).
func applyCE(t *testing.T, s *Speaker, cfg *Config, ns ...CENeighbor) {
	t.Helper()
	c := *cfg
	c.VRFs = slices.Clone(cfg.VRFs)
	c.VRFs[0].Neighbors = ns
	if err := s.do(func() error { return s.apply(context.Background(), &c) }); err != nil {
		t.Fatal(err)
	}
}

// rule is a PrefixRule for tables: "10.0.0.0/8 16..24 accept".
func rule(s string) PrefixRule {
	var p string
	var lo, hi uint8
	var action string
	if _, err := fmt.Sscanf(s, "%s %d..%d %s", &p, &lo, &hi, &action); err != nil {
		panic(s + ": " + err.Error())
	}
	return PrefixRule{Prefix: netip.MustParsePrefix(p), MinLen: lo, MaxLen: hi, Accept: action == "accept"}
}

func rules(rs ...string) []PrefixRule {
	out := []PrefixRule{}
	for _, r := range rs {
		out = append(out, rule(r))
	}
	return out
}

// policyPEs starts PE1 and PE2 over loopback, both with VRF red
// (import and export 65000:1); PE2's red has static routes remote, PE1's
// own. It returns PE1, its configuration and PE2.
func policyPEs(t *testing.T, own, remote string) (*Speaker, *Config, *Speaker) {
	t.Helper()
	p1, p2 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	red := `
  - {name: red, rd: '65000:%d', import-targets: ['65000:1'], export-targets: ['65000:1']%s}`
	statics := func(list string) string {
		if list == "" {
			return ""
		}
		var b []string
		for _, p := range strings.Fields(list) {
			b = append(b, "{prefix: "+p+"}")
		}
		return ", static-routes: [" + strings.Join(b, ", ") + "]"
	}
	cfg1 := speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, fmt.Sprintf(red, 1, statics(own)))
	cfg2 := speakerConfig(t, "2.2.2.2", "127.0.0.2", p2, "127.0.0.1", p1, fmt.Sprintf(red, 2, statics(remote)))
	pe1, pe2 := startSpeaker(t, cfg1), startSpeaker(t, cfg2)
	ceOnLoopback(t, pe1, "red")
	return pe1, cfg1, pe2
}

// TestCEExportPrefixes: each case sets ce1's export-prefixes and checks
// what ce1 then holds of PE2's routes (imported into red) and PE1's own
// static route. The cases follow each other on one CE (each change of
// export filter re-creates the session).
func TestCEExportPrefixes(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pe1, cfg1, _ := policyPEs(t, "172.16.0.0/24", "10.9.0.0/16 10.9.0.0/24 10.9.1.0/25 10.8.0.0/24 192.168.0.0/24")
	port := freePort(t, "127.0.0.3")
	ce1 := policyCE(t, "127.0.0.3", port, 65101, "ipv4")
	all := []string{"10.8.0.0/24", "10.9.0.0/16", "10.9.0.0/24", "10.9.1.0/25", "172.16.0.0/24", "192.168.0.0/24"}
	for _, tc := range []struct {
		name  string
		rules []PrefixRule
		want  []string
	}{
		{"no list accepts all", nil, all},
		{"empty list denies all", rules(), nil},
		{"exact", rules("10.9.0.0/16 16..16 accept"), []string{"10.9.0.0/16"}},
		{"le", rules("10.9.0.0/16 16..24 accept"), []string{"10.9.0.0/16", "10.9.0.0/24"}},
		{"ge", rules("10.9.0.0/16 25..32 accept"), []string{"10.9.1.0/25"}},
		{"ge le", rules("10.0.0.0/8 24..24 accept"), []string{"10.8.0.0/24", "10.9.0.0/24"}},
		{"first match deny", rules("10.9.0.0/24 24..24 deny", "10.0.0.0/8 8..32 accept"), []string{"10.8.0.0/24", "10.9.0.0/16", "10.9.1.0/25"}},
		{"first match accept", rules("10.0.0.0/8 8..32 accept", "10.9.0.0/24 24..24 deny"), []string{"10.8.0.0/24", "10.9.0.0/16", "10.9.0.0/24", "10.9.1.0/25"}},
		{"deny one, accept the rest", rules("192.168.0.0/16 24..24 deny", "0.0.0.0/0 0..32 accept"), []string{"10.8.0.0/24", "10.9.0.0/16", "10.9.0.0/24", "10.9.1.0/25", "172.16.0.0/24"}},
		{"own prefix only", rules("172.16.0.0/12 12..32 accept"), []string{"172.16.0.0/24"}},
		{"IPv6 rule on IPv4 routes matches none", rules("::/0 0..128 accept"), nil},
		{"no list again", nil, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := ceNeighborAt("127.0.0.3", port, 65101)
			n.ExportPrefixes = tc.rules
			applyCE(t, pe1, cfg1, n)
			rib := waitReceived(t, ce1, "ce1", "ipv4", tc.want...)
			for p, r := range rib {
				if !strings.HasPrefix(r, "65000 ") {
					t.Errorf("ce1 %s: %q, want it from the PE (AS 65000)", p, r)
				}
			}
		})
	}
}

// TestCEImportPrefixes: ce1 announces four prefixes; each case sets its
// import-prefixes and checks what reaches the VPN (PE2's VPNv4 RIB under
// PE1's RD) and what reaches ce2, another CE of red on PE1: GoBGP passes
// routes between two CEs of one server, so the filter must hold there
// too. The cases follow each other on one session: an import filter
// change alone is applied by a soft reset inbound.
func TestCEImportPrefixes(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pe1, cfg1, pe2 := policyPEs(t, "", "")
	port1, port2 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4")
	ce1 := policyCE(t, "127.0.0.3", port1, 65101, "ipv4")
	ce2 := policyCE(t, "127.0.0.4", port2, 65102, "ipv4")
	announced := []string{"10.3.0.0/16", "10.3.0.0/24", "10.3.1.0/25", "10.66.0.0/24"}
	for _, p := range announced {
		ceAnnounce(t, ce1, p, false)
	}
	for _, tc := range []struct {
		name  string
		rules []PrefixRule
		want  []string
	}{
		{"no list accepts all", nil, announced},
		{"empty list denies all", rules(), nil},
		{"le", rules("10.3.0.0/16 16..24 accept"), []string{"10.3.0.0/16", "10.3.0.0/24"}},
		{"ge", rules("10.3.0.0/16 17..32 accept"), []string{"10.3.0.0/24", "10.3.1.0/25"}},
		{"first match deny", rules("10.66.0.0/16 16..32 deny", "10.0.0.0/8 8..32 accept"), []string{"10.3.0.0/16", "10.3.0.0/24", "10.3.1.0/25"}},
		{"accept before deny", rules("10.0.0.0/8 8..32 accept", "10.66.0.0/16 16..32 deny"), announced},
		{"no list again", nil, announced},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := ceNeighborAt("127.0.0.3", port1, 65101)
			n.ImportPrefixes = tc.rules
			applyCE(t, pe1, cfg1, n, ceNeighborAt("127.0.0.4", port2, 65102))
			waitVPNPrefixes(t, pe2, "65000:1", tc.want...)
			rib := waitReceived(t, ce2, "ce2", "ipv4", tc.want...)
			for p, r := range rib {
				if want := "65000 65101 via 127.0.0.1"; r != want {
					t.Errorf("ce2 %s: %q, want %q", p, r, want)
				}
			}
		})
	}
}

// TestCEOwnPrefixes: PE1's static and connected prefixes of red reach
// its CE with next-hop self and leave it when they go; a prefix the CE
// itself announces is not sent back to it, while another CE gets it.
func TestCEOwnPrefixes(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pe1, cfg1, _ := policyPEs(t, "172.16.0.0/24", "")
	port1, port2 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4")
	ce1 := policyCE(t, "127.0.0.3", port1, 65101, "ipv4")
	ce2 := policyCE(t, "127.0.0.4", port2, 65102, "ipv4")
	n1, n2 := ceNeighborAt("127.0.0.3", port1, 65101), ceNeighborAt("127.0.0.4", port2, 65102)
	applyCE(t, pe1, cfg1, n1, n2)
	rib := waitReceived(t, ce1, "ce1", "ipv4", "172.16.0.0/24")
	if r := rib["172.16.0.0/24"]; r != "65000 via 127.0.0.1" {
		t.Errorf("ce1 172.16.0.0/24: %q, want the provider AS via the PE", r)
	}

	// Connected prefixes arrive and go with SetConnected; ce1 announces
	// its link's subnet too, as CEs do, and does not hear it back.
	ceAnnounce(t, ce1, "10.1.0.0/24", false)
	ctx := context.Background()
	if err := pe1.SetConnected(ctx, "red", []Connected{Connected{Interface: "lo", Prefix: netip.MustParsePrefix(testLinkPrefix)}, {Interface: "ce1", Prefix: netip.MustParsePrefix("10.1.0.1/24")}, {Interface: "ce2", Prefix: netip.MustParsePrefix("10.2.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ce1, "ce1", "ipv4", "172.16.0.0/24", "10.2.0.0/24")
	rib = waitReceived(t, ce2, "ce2", "ipv4", "172.16.0.0/24", "10.1.0.0/24", "10.2.0.0/24")
	if r := rib["10.1.0.0/24"]; r != "65000 65101 via 127.0.0.1" {
		t.Errorf("ce2 10.1.0.0/24: %q, want ce1's route through the PE", r)
	}
	if err := pe1.SetConnected(ctx, "red", []Connected{Connected{Interface: "lo", Prefix: netip.MustParsePrefix(testLinkPrefix)}, {Interface: "ce1", Prefix: netip.MustParsePrefix("10.1.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ce1, "ce1", "ipv4", "172.16.0.0/24")
	ceAnnounce(t, ce1, "10.1.0.0/24", true)
	// Now only PE1's connected 10.1.0.0/24 is left: ce1 gets it.
	waitReceived(t, ce1, "ce1", "ipv4", "172.16.0.0/24", "10.1.0.0/24")
	if err := pe1.SetConnected(ctx, "red", []Connected{Connected{Interface: "lo", Prefix: netip.MustParsePrefix(testLinkPrefix)}}); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ce1, "ce1", "ipv4", "172.16.0.0/24")

	// A reload without the static route withdraws it.
	noStatic := *cfg1
	noStatic.VRFs = slices.Clone(cfg1.VRFs)
	noStatic.VRFs[0].StaticRoutes = nil
	applyCE(t, pe1, &noStatic, n1, n2)
	waitReceived(t, ce1, "ce1", "ipv4")
	waitReceived(t, ce2, "ce2", "ipv4")
}

// TestCEDefaultOriginate: ce1 asks for a default route, ce2 does not.
// ce1 gets 0.0.0.0/0 (and ::/0 on its IPv6 family) from the PE beside
// the VRF's routes, ce2 does not, and neither sees the marker that told
// them apart. With export-prefixes accepting only the default, ce1's
// table is the default alone. Once the VRF imports a real default, ce2
// gets that one.
func TestCEDefaultOriginate(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pe1, cfg1, pe2 := policyPEs(t, "", "10.9.0.0/24")
	port1, port2 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4")
	ce1 := policyCE(t, "127.0.0.3", port1, 65101, "ipv4", "ipv6")
	ce2 := policyCE(t, "127.0.0.4", port2, 65102, "ipv4")
	n1, n2 := ceNeighborAt("127.0.0.3", port1, 65101), ceNeighborAt("127.0.0.4", port2, 65102)
	n1.Families = []string{"ipv4", "ipv6"}
	n1.DefaultOriginate = true
	applyCE(t, pe1, cfg1, n1, n2)
	rib := waitReceived(t, ce1, "ce1", "ipv4", "0.0.0.0/0", "10.9.0.0/24")
	if r := rib["0.0.0.0/0"]; r != "65000 via 127.0.0.1" {
		t.Errorf("ce1 0.0.0.0/0: %q, want from the PE, next-hop self, no marker", r)
	}
	rib6 := waitReceived(t, ce1, "ce1", "ipv6", "::/0")
	if r := rib6["::/0"]; !strings.HasPrefix(r, "65000 via ") || strings.Contains(r, "LargeCommunity") {
		t.Errorf("ce1 ::/0: %q, want from the PE, no marker", r)
	}
	waitReceived(t, ce2, "ce2", "ipv4", "10.9.0.0/24")

	// Default only.
	n1.ExportPrefixes = rules("0.0.0.0/0 0..0 accept", "::/0 0..0 accept")
	applyCE(t, pe1, cfg1, n1, n2)
	waitReceived(t, ce1, "ce1", "ipv4", "0.0.0.0/0")
	// An export filter that does not accept it holds the default back too.
	n1.ExportPrefixes = rules("10.0.0.0/8 8..32 accept")
	applyCE(t, pe1, cfg1, n1, n2)
	waitReceived(t, ce1, "ce1", "ipv4", "10.9.0.0/24")
	n1.ExportPrefixes = nil
	applyCE(t, pe1, cfg1, n1, n2)
	waitReceived(t, ce1, "ce1", "ipv4", "0.0.0.0/0", "10.9.0.0/24")

	// PE2 exports a default into red: a route of the VRF, which ce2 gets
	// as any other, and ce1 gets in place of the originated one.
	cfg2 := pe2.Config()
	withDefault := *cfg2
	withDefault.VRFs = slices.Clone(cfg2.VRFs)
	withDefault.VRFs[0].StaticRoutes = append(slices.Clone(cfg2.VRFs[0].StaticRoutes), netip.MustParsePrefix("0.0.0.0/0"))
	if err := pe2.Reload(context.Background(), &withDefault); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ce2, "ce2", "ipv4", "0.0.0.0/0", "10.9.0.0/24")
	rib = waitReceived(t, ce1, "ce1", "ipv4", "0.0.0.0/0", "10.9.0.0/24")
	if r := rib["0.0.0.0/0"]; r != "65000 via 127.0.0.1" {
		t.Errorf("ce1 0.0.0.0/0 with the VRF's own default: %q", r)
	}
	if err := pe2.Reload(context.Background(), cfg2); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ce2, "ce2", "ipv4", "10.9.0.0/24")
	waitReceived(t, ce1, "ce1", "ipv4", "0.0.0.0/0", "10.9.0.0/24")

	// Default-originate off: ce1 loses it.
	n1.DefaultOriginate = false
	applyCE(t, pe1, cfg1, n1, n2)
	waitReceived(t, ce1, "ce1", "ipv4", "10.9.0.0/24")
	waitReceived(t, ce1, "ce1", "ipv6")
}

// TestCESiteOfOriginSamePE: ce1 and ce2 are one site (SoO 65101:1) on
// one PE, in two ASes so that no AS-path loop check hides the result;
// ce3 is another site. A route from ce1 reaches ce3 and the VPN, never
// ce2.
func TestCESiteOfOriginSamePE(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pe1, cfg1, pe2 := policyPEs(t, "", "")
	port1, port2, port3 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4"), freePort(t, "127.0.0.5")
	ce1 := policyCE(t, "127.0.0.3", port1, 65101, "ipv4")
	ce2 := policyCE(t, "127.0.0.4", port2, 65102, "ipv4")
	ce3 := policyCE(t, "127.0.0.5", port3, 65103, "ipv4")
	ceAnnounce(t, ce1, "10.3.0.0/24", false)
	n1, n2, n3 := ceNeighborAt("127.0.0.3", port1, 65101), ceNeighborAt("127.0.0.4", port2, 65102), ceNeighborAt("127.0.0.5", port3, 65103)
	n1.SiteOfOrigin, n2.SiteOfOrigin, n3.SiteOfOrigin = vpn.MustParseRT("65101:1"), vpn.MustParseRT("65101:1"), vpn.MustParseRT("65101:2")
	applyCE(t, pe1, cfg1, n1, n2, n3)
	waitVPN(t, pe2, "65000:1 10.3.0.0/24", []string{"soo:65101:1;"})
	waitReceived(t, ce3, "ce3", "ipv4", "10.3.0.0/24")
	waitReceived(t, ce2, "ce2", "ipv4")

	// ce2 becomes a site of its own: now it hears ce1.
	n2.SiteOfOrigin = vpn.MustParseRT("65101:3")
	applyCE(t, pe1, cfg1, n1, n2, n3)
	waitReceived(t, ce2, "ce2", "ipv4", "10.3.0.0/24")
}

// TestCEPolicyMarkerFromCE: a CE that sends the default-originate
// marker itself does not get its route held back from CEs without
// default-originate: the marker is the PE's to set.
func TestCEPolicyMarkerFromCE(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pe1, cfg1, _ := policyPEs(t, "", "")
	port1, port2 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4")
	ce1 := policyCE(t, "127.0.0.3", port1, 65101, "ipv4")
	ce2 := policyCE(t, "127.0.0.4", port2, 65102, "ipv4")
	path, err := apiutil.NewPath(gobgp.NewIPAddrPrefix(0, "0.0.0.0"), false, []gobgp.PathAttributeInterface{
		gobgp.NewPathAttributeOrigin(gobgp.BGP_ORIGIN_ATTR_TYPE_IGP),
		gobgp.NewPathAttributeNextHop("0.0.0.0"),
		gobgp.NewPathAttributeLargeCommunities([]*gobgp.LargeCommunity{gobgp.NewLargeCommunity(65000, 4294967295, 0)}),
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ce1.AddPath(context.Background(), &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path}); err != nil {
		t.Fatal(err)
	}
	applyCE(t, pe1, cfg1, ceNeighborAt("127.0.0.3", port1, 65101), ceNeighborAt("127.0.0.4", port2, 65102))
	rib := waitReceived(t, ce2, "ce2", "ipv4", "0.0.0.0/0")
	if r := rib["0.0.0.0/0"]; r != "65000 65101 via 127.0.0.1" {
		t.Errorf("ce2 0.0.0.0/0: %q, want ce1's default without the marker", r)
	}
}

// TestWithoutMarker: an imported path keeps its large communities but
// not this PE's default-originate marker, and the original is untouched.
func TestWithoutMarker(t *testing.T) {
	lc := func(cs ...*gobgp.LargeCommunity) gobgp.PathAttributeInterface {
		return gobgp.NewPathAttributeLargeCommunities(cs)
	}
	marker := gobgp.NewLargeCommunity(65000, ceMarkerData1, 0)
	other := gobgp.NewLargeCommunity(65101, ceMarkerData1, 0) // another AS's: not ours to strip
	for _, tc := range []struct {
		name string
		in   []gobgp.PathAttributeInterface
		want string
	}{
		{"none", []gobgp.PathAttributeInterface{gobgp.NewPathAttributeOrigin(0)}, "{Origin: i}"},
		{"marker only", []gobgp.PathAttributeInterface{gobgp.NewPathAttributeOrigin(0), lc(marker)}, "{Origin: i}"},
		{"marker and others", []gobgp.PathAttributeInterface{lc(gobgp.NewLargeCommunity(65000, 1, 2), marker, other)}, "{LargeCommunity: [ 65000:1:2, 65101:4294967295:0]}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := fmt.Sprint(tc.in)
			var got []string
			for _, a := range withoutMarker(tc.in, 65000) {
				got = append(got, a.String())
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("got %s, want %s", s, tc.want)
			}
			if after := fmt.Sprint(tc.in); after != before {
				t.Errorf("input changed: %s -> %s", before, after)
			}
		})
	}
}

// TestCEDualHomedNoEcho: ce1 behind PE1 and ce2 behind PE2 announce the
// same prefix (one site on two links, no site of origin configured).
// Each PE keeps its own CE's route best, so both stay exported to the
// VPN, and neither CE is sent its own prefix back through the VPN.
func TestCEDualHomedNoEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pe1, cfg1, pe2 := policyPEs(t, "", "")
	port1, port2 := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4")
	ce1 := policyCE(t, "127.0.0.3", port1, 65101, "ipv4")
	ce2 := policyCEOf(t, "127.0.0.2", "127.0.0.4", port2, 65102, "ipv4")
	ceAnnounce(t, ce1, "10.3.0.0/24", false)
	ceAnnounce(t, ce2, "10.3.0.0/24", false)
	ceAnnounce(t, ce2, "10.4.0.0/24", false)
	applyCE(t, pe1, cfg1, ceNeighborAt("127.0.0.3", port1, 65101))
	n2 := ceNeighborAt("127.0.0.4", port2, 65102)
	n2.LocalAddress = netip.MustParseAddr("127.0.0.2")
	ceOnLoopback(t, pe2, "red")
	applyCE(t, pe2, pe2.Config(), n2)
	waitVPNPrefixes(t, pe1, "65000:2", "10.3.0.0/24", "10.4.0.0/24")
	waitVPNPrefixes(t, pe2, "65000:1", "10.3.0.0/24")
	waitReceived(t, ce1, "ce1", "ipv4", "10.4.0.0/24")
	waitReceived(t, ce2, "ce2", "ipv4")
}

// TestCEExportPrefixesIPv6: export-prefixes on a CE's IPv6 family, with
// PE1's own IPv6 static routes as what it is sent.
func TestCEExportPrefixesIPv6(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pe1, cfg1, _ := policyPEs(t, "'fd00:1::/64' 'fd00:2::/48' 10.7.0.0/24", "")
	port := freePort(t, "127.0.0.3")
	ce1 := policyCE(t, "127.0.0.3", port, 65101, "ipv4", "ipv6")
	for _, tc := range []struct {
		name     string
		rules    []PrefixRule
		want     []string
		wantIPv4 []string
	}{
		{"no list", nil, []string{"fd00:1::/64", "fd00:2::/48"}, []string{"10.7.0.0/24"}},
		{"ge", rules("fd00::/8 64..128 accept"), []string{"fd00:1::/64"}, nil},
		{"deny first", rules("fd00:2::/48 48..48 deny", "::/0 0..128 accept"), []string{"fd00:1::/64"}, nil},
		{"IPv4 rule only", rules("0.0.0.0/0 0..32 accept"), nil, []string{"10.7.0.0/24"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := ceNeighborAt("127.0.0.3", port, 65101)
			n.Families = []string{"ipv4", "ipv6"}
			n.ExportPrefixes = tc.rules
			applyCE(t, pe1, cfg1, n)
			waitReceived(t, ce1, "ce1", "ipv6", tc.want...)
			waitReceived(t, ce1, "ce1", "ipv4", tc.wantIPv4...)
		})
	}
}

// TestCESendUnchanged: sending the CEs a path they already have is not
// a new AddPath (GoBGP would send every CE the same UPDATE again, and
// the VRF's own prefixes are resent on each of their VPN best-path
// events): the path's age in the CE server stays.
func TestCESendUnchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts GoBGP servers on loopback")
	}
	pe1, cfg1, _ := policyPEs(t, "172.16.0.0/24", "")
	applyCE(t, pe1, cfg1, ceNeighborAt("127.0.0.3", freePort(t, "127.0.0.3"), 65101)) // no CE listens: the session stays down
	age := func() int64 {
		t.Helper()
		var got int64
		if err := pe1.do(func() error {
			return pe1.ces["red"].srv.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: families["ipv4"],
				Prefixes: []*api.TableLookupPrefix{{Prefix: "172.16.0.0/24"}}}, func(d *api.Destination) {
				for _, p := range d.Paths {
					got = p.Age.GetSeconds()
				}
			})
		}); err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			t.Fatal("the CE server holds no path to 172.16.0.0/24")
		}
		return got
	}
	before := age()
	time.Sleep(1100 * time.Millisecond)
	if err := pe1.do(func() error { return pe1.ceResync(context.Background(), "red") }); err != nil {
		t.Fatal(err)
	}
	if after := age(); after != before {
		t.Errorf("172.16.0.0/24 re-added by an unchanged resync: age %d -> %d", before, after)
	}
}
