package peers

import (
	"os"
	"path/filepath"
	"testing"
)

// The parsers read other programs' output: whatever it is, they return
// routes or an error, never panic, and what they return is normalised.

func addTestdataSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func checkParsed(t *testing.T, routes []VPNRoute) {
	for _, r := range routes {
		if !r.Prefix.IsValid() {
			t.Errorf("route with an invalid prefix: %v", r)
		}
		for _, rt := range r.RTs {
			if normalizeAdmin(rt) != rt {
				t.Errorf("route %v: RT %q not normalised", r, rt)
			}
		}
		if r.NextHop.Is4In6() {
			t.Errorf("route %v: next hop left mapped", r)
		}
	}
}

func FuzzParseBIRDRoutes(f *testing.F) {
	addTestdataSeeds(f, "bird-vpntab4.txt", "bird-vpntab6.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		routes, err := parseBIRDRoutes(b)
		if err == nil {
			checkParsed(t, routes)
		}
	})
}

func FuzzParseBIRDProtocols(f *testing.F) {
	addTestdataSeeds(f, "bird-protocols.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseBIRDProtocols(b)
	})
}

func FuzzParseFRRPrefixes(f *testing.F) {
	addTestdataSeeds(f, "frr-ipv4-vpn-prefixes.json", "frr-ipv6-vpn-prefixes.json", "frr-ipv4-vpn-prefix-v6nh.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		routes, err := parseFRRPrefixes(b)
		if err == nil {
			checkParsed(t, routes)
		}
	})
}

func FuzzParseGoBGPRib(f *testing.F) {
	addTestdataSeeds(f, "gobgp-rib-vpnv4.json", "gobgp-rib-vpnv6.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		routes, err := parseGoBGPRib(b)
		if err == nil {
			checkParsed(t, routes)
		}
	})
}

func FuzzParseFRRTableNextHops(f *testing.F) {
	addTestdataSeeds(f, "frr-ipv4-vpn-table.json", "frr-ipv4-vpn-table-v6nh.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		listed, err := parseFRRTableNextHops(b)
		if err != nil {
			return
		}
		for k, nhs := range listed {
			for _, nh := range nhs {
				if nh.Is4In6() || (nh.IsValid() && nh.IsUnspecified()) {
					t.Errorf("%s: next hop %s not normalised", k, nh)
				}
			}
		}
	})
}

func FuzzParseFRRPaths(f *testing.F) {
	addTestdataSeeds(f, "frr-ipv4-vpn-table.json", "frr-ipv4-vpn-table-stale.json", "frr-ipv6-vpn-table-stale.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		paths, err := parseFRRPaths(b)
		if err != nil {
			return
		}
		for _, p := range paths {
			if !p.Prefix.IsValid() || p.Prefix != p.Prefix.Masked() {
				t.Errorf("path %v: prefix not valid and masked", p)
			}
			if normalizeAdmin(p.RD) != p.RD {
				t.Errorf("path %v: RD %q not normalised", p, p.RD)
			}
			if p.Peer.Is4In6() {
				t.Errorf("path %v: peer left mapped", p)
			}
		}
	})
}
