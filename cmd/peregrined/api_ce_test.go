package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/bgpconfig"
	"github.com/peregrine-net/peregrine/cmd/internal/showcli"
	"github.com/peregrine-net/peregrine/config"
)

// fakeCE is the speaker's CE read API over fixed sessions: bgp.Start
// does not run CE sessions yet (bgp.ErrCENotRunYet), so the API's and
// the metrics' tests cannot have a live one. Package bgp's tests read
// real CE sessions (cestatus_test.go).
type fakeCE struct {
	vrfs   []string // the VRFs that exist
	ns     []bgp.CENeighborStatus
	routes map[string]bgp.CERoutes // by VRF
}

func (f *fakeCE) CENeighbors(_ context.Context, vrf string) ([]bgp.CENeighborStatus, bool, error) {
	if !slices.Contains(f.vrfs, vrf) {
		return nil, false, nil
	}
	var out []bgp.CENeighborStatus
	for _, n := range f.ns {
		if n.VRF == vrf {
			out = append(out, n)
		}
	}
	return out, true, nil
}

func (f *fakeCE) AllCENeighbors(context.Context) ([]bgp.CENeighborStatus, error) { return f.ns, nil }

func (f *fakeCE) CERoutes(_ context.Context, vrf, family string) (bgp.CERoutes, bool, error) {
	if family != "" && family != "ipv4" && family != "ipv6" {
		return bgp.CERoutes{}, false, fmt.Errorf("%q: %w", family, bgp.ErrUnknownFamily)
	}
	if !slices.Contains(f.vrfs, vrf) {
		return bgp.CERoutes{}, false, nil
	}
	return f.routes[vrf], true, nil
}

// fakeCEFrom gives each CE neighbor of cfg a session as a live speaker
// would describe it: red's first CE established with a learned and an
// advertised path, the others down.
func fakeCEFrom(cfg *bgp.Config) *fakeCE {
	f := &fakeCE{routes: map[string]bgp.CERoutes{}}
	for _, v := range cfg.VRFs {
		f.vrfs = append(f.vrfs, v.Name)
		for i, n := range v.Neighbors {
			st := bgp.CENeighborStatus{VRF: v.Name, NeighborStatus: bgp.NeighborStatus{Address: n.Address, ASN: n.ASN,
				Description: n.Description, State: "active", Reason: "connect timed out: no answer (a firewall, the neighbor down, or a TCP MD5 password mismatch)"}}
			for _, fam := range n.Families {
				st.Families = append(st.Families, bgp.FamilyCount{Name: fam})
			}
			if i == 0 {
				st.State, st.Reason, st.Uptime, st.Flaps = "established", "", 90*time.Second, 1
				st.Families[0].Received, st.Families[0].Accepted, st.Families[0].Sent = 2, 1, 1
				f.routes[v.Name] = bgp.CERoutes{
					Learned: []bgp.CEPath{{Prefix: netip.MustParsePrefix("10.3.0.0/24"), NextHop: n.Address, Neighbor: n.Address,
						Origin: "i", ASPath: fmt.Sprint(n.ASN), MED: 42, HasMED: true, Communities: []string{"65101:7"}, Best: true}},
					Advertised: []bgp.CEPath{{Prefix: netip.MustParsePrefix("10.9.0.0/24"), NextHop: n.LocalAddress, Neighbor: n.Address,
						Origin: "i", ASPath: "65000"}},
				}
			}
			f.ns = append(f.ns, st)
		}
	}
	return f
}

// TestCEShowNeverShowsPassword: a CE and a global neighbor whose MD5
// password comes from a password file; every show command, as a table
// and as JSON, and the metrics, read through the daemon's API; the
// password is in none of them. The global half is a live speaker; the
// CE half is fakeCE, built from the same configuration.
func TestCEShowNeverShowsPassword(t *testing.T) {
	const secret = "Ce-Pw-File-Secret-58"
	dir := t.TempDir()
	writeFile(t, dir, "md5", secret+"\n")
	cfg, err := config.Load(writeFile(t, dir, "pe.yml", `
router: {id: 192.0.2.1, asn: 65000}
dataplane: {backend: none}
state: {directory: `+filepath.Join(dir, "state")+`}
bgp:
  listen-port: 0
  neighbors: [{address: 127.0.0.9, asn: 65000, password-file: md5, connect-retry: 60s}]
vrfs:
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1'],
     static-routes: [{prefix: 10.1.0.0/24}],
     neighbors: [{address: 10.1.0.2, asn: 65101, description: site 1, local-address: 10.1.0.1, password-file: md5,
                  as-override: true, max-prefixes: 100},
                 {address: 10.1.1.2, asn: 65102, password-file: md5}]}
  - {name: blue, rd: '65000:2', import-targets: ['65000:2'], export-targets: ['65000:2']}
`))
	if err != nil {
		t.Fatal(err)
	}
	full := bgpconfig.Translate(cfg)
	if full.VRFs[0].Neighbors[0].Password.Reveal() != secret {
		t.Fatal("the CE's password did not reach the speaker's configuration")
	}
	// The speaker runs the CE sessions for real (off link here: idle,
	// with a reason); the fake gives the CE commands known content to
	// look for. Both are read through the show commands.
	events := make(chan bgp.Event, 64)
	go func() {
		for range events {
		}
	}()
	sp, err := bgp.Start(context.Background(), full, slog.New(slog.DiscardHandler), events)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop()
	ce := fakeCEFrom(full)
	var all bytes.Buffer
	for i, src := range []ceSessions{ce, sp} {
		showAll(t, &apiServer{speaker: sp, ce: src, log: slog.New(slog.DiscardHandler)}, filepath.Join(dir, fmt.Sprintf("pe%d.sock", i)), &all)
	}
	if strings.Contains(all.String(), secret) {
		t.Errorf("a show command shows the password:\n%s", all.String())
	}
	// The CE commands said something: a test that printed nothing would
	// pass the check above.
	for _, want := range []string{"10.1.0.2  65101  established  00:01:30  1      ipv4 2/1/1", "10.1.1.2 active: connect timed out",
		`"description": "site 1"`, ">  10.3.0.0/24  10.1.0.2  42      65101 i", "VRF blue: 0 CE sessions", "not on link"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("show output lacks %q:\n%s", want, all.String())
		}
	}

	mh, err := metricsHandler(&collector{speaker: sp, ce: ce}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mh.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	text := rec.Body.String()
	if strings.Contains(text, secret) {
		t.Errorf("the metrics show the password:\n%s", text)
	}
	if !strings.Contains(text, `peregrine_bgp_ce_session_up{neighbor="10.1.0.2",vrf="red"} 1`) {
		t.Errorf("no CE session metric:\n%s", text)
	}
}

// showAll runs every show command, as tables and as JSON, against a
// (served over a unix socket at sock), appending what each printed to
// all.
func showAll(t *testing.T, a *apiServer, sock string, all *bytes.Buffer) {
	t.Helper()
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.handler()}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	c := showcli.NewClient(sock)
	for _, words := range []string{"bgp summary", "vrf", "route vrf red", "bgp vpnv4", "bgp vpnv6 vrf red",
		"bgp vrf red summary", "bgp vrf red", "bgp vrf red ipv4", "bgp vrf red ipv6", "bgp vrf blue summary",
		"mpls table", "ipsec sa", "interfaces"} {
		for _, asJSON := range []bool{false, true} {
			var out bytes.Buffer
			err := showcli.Show(c, strings.Fields(words), asJSON, &out)
			fmt.Fprintf(all, "$ show %s (json %v)\n%s%v\n", words, asJSON, out.String(), err)
		}
	}
}

// TestCEAPIErrors: an unknown VRF is a 404 naming it, an unknown family
// a 400 naming it, and a VRF without CE sessions has an empty list.
func TestCEAPIErrors(t *testing.T) {
	h := (&apiServer{ce: &fakeCE{vrfs: []string{"red"}}}).handler()
	for _, c := range []struct {
		target string
		code   int
		body   string
	}{
		{"/v1/bgp/vrfs/nope/neighbors", http.StatusNotFound, `"no vrf \"nope\""`},
		{"/v1/bgp/vrfs/nope/paths", http.StatusNotFound, `"no vrf \"nope\""`},
		{"/v1/bgp/vrfs/red/paths?family=vpnv4", http.StatusBadRequest, `"family \"vpnv4\": want ipv4 or ipv6"`},
		{"/v1/bgp/vrfs/red/neighbors", http.StatusOK, "[]"},
		{"/v1/bgp/vrfs/red/paths?family=ipv6", http.StatusOK, `"learned": []`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.target, nil))
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("GET %s: %d %s, want %d with %s", c.target, rec.Code, rec.Body, c.code, c.body)
		}
	}
}

// TestCEMetrics compares the CE sessions' metrics with the exposition
// text they must make.
func TestCEMetrics(t *testing.T) {
	ce := &fakeCE{ns: []bgp.CENeighborStatus{
		{VRF: "red", Flaps: 3, NeighborStatus: bgp.NeighborStatus{Address: netip.MustParseAddr("10.1.0.2"), State: "established",
			Families: []bgp.FamilyCount{{Name: "ipv4", Received: 5, Accepted: 4, Sent: 2}}}},
		{VRF: "blue", NeighborStatus: bgp.NeighborStatus{Address: netip.MustParseAddr("10.1.0.2"), State: "idle",
			Families: []bgp.FamilyCount{{Name: "ipv6"}}}},
	}}
	want := `
# HELP peregrine_bgp_ce_session_up 1 if the BGP session to the VRF's CE is established.
# TYPE peregrine_bgp_ce_session_up gauge
peregrine_bgp_ce_session_up{neighbor="10.1.0.2",vrf="blue"} 0
peregrine_bgp_ce_session_up{neighbor="10.1.0.2",vrf="red"} 1
# HELP peregrine_bgp_ce_session_flaps_total Times the BGP session to the VRF's CE left established since the CE was configured.
# TYPE peregrine_bgp_ce_session_flaps_total counter
peregrine_bgp_ce_session_flaps_total{neighbor="10.1.0.2",vrf="blue"} 0
peregrine_bgp_ce_session_flaps_total{neighbor="10.1.0.2",vrf="red"} 3
# HELP peregrine_bgp_ce_prefixes Prefixes per CE session and family: received, accepted (after policy) or sent.
# TYPE peregrine_bgp_ce_prefixes gauge
peregrine_bgp_ce_prefixes{family="ipv4",kind="accepted",neighbor="10.1.0.2",vrf="red"} 4
peregrine_bgp_ce_prefixes{family="ipv4",kind="received",neighbor="10.1.0.2",vrf="red"} 5
peregrine_bgp_ce_prefixes{family="ipv4",kind="sent",neighbor="10.1.0.2",vrf="red"} 2
peregrine_bgp_ce_prefixes{family="ipv6",kind="accepted",neighbor="10.1.0.2",vrf="blue"} 0
peregrine_bgp_ce_prefixes{family="ipv6",kind="received",neighbor="10.1.0.2",vrf="blue"} 0
peregrine_bgp_ce_prefixes{family="ipv6",kind="sent",neighbor="10.1.0.2",vrf="blue"} 0
`
	c := &collector{ce: ce}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
}
