package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
)

func unixClient(sock string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
}

// TestLocalAPIAndSecrets runs the daemon with a VRF and a neighbor whose
// MD5 password comes from the environment, reads the API, and checks that
// the password appears in neither the log (at debug level) nor the API.
func TestLocalAPIAndSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "peregrined")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "pe.sock")
	metricsAddr := freeLoopbackPort(t)
	const secret = "Md5-Very-Secret-42"
	cfg := writeFile(t, dir, "pe.yml", `
router: {id: 192.0.2.1, asn: 65000}
dataplane: {backend: none}
log: {level: debug}
control: {socket: `+sock+`}
metrics: {listen: `+metricsAddr+`}
state: {directory: `+filepath.Join(dir, "state")+`}
bgp:
  listen-port: 0
  api: ''
  neighbors: [{address: 127.0.0.9, asn: 65000, password-env: PG_TEST_MD5, connect-retry: 1s}]
vrfs:
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1'],
     static-routes: [{prefix: 10.1.0.0/24}]}
`)
	cmd := exec.Command(bin, "-c", cfg)
	cmd.Env = append(cmd.Environ(), "PG_TEST_MD5="+secret)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	c := unixClient(sock)
	var vrfs []localapi.VRF
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get("http://peregrined/v1/vrfs")
		if err == nil {
			derr := json.NewDecoder(resp.Body).Decode(&vrfs)
			resp.Body.Close()
			if derr != nil {
				t.Fatalf("GET /v1/vrfs: %v", derr)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("API not up: %v\nlog:\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(vrfs) != 1 || vrfs[0].Name != "red" || vrfs[0].RD != "65000:1" {
		t.Errorf("vrfs: %+v", vrfs)
	}

	var routes localapi.VRFRoutes
	resp, err := c.Get("http://peregrined/v1/vrfs/red/routes")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&routes); err != nil {
		t.Fatalf("GET /v1/vrfs/red/routes: %v", err)
	}
	resp.Body.Close()
	if len(routes.Routes) != 1 || routes.Routes[0].Prefix.String() != "10.1.0.0/24" || !routes.Routes[0].Local || routes.Routes[0].Label != 1000 {
		t.Errorf("red routes: %+v", routes)
	}
	if resp, err := c.Get("http://peregrined/v1/vrfs/nope/routes"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown vrf: %v %v", resp, err)
	}

	resp, err = c.Get("http://peregrined/v1/bgp/neighbors")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	var ns []localapi.Neighbor
	if err := json.Unmarshal(body.Bytes(), &ns); err != nil || len(ns) != 1 || ns[0].Address.String() != "127.0.0.9" {
		t.Errorf("neighbors: %v %s", err, body.String())
	}
	if strings.Contains(body.String(), secret) {
		t.Error("neighbor API shows the password")
	}
	// The VPN RIB holds red's static route as a local best path; the
	// dataplane documents answer 503 without a dataplane.
	var paths []localapi.VPNPath
	resp, err = c.Get("http://peregrined/v1/bgp/vpnv4?vrf=red")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&paths); err != nil {
		t.Fatalf("GET /v1/bgp/vpnv4: %v", err)
	}
	resp.Body.Close()
	if len(paths) != 1 || paths[0].Prefix.String() != "10.1.0.0/24" || !paths[0].Best || !paths[0].Local || paths[0].RD != "65000:1" || len(paths[0].RTs) != 1 || paths[0].RTs[0] != "65000:1" {
		t.Errorf("vpnv4 vrf red: %+v", paths)
	}
	for _, p := range []string{"/v1/mpls", "/v1/ipsec/sa", "/v1/interfaces", "/v1/dataplane"} {
		if resp, err := c.Get("http://peregrined" + p); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s without a dataplane: %v %v", p, resp, err)
		}
	}
	if resp, err := c.Get("http://peregrined/v1/bgp/ipv9"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown family: %v %v", resp, err)
	}

	// Prometheus: the session is down, red has its static route, and
	// the password is nowhere.
	mresp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{
		`peregrine_bgp_session_up{description="",neighbor="127.0.0.9"} 0`,
		`peregrine_vrf_routes{origin="local",vrf="red"} 1`,
		`peregrine_vrf_routes{origin="imported",vrf="red"} 0`,
		"# TYPE peregrine_bgp_session_up gauge",
	} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics.String())
		}
	}
	if strings.Contains(metrics.String(), secret) {
		t.Error("/metrics shows the password")
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	if !strings.Contains(logs.String(), "127.0.0.9") {
		t.Errorf("log never mentions the neighbor; is debug logging on?\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("log shows the password:\n%s", logs.String())
	}
}

// freeLoopbackPort returns 127.0.0.1:PORT for a port nothing listens on
// (as of now).
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
