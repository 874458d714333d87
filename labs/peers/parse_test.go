package peers

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The files in testdata/ are real output of FRR 8.4.4, gobgp v3.37.0 and
// BIRD 2.0.12, captured by TestInterop -capture once its routes converged
// (see interop_test.go for the topology). These tests need no root and
// pin the parsers to those shapes.

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func route(rd, prefix string, label uint32, nh string, rts ...string) VPNRoute {
	r := VPNRoute{RD: rd, Prefix: netip.MustParsePrefix(prefix), Label: label, RTs: rts, Best: true}
	if nh == "" {
		r.Local = true
	} else {
		r.NextHop = netip.MustParseAddr(nh)
	}
	return r
}

func local(r VPNRoute, nh string) VPNRoute {
	r.Local = true
	if nh != "" {
		r.NextHop = netip.MustParseAddr(nh)
	}
	return r
}

func checkRoutes(t *testing.T, got, want []VPNRoute) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes:\n got  %s\n want %s", routesString(got), routesString(want))
	}
}

func routesString(rs []VPNRoute) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.String())
	}
	return strings.Join(s, "\n      ")
}

func TestParseFRRTable(t *testing.T) {
	keys, err := parseFRRTable(readTestdata(t, "frr-ipv4-vpn-table.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{"192.0.2.2:3", "10.3.0.0/24"}, {"65000:1", "10.1.0.0/24"},
		{"65000:2", "10.2.0.0/24"}, {"65000:4", "10.4.0.0/24"},
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys = %v, want %v", keys, want)
	}
}

func TestParseFRRPrefixes(t *testing.T) {
	got, err := parseFRRPrefixes(readTestdata(t, "frr-ipv4-vpn-prefixes.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkRoutes(t, got, []VPNRoute{
		route("192.0.2.2:3", "10.3.0.0/24", 300, "10.0.12.2", "4200000000:3"),
		route("65000:1", "10.1.0.0/24", 0, "", "65000:1"), // local: FRR omits the label
		route("65000:2", "10.2.0.0/24", 200, "10.0.12.2", "65000:2"),
		route("65000:4", "10.4.0.0/24", 400, "10.0.13.3", "65000:4", "65000:44"),
	})

	got, err = parseFRRPrefixes(readTestdata(t, "frr-ipv6-vpn-prefixes.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkRoutes(t, got, []VPNRoute{
		route("65000:1", "2001:db8:1::/48", 0, "", "65000:1"),
		// ::ffff:a00:c02, unmapped
		route("65000:2", "2001:db8:2::/48", 201, "10.0.12.2", "65000:2", "65000:99"),
		route("65000:4", "2001:db8:4::/48", 401, "fd00:13::3", "65000:4"),
	})
}

func TestParseGoBGPRib(t *testing.T) {
	got, err := parseGoBGPRib(readTestdata(t, "gobgp-rib-vpnv4.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkRoutes(t, got, []VPNRoute{
		// gobgp prints the four-octet AS RT in asdot, "64086.59904:3".
		route("192.0.2.2:3", "10.3.0.0/24", 300, "", "4200000000:3"),
		route("65000:1", "10.1.0.0/24", 100, "10.0.12.1", "65000:1"),
		route("65000:2", "10.2.0.0/24", 200, "", "65000:2"),
		route("65000:4", "10.4.0.0/24", 400, "10.0.13.3", "65000:4", "65000:44"),
	})

	got, err = parseGoBGPRib(readTestdata(t, "gobgp-rib-vpnv6.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkRoutes(t, got, []VPNRoute{
		route("65000:1", "2001:db8:1::/48", 101, "10.0.12.1", "65000:1"),
		route("65000:2", "2001:db8:2::/48", 201, "", "65000:2", "65000:99"),
		// BIRD's route, reflected by FRR with FRR's own address.
		route("65000:4", "2001:db8:4::/48", 401, "10.0.12.1", "65000:4"),
	})

	if got, err := parseGoBGPRib([]byte("{}\n")); err != nil || len(got) != 0 {
		t.Errorf("empty rib: %v, %v", got, err)
	}
}

func TestParseBIRDRoutes(t *testing.T) {
	got, err := parseBIRDRoutes(readTestdata(t, "bird-vpntab4.txt"))
	if err != nil {
		t.Fatal(err)
	}
	checkRoutes(t, got, []VPNRoute{
		// Next hop not on a connected network: "unreachable", still best.
		route("192.0.2.2:3", "10.3.0.0/24", 300, "10.0.12.2", "4200000000:3"),
		route("65000:1", "10.1.0.0/24", 100, "10.0.13.1", "65000:1"),
		route("65000:2", "10.2.0.0/24", 200, "10.0.12.2", "65000:2"),
		local(route("65000:4", "10.4.0.0/24", 400, "", "65000:4", "65000:44"), "10.0.13.3"),
	})

	got, err = parseBIRDRoutes(readTestdata(t, "bird-vpntab6.txt"))
	if err != nil {
		t.Fatal(err)
	}
	checkRoutes(t, got, []VPNRoute{
		route("65000:1", "2001:db8:1::/48", 101, "fd00:13::1", "65000:1"),
		local(route("65000:4", "2001:db8:4::/48", 401, "", "65000:4"), "fd00:13::3"),
	})
}

// BIRD leaves the net blank on a net's second path; only the first is
// best. Hand-written in BIRD's layout (rt_show_rte pads the net to 20
// columns).
func TestParseBIRDRoutesSecondPath(t *testing.T) {
	text := "BIRD 2.0.12 ready.\nTable vpntab4:\n" +
		"65000:1 10.1.0.0/24  unicast [peer0 19:10:44.817] * (100) [i]\n" +
		"\tvia 10.0.13.1 on b-rr mpls 100\n\tType: BGP univ\n\tBGP.next_hop: 10.0.13.1\n" +
		"\tBGP.ext_community: (rt, 65000, 1) (ro, 65000, 9)\n\tBGP.mpls_label_stack: 100\n" +
		"                     unicast [peer1 19:10:45.000] (100) [i]\n" +
		"\tvia 10.0.14.1 on b-x mpls 16/101\n\tType: BGP univ\n" +
		"\tBGP.ext_community: (rt, 10.0.0.1, 7)\n"
	got, err := parseBIRDRoutes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	second := route("65000:1", "10.1.0.0/24", 101, "10.0.14.1", "10.0.0.1:7")
	second.Best = false
	checkRoutes(t, got, []VPNRoute{
		route("65000:1", "10.1.0.0/24", 100, "10.0.13.1", "65000:1"),
		second,
	})
}

func TestParseNeighbors(t *testing.T) {
	est := func(a string) Neighbor {
		return Neighbor{Address: netip.MustParseAddr(a), RemoteAS: 65000, State: Established}
	}
	for _, tc := range []struct {
		file  string
		parse func([]byte) ([]Neighbor, error)
		want  []Neighbor
	}{
		{"frr-neighbors.json", parseFRRNeighbors, []Neighbor{est("10.0.12.2"), est("10.0.13.3"), est("fd00:13::3")}},
		{"gobgp-neighbors.json", parseGoBGPNeighbors, []Neighbor{est("10.0.12.1")}},
		{"bird-protocols.txt", parseBIRDProtocols, []Neighbor{est("10.0.13.1"), est("fd00:13::1")}},
	} {
		got, err := tc.parse(readTestdata(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.file, got, tc.want)
		}
	}
}

// TestFRRVPNv4IPv6NextHop: FRR 8.4's detail JSON shows a VPNv4 path's IPv6
// next hop (RFC 8950) as 0.0.0.0; the table listing has it right (both
// files are its output in the IPv6-core lab, trimmed).
func TestFRRVPNv4IPv6NextHop(t *testing.T) {
	routes, err := parseFRRPrefixes(readTestdata(t, "frr-ipv4-vpn-prefix-v6nh.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 1 || routes[0].NextHop.IsValid() {
		t.Fatalf("detail: %v, want one route without a next hop", routes)
	}
	listed, err := parseFRRTableNextHops(readTestdata(t, "frr-ipv4-vpn-table-v6nh.json"))
	if err != nil {
		t.Fatal(err)
	}
	fillFRRNextHops(routes, listed)
	if got := routes[0].NextHop.String(); got != "fd00:c1::1" {
		t.Errorf("next hop = %s, want fd00:c1::1", got)
	}
}

// TestParseFRRPaths reads the stale flag of the paths bgpd keeps for a
// restarting neighbor (FRR 8.4.4, pe 192.168.0.1 killed), and bgpd's own
// paths, which have no peer.
func TestParseFRRPaths(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"frr-ipv4-vpn-table-stale.json", []string{
			"65000:11:10.1.0.0/24 from 192.168.0.1 stale", "65000:12:10.1.0.0/24 from 192.168.0.1 stale",
			"65000:21:10.2.0.0/24 from 192.168.0.2", "65000:22:10.2.0.0/24 from 192.168.0.2"}},
		{"frr-ipv6-vpn-table-stale.json", []string{
			"65000:11:fd00:1::/64 from 192.168.0.1 stale", "65000:12:fd00:1::/64 from 192.168.0.1 stale",
			"65000:21:fd00:2::/64 from 192.168.0.2", "65000:22:fd00:2::/64 from 192.168.0.2"}},
		{"frr-ipv4-vpn-table.json", []string{
			"192.0.2.2:3:10.3.0.0/24 from 10.0.12.2", "65000:1:10.1.0.0/24 from self",
			"65000:2:10.2.0.0/24 from 10.0.12.2", "65000:4:10.4.0.0/24 from 10.0.13.3"}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		paths, err := parseFRRPaths(b)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		var got []string
		for _, p := range paths {
			if !p.Valid {
				t.Errorf("%s: path %v not valid", c.file, p)
			}
			got = append(got, p.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\ngot  %q\nwant %q", c.file, got, c.want)
		}
	}
	if _, err := parseFRRPaths([]byte(`{"routes": {"routeDistinguishers": {"65000:1": {"10.1.0.0/33": []}}}}`)); err == nil {
		t.Error("a bad prefix parsed")
	}
}
