package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net"
	"net/http"
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
		{Address: mustAddr("2001:db8::2"), ASN: 4200000001, State: "active", Families: []localapi.Family{{Name: "vpnv6"}}},
	}
	fixtureVRFs = []localapi.VRF{
		{Name: "red", RD: "65000:1", ImportTargets: []string{"65000:1"}, ExportTargets: []string{"65000:1"}, Interfaces: []string{"ce1"}, LabelMode: "per-vrf", Imported: 2},
		{Name: "blue", RD: "192.0.2.1:2", ImportTargets: []string{"65000:2", "65000:20"}, ExportTargets: []string{"65000:2"}, LabelMode: "per-prefix"},
	}
	fixtureRoutes = localapi.VRFRoutes{VRF: "red", Routes: []localapi.Route{
		{Prefix: mustPrefix("10.1.0.0/24"), Label: 1000, RD: "65000:1", Local: true},
		{Prefix: mustPrefix("10.2.0.0/24"), NextHop: mustAddr("10.0.0.2"), Label: 2000, RD: "65000:11"},
		{Prefix: mustPrefix("fd00:2::/64"), NextHop: mustAddr("10.0.0.2"), Label: 2000, RD: "65000:11"},
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
}

func TestShowErrors(t *testing.T) {
	sock := fakeDaemon(t)
	var out, errb bytes.Buffer
	if code := run([]string{"-s", sock, "show", "route", "vrf", "nope"}, &out, &errb); code != 1 || errb.String() != "peregrine: no vrf \"nope\"\n" {
		t.Errorf("unknown vrf: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"-s", filepath.Join(t.TempDir(), "none.sock"), "show", "vrf"}, &out, &errb); code != 1 || !bytes.Contains(errb.Bytes(), []byte("is it running?")) {
		t.Errorf("no daemon: exit %d, %q", code, errb.String())
	}
	if code := run([]string{"show", "everything"}, &out, &errb); code != 2 {
		t.Errorf("bad command: exit %d", code)
	}
}
