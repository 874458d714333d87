package peers

import (
	"net/netip"
	"testing"
)

func TestNormalizeAdmin(t *testing.T) {
	for in, want := range map[string]string{
		"65000:1":          "65000:1",
		"RT:65000:1":       "65000:1",      // FRR
		"target:65000:1":   "65000:1",      // RFC 4360 text
		"64086.59904:3":    "4200000000:3", // gobgp's asdot
		"192.0.2.1:7":      "192.0.2.1:7",  // an IPv4 administrator stays
		" 4200000000:3 ":   "4200000000:3",
		"1.2:3":            "65538:3",
		"notanumber.x:1":   "notanumber.x:1",
		"no-colon-at-all":  "no-colon-at-all",
		"rt:10.0.0.1:4000": "10.0.0.1:4000",
	} {
		if got := normalizeAdmin(in); got != want {
			t.Errorf("normalizeAdmin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGoBGPAdmin(t *testing.T) {
	for in, want := range map[string]string{
		"65000:1":      "65000:1",
		"65535:1":      "65535:1",
		"65536:1":      "1.0:1",
		"4200000000:3": "64086.59904:3",
		"192.0.2.1:7":  "192.0.2.1:7",
	} {
		if got := gobgpAdmin(in); got != want {
			t.Errorf("gobgpAdmin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatches(t *testing.T) {
	got := VPNRoute{RD: "65000:1", Prefix: netip.MustParsePrefix("10.1.0.0/24"), Label: 100,
		RTs: []string{"65000:1", "65000:2"}, NextHop: netip.MustParseAddr("10.0.0.1")}
	for _, tc := range []struct {
		name string
		want VPNRoute
		ok   bool
	}{
		{"rd and prefix only", VPNRoute{RD: "65000:1", Prefix: got.Prefix}, true},
		{"everything", VPNRoute{RD: "65000:1", Prefix: got.Prefix, Label: 100, RTs: []string{"65000:2", "RT:65000:1"}, NextHop: got.NextHop}, true},
		{"mapped next hop", VPNRoute{RD: "65000:1", Prefix: got.Prefix, NextHop: netip.MustParseAddr("::ffff:10.0.0.1")}, true},
		{"other rd", VPNRoute{RD: "65000:2", Prefix: got.Prefix}, false},
		{"other prefix", VPNRoute{RD: "65000:1", Prefix: netip.MustParsePrefix("10.1.0.0/25")}, false},
		{"other label", VPNRoute{RD: "65000:1", Prefix: got.Prefix, Label: 101}, false},
		{"missing rt", VPNRoute{RD: "65000:1", Prefix: got.Prefix, RTs: []string{"65000:1"}}, false},
		{"no rts wanted", VPNRoute{RD: "65000:1", Prefix: got.Prefix, RTs: []string{}}, false},
		{"other next hop", VPNRoute{RD: "65000:1", Prefix: got.Prefix, NextHop: netip.MustParseAddr("10.0.0.2")}, false},
	} {
		if ok := tc.want.Matches(got); ok != tc.ok {
			t.Errorf("%s: Matches = %v, want %v", tc.name, ok, tc.ok)
		}
	}
}

func TestCheckRoute(t *testing.T) {
	good := VPNRoute{RD: "65000:1", Prefix: netip.MustParsePrefix("10.1.0.0/24"), Label: 100, RTs: []string{"65000:1"}}
	if err := checkRoute(good); err != nil {
		t.Errorf("checkRoute(%v) = %v", good, err)
	}
	for name, mutate := range map[string]func(*VPNRoute){
		"bad rd":          func(r *VPNRoute) { r.RD = "65000" },
		"unmasked prefix": func(r *VPNRoute) { r.Prefix = netip.MustParsePrefix("10.1.0.1/24") },
		"reserved label":  func(r *VPNRoute) { r.Label = 3 },
		"label too big":   func(r *VPNRoute) { r.Label = 1 << 20 },
		"bad rt":          func(r *VPNRoute) { r.RTs = []string{"65000:x"} },
	} {
		r := good
		r.RTs = append([]string(nil), good.RTs...)
		mutate(&r)
		if err := checkRoute(r); err == nil {
			t.Errorf("%s: checkRoute(%v) = nil, want an error", name, r)
		}
	}
}
