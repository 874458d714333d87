package main

import (
	"net/netip"
	"testing"
	"time"

	"github.com/osrg/gobgp/v3/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v3/pkg/packet/bgp"

	"github.com/peregrine-net/peregrine/config"
)

func TestBenchPrefix(t *testing.T) {
	for _, c := range []struct {
		i    int
		want string
	}{
		{0, "10.0.0.0/24"}, {1, "10.0.1.0/24"}, {256, "10.1.0.0/24"}, {65535, "10.255.255.0/24"},
		{65536, "11.0.0.0/32"}, {65537, "11.0.0.1/32"}, {1_000_000, "11.14.66.64/32"},
		{maxRoutes - 1, "11.255.255.255/32"},
	} {
		if got := benchPrefix(c.i).String(); got != c.want {
			t.Errorf("benchPrefix(%d) = %s, want %s", c.i, got, c.want)
		}
	}
	seen := make(map[netip.Prefix]bool, 200_000)
	for i := range 200_000 {
		p := benchPrefix(i)
		if seen[p] || p != p.Masked() {
			t.Fatalf("benchPrefix(%d) = %s: repeated or not masked", i, p)
		}
		seen[p] = true
	}
}

func TestBuildPaths(t *testing.T) {
	spec := routeSpec{rdAdmin: 65000, rdAssigned: 100, rtASN: 65000, rtValue: 100, nextHop: addrA}
	batches := buildPaths(spec, 5, 2)
	if len(batches) != 3 || len(batches[0]) != 2 || len(batches[2]) != 1 {
		t.Fatalf("batches of %d, %d, %d", len(batches[0]), len(batches[1]), len(batches[2]))
	}
	// GoBGP's own decoder, the one its gRPC server uses, must read back
	// what was meant.
	p := batches[2][0]
	nlri, err := apiutil.GetNativeNlri(p)
	if err != nil {
		t.Fatal(err)
	}
	vpn, ok := nlri.(*bgppkt.LabeledVPNIPAddrPrefix)
	if !ok {
		t.Fatalf("NLRI %T", nlri)
	}
	if vpn.String() != "65000:100:10.0.4.0/24" || vpn.Labels.Labels[0] != 104 {
		t.Errorf("NLRI %s label %v", vpn, vpn.Labels.Labels)
	}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		t.Fatal(err)
	}
	var nh, rt string
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgppkt.PathAttributeMpReachNLRI:
			nh = a.Nexthop.String()
		case *bgppkt.PathAttributeExtendedCommunities:
			rt = a.Value[0].String()
		}
	}
	if nh != "127.0.0.11" || rt != "65000:100" {
		t.Errorf("next hop %q, route target %q", nh, rt)
	}
}

// TestPeregrinedConf checks that the generated configuration is one
// peregrined accepts, importing the routes' RT.
func TestPeregrinedConf(t *testing.T) {
	cfg, err := config.Parse([]byte(peregrinedConf(1790, 50061, "/tmp/x.sock", "none")))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.BGP.Neighbors[0]
	if n.Address != addrA || n.Port != 1790 || !n.Passive || cfg.BGP.API.String() != "127.0.0.12:50061" {
		t.Errorf("neighbor %+v, api %v", n, cfg.BGP.API)
	}
	if v := cfg.VRFs[0]; v.Name != vrfName || v.ImportTargets[0].String() != "65000:100" {
		t.Errorf("vrf %+v", v)
	}
}

func TestParseProc(t *testing.T) {
	u, err := parseStatus([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads: 3\n"))
	if err != nil || u.RSS != 1<<20 || u.Peak != 2<<20 {
		t.Errorf("parseStatus: %+v %v", u, err)
	}
	if _, err := parseStatus([]byte("VmRSS: 1 kB\n")); err == nil {
		t.Error("parseStatus without VmHWM: no error")
	}
	stat := "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0\n"
	if cpu, err := parseStatCPU([]byte(stat)); err != nil || cpu != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", cpu, err)
	}
	busy, err := parseHostBusy([]byte("cpu  100 1 20 5000 30 2 3 4 0 0\ncpu0 1 2 3\n"))
	if err != nil || busy != 130*clockTick {
		t.Errorf("parseHostBusy = %v, %v; want %v", busy, err, 130*clockTick)
	}
}

func TestEstimate(t *testing.T) {
	s := func(sec float64, n int) sample { return sample{at: time.Duration(sec * float64(time.Second)), n: n} }
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	for _, c := range []struct {
		name   string
		a, b   sample
		target int
		seen   time.Duration
		want   time.Duration
	}{
		{"rising", s(1, 100), s(2, 200), 300, sec(5), sec(3)},
		{"falling", s(1, 300), s(2, 200), 0, sec(5), sec(4)},
		{"clamped to seen", s(1, 100), s(2, 110), 300, sec(5), sec(5)},
		{"no progress", s(1, 100), s(2, 100), 300, sec(5), sec(5)},
		{"wrong way", s(1, 200), s(2, 100), 300, sec(5), sec(5)},
		{"from the start", s(0, 0), s(0, 0), 300, sec(1), sec(1)},
		{"unknown count", s(1, -1), s(2, 200), 300, sec(5), sec(5)},
	} {
		if got := estimate(c.a, c.b, c.target, c.seen); got != c.want {
			t.Errorf("%s: estimate = %v, want %v", c.name, got, c.want)
		}
	}
}
