package bgp

// Two Peregrine speakers in one process, peering over loopback:
//
//	pe1 127.0.0.1:PORT1 (AS 65000) <-- iBGP vpnv4+vpnv6 --> pe2 127.0.0.2:PORT2
//	  red  rd 65000:1 rt 65000:1                              red  rd 65000:11 rt 65000:1
//	  blue rd 65000:2 rt 65000:2                              blue rd 65000:12 rt 65000:2
//
// This checks our own origination against our own import; the interop
// tests in labs/ check both against FRR, BIRD and gobgpd.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s (loopback alias missing?): %v", ip, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// speakerConfig turns graceful restart off: tests of it turn it on
// (graceful_test.go), and with it on, a speaker that stops leaves its
// routes stale at an in-process peer, where GoBGP v3.37.0 marks them in
// place while its watcher may still be reading them (graceful_test.go).
func speakerConfig(t *testing.T, id, self string, port int, peer string, peerPort int, vrfs string) *Config {
	t.Helper()
	y := fmt.Sprintf(`
router: {id: %s, asn: 65000}
bgp:
  listen-address: %s
  listen-port: %d
  api: ""
  neighbors:
    - {address: %s, port: %d, asn: 65000, local-address: %s, connect-retry: 1s, hold-time: 9s,
       graceful-restart: {enabled: false}}
vrfs:
%s`, id, self, port, peer, peerPort, self, vrfs)
	cfg, err := parseConfig([]byte(y))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, y)
	}
	return cfg
}

// waitRoutes polls until the VRF's routes print as want.
func waitRoutes(t *testing.T, s *Speaker, vrf, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		routes, _, err := s.VRFRoutes(vrf)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, r := range routes {
			fmt.Fprintf(&b, "%s via %s label %d rd %s; ", r.Prefix, r.NextHop, r.Label, r.RD)
		}
		if got = b.String(); got == want {
			imported, local, err := s.VRFRouteCounts()
			own, lerr := s.LocalRoutes(vrf)
			if err != nil || lerr != nil || imported[vrf] != len(routes) || local[vrf] != len(own) {
				t.Fatalf("vrf %s: VRFRouteCounts = %d imported, %d local, %v; VRFRoutes has %d, LocalRoutes %d (%v)",
					vrf, imported[vrf], local[vrf], err, len(routes), len(own), lerr)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("vrf %s routes:\n got %q\nwant %q", vrf, got, want)
}

func startSpeaker(t *testing.T, cfg *Config) *Speaker {
	t.Helper()
	events := make(chan Event, 1024)
	go func() {
		for range events {
		}
	}()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel}))
	s, err := Start(context.Background(), cfg, log, events)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func TestTwoSpeakersExchangeVPNRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	p1, p2 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	pe1 := startSpeaker(t, speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, `
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1'],
     static-routes: [{prefix: 10.1.0.0/24}, {prefix: 'fd00:1::/64'}]}
  - {name: blue, rd: '65000:2', import-targets: ['65000:2'], export-targets: ['65000:2'],
     static-routes: [{prefix: 10.1.0.0/24}], label-mode: per-prefix}
`))
	cfg2 := speakerConfig(t, "2.2.2.2", "127.0.0.2", p2, "127.0.0.1", p1, `
  - {name: red, rd: '65000:11', import-targets: ['65000:1'], export-targets: ['65000:1'],
     static-routes: [{prefix: 10.2.0.0/24}]}
  - {name: blue, rd: '65000:12', import-targets: ['65000:2'], export-targets: ['65000:2'],
     static-routes: [{prefix: 10.2.0.0/24}]}
`)
	cfg2.Labels.First = 2000
	pe2 := startSpeaker(t, cfg2)

	// Labels: pe1 red per-VRF 1000; pe1 blue per-prefix 1001; pe2 red 2000, blue 2001.
	waitRoutes(t, pe2, "red", "10.1.0.0/24 via 127.0.0.1 label 1000 rd 65000:1; fd00:1::/64 via 127.0.0.1 label 1000 rd 65000:1; ")
	waitRoutes(t, pe2, "blue", "10.1.0.0/24 via 127.0.0.1 label 1001 rd 65000:2; ")
	waitRoutes(t, pe1, "red", "10.2.0.0/24 via 127.0.0.2 label 2000 rd 65000:11; ")
	waitRoutes(t, pe1, "blue", "10.2.0.0/24 via 127.0.0.2 label 2001 rd 65000:12; ")

	// Reload pe1: red drops its IPv6 route and blue stops exporting to 65000:2.
	cfg1b := speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, `
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1'],
     static-routes: [{prefix: 10.1.0.0/24}]}
  - {name: blue, rd: '65000:2', import-targets: ['65000:2'], export-targets: ['65000:99'],
     static-routes: [{prefix: 10.1.0.0/24}], label-mode: per-prefix}
`)
	if err := pe1.Reload(context.Background(), cfg1b); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, pe2, "red", "10.1.0.0/24 via 127.0.0.1 label 1000 rd 65000:1; ")
	waitRoutes(t, pe2, "blue", "")
	// pe1's own imports are untouched by its reload.
	waitRoutes(t, pe1, "red", "10.2.0.0/24 via 127.0.0.2 label 2000 rd 65000:11; ")

	// pe2 starts importing 65000:99 into blue: it picks the route up
	// without a session reset.
	cfg2b := *cfg2
	cfg2b.VRFs = append([]VRF(nil), cfg2.VRFs...)
	cfg2b.VRFs[1].ImportTargets = append(cfg2b.VRFs[1].ImportTargets, cfg1b.VRFs[1].ExportTargets...)
	if err := pe2.Reload(context.Background(), &cfg2b); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, pe2, "blue", "10.1.0.0/24 via 127.0.0.1 label 1001 rd 65000:2; ")

	// pe1's blue also exports 65000:1 now: pe2's red imports blue's paths
	// too. 10.1.0.0/24 then has two candidates in red (RDs 65000:1 and
	// 65000:2); the VRF installs one, so the new prefix shows the change.
	cfg1c := speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, `
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1'],
     static-routes: [{prefix: 10.1.0.0/24}]}
  - {name: blue, rd: '65000:2', import-targets: ['65000:2'], export-targets: ['65000:99', '65000:1'],
     static-routes: [{prefix: 10.1.0.0/24}, {prefix: 10.3.0.0/24}], label-mode: per-prefix}
`)
	if err := pe1.Reload(context.Background(), cfg1c); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, pe2, "red", "10.1.0.0/24 via 127.0.0.1 label 1000 rd 65000:1; 10.3.0.0/24 via 127.0.0.1 label 1002 rd 65000:2; ")

	// A reload that changes the router ID is refused.
	bad := *cfg2
	bad.ASN = 65001
	if err := pe2.Reload(context.Background(), &bad); err == nil || !strings.Contains(err.Error(), "needs a restart") {
		t.Errorf("ASN change: %v", err)
	}
}
