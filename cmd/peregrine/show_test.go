package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fakeDaemon serves fixed documents on a unix socket as peregrined would.
func fakeDaemon(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "pe.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	reply := func(path string, v any) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(v) })
	}
	reply("/v1/bgp/neighbors", fixtureNeighbors)
	reply("/v1/vrfs", fixtureVRFs)
	reply("/v1/vrfs/red/routes", fixtureRoutes)
	reply("/v1/bgp/vpnv4", fixtureVPNPaths)
	mux.HandleFunc("GET /v1/bgp/vpnv6", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("vrf") != "red" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(fixtureVPNPaths[2:])
	})
	reply("/v1/mpls", fixtureLabels)
	reply("/v1/ipsec/sa", fixtureSAs)
	reply("/v1/ipsec/attachments", fixtureAttachments)
	reply("/v1/interfaces", fixtureInterfaces)
	reply("/v1/dataplane", fixtureDataplane)
	reply("/v1/bgp/vrfs/red/neighbors", fixtureCENeighbors)
	mux.HandleFunc("GET /v1/bgp/vrfs/red/paths", func(w http.ResponseWriter, r *http.Request) {
		rt := fixtureCERoutes
		switch fam := r.URL.Query().Get("family"); fam {
		case "":
		case "ipv6":
			rt = localapi.CERoutes{VRF: "red", Family: fam, Learned: fixtureCERoutes.Learned[2:], Advertised: []localapi.CEPath{}}
		default:
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(localapi.Error{Error: "family " + fam})
			return
		}
		_ = json.NewEncoder(w).Encode(rt)
	})
	mux.HandleFunc("GET /v1/bgp/vrfs/nope/", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(localapi.Error{Error: `no vrf "nope"`})
	})
	mux.HandleFunc("GET /v1/vrfs/nope/routes", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(localapi.Error{Error: `no vrf "nope"`})
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return sock
}

var (
	fixtureNeighbors = []localapi.Neighbor{
		{Address: mustAddr("10.0.0.100"), ASN: 65000, Description: "rr1", State: "established", Uptime: 3*time.Hour + 4*time.Minute + 5*time.Second,
			Families: []localapi.Family{{Name: "vpnv4", Received: 12, Accepted: 10, Sent: 3}, {Name: "vpnv6", Received: 2, Accepted: 2, Sent: 1}}},
		{Address: mustAddr("2001:db8::2"), ASN: 4200000001, State: "active", Reason: "connection refused: nothing listens on the neighbor's BGP port for this address", Families: []localapi.Family{{Name: "vpnv6"}}},
	}
	fixtureVRFs = []localapi.VRF{
		{Name: "red", RD: "65000:1", ImportTargets: []string{"65000:1"}, ExportTargets: []string{"65000:1"}, Interfaces: []string{"ce1"}, LabelMode: "per-vrf", Imported: 3,
			RemotePEs: []localapi.RemotePE{{Address: mustAddr("10.0.0.2"), Protection: "protected"}, {Address: mustAddr("10.0.0.3"), Protection: "unprotected"}}},
		{Name: "blue", RD: "192.0.2.1:2", ImportTargets: []string{"65000:2", "65000:20"}, ExportTargets: []string{"65000:2"}, LabelMode: "per-prefix"},
	}
	fixtureRoutes = localapi.VRFRoutes{VRF: "red", Routes: []localapi.Route{
		{Prefix: mustPrefix("10.1.0.0/24"), Label: 1000, RD: "65000:1", Local: true},
		{Prefix: mustPrefix("172.16.1.1/32"), NextHop: mustAddr("10.1.0.2"), Label: 1000, RD: "65000:1", Local: true},
		{Prefix: mustPrefix("10.2.0.0/24"), NextHop: mustAddr("10.0.0.2"), Label: 2000, RD: "65000:11", Protection: "protected"},
		{Prefix: mustPrefix("fd00:2::/64"), NextHop: mustAddr("10.0.0.2"), Label: 2000, RD: "65000:11", Protection: "protected"},
		{Prefix: mustPrefix("10.3.0.0/24"), NextHop: mustAddr("10.0.0.3"), Label: 3000, RD: "65000:12", Protection: "unprotected"},
	}}
)

func TestShowGolden(t *testing.T) {
	sock := fakeDaemon(t)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"bgp-summary.txt", []string{"show", "bgp", "summary"}},
		{"vrf.txt", []string{"show", "vrf"}},
		{"route-vrf-red.txt", []string{"show", "route", "vrf", "red"}},
		{"bgp-vpnv4.txt", []string{"show", "bgp", "vpnv4"}},
		{"bgp-vpnv6-vrf-red.txt", []string{"show", "bgp", "vpnv6", "vrf", "red"}},
		{"mpls-table.txt", []string{"show", "mpls", "table"}},
		{"ipsec-sa.txt", []string{"show", "ipsec", "sa"}},
		{"ipsec-attachments.txt", []string{"show", "ipsec", "attachments"}},
		{"interfaces.txt", []string{"show", "interfaces"}},
		{"dataplane.txt", []string{"show", "dataplane"}},
		{"bgp-vrf-red-summary.txt", []string{"show", "bgp", "vrf", "red", "summary"}},
		{"bgp-vrf-red.txt", []string{"show", "bgp", "vrf", "red"}},
		{"bgp-vrf-red-ipv6.txt", []string{"show", "bgp", "vrf", "red", "ipv6"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(append([]string{"-s", sock}, tc.args...), &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
			}
		})
	}
}

func TestShowJSONRoundTrips(t *testing.T) {
	sock := fakeDaemon(t)
	check := func(args []string, into, want any) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"-s", sock}, args...), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		if err := json.Unmarshal(out.Bytes(), into); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if got := reflect.ValueOf(into).Elem().Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("%v: round trip\n got %+v\nwant %+v", args, got, want)
		}
	}
	check([]string{"--json", "show", "bgp", "summary"}, &[]localapi.Neighbor{}, fixtureNeighbors)
	check([]string{"show", "vrf", "--json"}, &[]localapi.VRF{}, fixtureVRFs)
	check([]string{"show", "route", "vrf", "red", "--json"}, &localapi.VRFRoutes{}, fixtureRoutes)
	check([]string{"show", "bgp", "vpnv4", "--json"}, &[]localapi.VPNPath{}, fixtureVPNPaths)
	check([]string{"show", "mpls", "table", "--json"}, &[]localapi.LabelEntry{}, fixtureLabels)
	check([]string{"show", "ipsec", "sa", "--json"}, &[]localapi.SA{}, fixtureSAs)
	check([]string{"show", "ipsec", "attachments", "--json"}, &[]localapi.Attachment{}, fixtureAttachments)
	check([]string{"show", "interfaces", "--json"}, &[]localapi.Interface{}, fixtureInterfaces)
	check([]string{"show", "dataplane", "--json"}, &localapi.Dataplane{}, fixtureDataplane)
	check([]string{"show", "bgp", "vrf", "red", "summary", "--json"}, &[]localapi.CENeighbor{}, fixtureCENeighbors)
	check([]string{"show", "bgp", "vrf", "red", "--json"}, &localapi.CERoutes{}, fixtureCERoutes)
}

func TestShowErrors(t *testing.T) {
	sock := fakeDaemon(t)
	var out, errb bytes.Buffer
	if code := run([]string{"-s", sock, "show", "route", "vrf", "nope"}, &out, &errb); code != 1 || errb.String() != "peregrine: no vrf \"nope\"\n" {
		t.Errorf("unknown vrf: exit %d, %q", code, errb.String())
	}
	for _, args := range [][]string{{"show", "bgp", "vrf", "nope", "summary"}, {"show", "bgp", "vrf", "nope", "ipv4"}} {
		errb.Reset()
		if code := run(append([]string{"-s", sock}, args...), &out, &errb); code != 1 || errb.String() != "peregrine: no vrf \"nope\"\n" {
			t.Errorf("%v: exit %d, %q", args, code, errb.String())
		}
	}
	for _, args := range [][]string{{"show", "bgp", "vrf"}, {"show", "bgp", "vrf", "red", "vpnv4"}, {"show", "bgp", "vrf", "red", "ipv4", "x"}} {
		if code := run(append([]string{"-s", sock}, args...), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", args, code)
		}
	}
	errb.Reset()
	if code := run([]string{"-s", filepath.Join(t.TempDir(), "none.sock"), "show", "vrf"}, &out, &errb); code != 1 || !bytes.Contains(errb.Bytes(), []byte("is it running?")) {
		t.Errorf("no daemon: exit %d, %q", code, errb.String())
	}
	if code := run([]string{"show", "everything"}, &out, &errb); code != 2 {
		t.Errorf("bad command: exit %d", code)
	}
}

var (
	fixtureVPNPaths = []localapi.VPNPath{
		{RD: "65000:1", Prefix: mustPrefix("10.1.0.0/24"), Label: 1000, RTs: []string{"65000:1"}, Best: true, Local: true},
		{RD: "65000:11", Prefix: mustPrefix("10.2.0.0/24"), NextHop: mustAddr("10.0.0.2"), Label: 2000, RTs: []string{"65000:1", "65000:9"}, Best: true, Neighbor: mustAddr("10.0.0.100")},
		{RD: "65000:11", Prefix: mustPrefix("fd00:2::/64"), NextHop: mustAddr("10.0.0.2"), Label: 2000, RTs: []string{"65000:1"}, Best: true, Neighbor: mustAddr("10.0.0.100")},
		{RD: "65000:11", Prefix: mustPrefix("fd00:2::/64"), NextHop: mustAddr("10.0.0.2"), Label: 2000, RTs: []string{"65000:1"}, Neighbor: mustAddr("10.0.0.101")},
	}
	fixtureLabels = []localapi.LabelEntry{{Label: 1000, Action: "pop-lookup", VRF: "red"}, {Label: 1001, Action: "pop-lookup", VRF: "blue"}}
	fixtureSAs    = []localapi.SA{
		{Remote: mustAddr("10.0.0.2"), Direction: "out", SPI: 0x1001, Cipher: "aes128gcm16", Packets: 1200, Bytes: 1680000, Drops: map[string]uint64{}},
		{Remote: mustAddr("10.0.0.2"), Direction: "in", SPI: 0x2001, Cipher: "aes128gcm16", AntiReplay: true, ReplayWindow: 1024, Packets: 1100, Bytes: 1540000, Drops: map[string]uint64{"auth-failed": 2, "replayed": 1}},
		{Remote: mustAddr("10.0.0.3"), Direction: "out", SPI: 0x1003, Protocol: "ah", IntegrityOnly: true, Cipher: "hmac-sha256-128", Packets: 7, Bytes: 700, Drops: map[string]uint64{}},
		{Remote: mustAddr("10.0.0.3"), Direction: "in", SPI: 0x2003, Protocol: "ah", IntegrityOnly: true, Cipher: "aes128gmac", AntiReplay: true, ReplayWindow: 1024, Packets: 6, Bytes: 600, Drops: map[string]uint64{"auth-failed": 1}},
	}
	fixtureAttachments = []localapi.Attachment{
		{Name: "gw-blue", VRF: "blue", Kind: "gateway", State: "down", SiteTS: []netip.Prefix{mustPrefix("10.9.0.0/24")}, Drops: map[string]uint64{}},
		{Name: "gw-red", VRF: "red", Kind: "gateway", State: "up", Gateway: netip.MustParseAddrPort("192.168.9.2:4500"), Configured: mustAddr("192.168.9.2"),
			UDP: true, SiteTS: []netip.Prefix{mustPrefix("10.9.0.0/24")}, LocalTS: []netip.Prefix{mustPrefix("0.0.0.0/0"), mustPrefix("::/0")},
			OutSPI: 0xc1a2b3c4, InSPI: 0x5e6f7081, Cipher: "aes128gcm16", InPackets: 12, InBytes: 1008, OutPackets: 10, OutBytes: 840,
			Drops: map[string]uint64{"ts-violation": 1}},
		{Name: "ra-red", VRF: "red", Kind: "pool", State: "up", Pool: "10.77.0.1-10.77.0.254", Leases: 1, LocalTS: []netip.Prefix{mustPrefix("0.0.0.0/0")}, Drops: map[string]uint64{}},
		{Name: "ra-red/10.77.0.1", VRF: "red", Kind: "host", State: "up", Gateway: netip.MustParseAddrPort("198.51.100.7:4500"), UDP: true,
			SiteTS: []netip.Prefix{mustPrefix("10.77.0.1/32")}, LocalTS: []netip.Prefix{mustPrefix("0.0.0.0/0")}, OutSPI: 0xc2, InSPI: 0xd2, Cipher: "aes128gcm16",
			InPackets: 3, OutPackets: 3, Drops: map[string]uint64{}, Client: "laptop.example", Leased: mustAddr("10.77.0.1")},
	}
	fixtureInterfaces = []localapi.Interface{
		{Name: "ce1", VRF: "red", Kind: "ce", State: "up", MTU: 1500, Addresses: []netip.Prefix{mustPrefix("10.1.0.1/24"), mustPrefix("fd00:1::1/64")}},
		{Name: "pg-red", VRF: "red", Kind: "tun", State: "up", MTU: 9000, Addresses: []netip.Prefix{}, Counters: &localapi.VRFCounters{
			OutPackets: 1200, OutBytes: 1600000, InPackets: 1100, InBytes: 1500000, OutDrops: map[string]uint64{"no-sa": 3}, InDrops: map[string]uint64{}}},
	}
)

// fixtureDataplane: a core host spraying unknown labels and SPIs.
var fixtureDataplane = localapi.Dataplane{Core: &localapi.CoreCounters{
	Drops:      map[string]uint64{"unknown-label": 3, "open-failed": 5, "bad-source": 1},
	UnknownSPI: 4, Truncated: 1, IKE: 7, Keepalives: 2, PlainMPLS: 11}}

var (
	fixtureCENeighbors = []localapi.CENeighbor{
		{VRF: "red", Flaps: 2, Neighbor: localapi.Neighbor{Address: mustAddr("10.1.0.2"), ASN: 65101, Description: "site 1", State: "established",
			Uptime: 26*time.Hour + 5*time.Minute, Families: []localapi.Family{{Name: "ipv4", Received: 3, Accepted: 3, Sent: 2}, {Name: "ipv6", Received: 1, Accepted: 1, Sent: 0}}}},
		{VRF: "red", Neighbor: localapi.Neighbor{Address: mustAddr("10.1.1.2"), ASN: 65102, State: "idle",
			Reason: "sent more than max-prefixes 100: held down until the configuration changes", Families: []localapi.Family{{Name: "ipv4"}}}},
	}
	fixtureCERoutes = localapi.CERoutes{VRF: "red",
		Learned: []localapi.CEPath{
			{Prefix: mustPrefix("10.3.0.0/24"), NextHop: mustAddr("10.1.0.2"), Neighbor: mustAddr("10.1.0.2"), Origin: "i", ASPath: "65101", MED: ptr(uint32(42)), Communities: []string{"65101:7", "no-export"}, Best: true},
			{Prefix: mustPrefix("10.3.0.0/24"), NextHop: mustAddr("10.1.1.2"), Neighbor: mustAddr("10.1.1.2"), Origin: "?", ASPath: "65102 65101 {65201,65202}", Communities: []string{}},
			{Prefix: mustPrefix("fd00:3::/48"), NextHop: mustAddr("fd00:1::2"), Neighbor: mustAddr("10.1.0.2"), Origin: "i", ASPath: "65101", Communities: []string{"65101:1:2"}, Best: true},
		},
		Advertised: []localapi.CEPath{
			{Prefix: mustPrefix("10.9.0.0/24"), NextHop: mustAddr("10.1.0.1"), Neighbor: mustAddr("10.1.0.2"), Origin: "i", ASPath: "65000 65000", Communities: []string{}},
			{Prefix: mustPrefix("10.3.0.0/24"), NextHop: mustAddr("10.1.1.1"), Neighbor: mustAddr("10.1.1.2"), Origin: "i", ASPath: "65000 65101", Communities: []string{}},
		},
	}
)

func ptr[T any](v T) *T { return &v }
