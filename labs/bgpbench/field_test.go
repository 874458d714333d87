package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/labs/internal/modroot"
)

func TestParseFRRSummary(t *testing.T) {
	// As FRR 8.4.4 prints `show bgp ipv4 vpn summary json` (trimmed).
	const family = `{
  "routerId":"127.0.0.14",
  "as":65000,
  "peers":{
    "127.0.0.11":{"remoteAs":65000,"pfxRcd":100000,"pfxSnt":0,"state":"Established"}
  },
  "totalPeers":1
}`
	for _, c := range []struct {
		name, in, neighbor string
		want               int
		err                error // nil: no error; errAny: any
	}{
		{"family", family, "127.0.0.11", 100000, nil},
		{"nested", `{"ipv4Vpn":` + family + `}`, "127.0.0.11", 100000, nil},
		{"zero", `{"peers":{"127.0.0.11":{"pfxRcd":0,"state":"Active"}}}`, "127.0.0.11", 0, nil},
		{"other neighbor", family, "127.0.0.12", 0, errNoPeer},
		{"no family yet", `{}`, "127.0.0.11", 0, errNoPeer},
		{"no pfxRcd", `{"peers":{"127.0.0.11":{"state":"Idle"}}}`, "127.0.0.11", 0, errAny},
		{"pfxRcd not a number", `{"peers":{"127.0.0.11":{"pfxRcd":"many"}}}`, "127.0.0.11", 0, errAny},
		{"an error message", "% Unknown command: show bgp ipv4 vpn summary json\n", "127.0.0.11", 0, errAny},
		{"empty", "", "127.0.0.11", 0, errAny},
	} {
		got, err := parseFRRSummary([]byte(c.in), c.neighbor)
		switch {
		case c.err == nil && err != nil:
			t.Errorf("%s: error %v", c.name, err)
		case c.err == nil && got != c.want:
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		case c.err == errAny && err == nil, c.err != nil && c.err != errAny && !errors.Is(err, c.err):
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
		}
	}
}

// errAny in a table of cases: any error will do.
var errAny = errors.New("any error")

func TestParseBIRDProtocol(t *testing.T) {
	// As BIRD 2.0.12 prints `birdc show protocols all a`.
	const head = "BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\n"
	const up = head + `a          BGP        ---        up     23:55:01.117  Established   
  BGP state:          Established
    Neighbor address: 127.0.0.11
    Neighbor AS:      65000
  Channel vpn4-mpls
    State:          UP
    Table:          vpntab
    Preference:     100
    Input filter:   ACCEPT
    Output filter:  REJECT
    Routes:         2000 imported, 0 exported, 2000 preferred
    Route change stats:     received   rejected   filtered    ignored   accepted
      Import updates:           2000          0          0          0       2000
      Import withdraws:            0          0        ---          0          0
`
	const passive = head + `a          BGP        ---        start  23:53:15.117  Passive       
  BGP state:          Passive
    Neighbor address: 127.0.0.11
  Channel vpn4-mpls
    State:          DOWN
    Table:          vpntab
    IGP IPv4 table: master4
`
	for _, c := range []struct {
		name, in string
		want     int
		bad      bool
	}{
		{"established", up, 2000, false},
		{"channel down", passive, 0, false},
		{"no such protocol", "BIRD 2.0.12 ready.\nsyntax error, unexpected CF_SYM_UNDEFINED\n", 0, true},
		{"count not a number", strings.Replace(up, "2000 imported", "x imported", 1), 0, true},
		{"negative count", strings.Replace(up, "2000 imported", "-1 imported", 1), 0, true},
		{"other wording", strings.Replace(up, "2000 imported,", "2000 exported,", 1), 0, true},
		{"empty", "", 0, true},
	} {
		got, err := parseBIRDProtocol([]byte(c.in))
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("%s: %d, %v; want %d, error %t", c.name, got, err, c.want, c.bad)
		}
	}
}

// TestFieldConfigs checks that FRR and BIRD accept the generated
// configurations, with their own checkers (bgpd -C, bird -p).
func TestFieldConfigs(t *testing.T) {
	fb, skipped := lookFieldBinaries(true)
	dir := t.TempDir()
	if fb.bgpd != "" {
		conf := filepath.Join(dir, "bgpd.conf")
		if err := os.WriteFile(conf, []byte(frrConf(addrFRR, addrA, 1790)), 0o600); err != nil {
			t.Fatal(err)
		}
		// bgpd -C reports unknown commands on its output and still exits 0.
		out, err := exec.Command(fb.bgpd, "-C", "-Z", "-S", "-n", "-f", conf, "-i", filepath.Join(dir, "pid"), "--vty_socket", dir).CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("No such command")) || bytes.Contains(out, []byte("rror")) {
			t.Errorf("bgpd -C: %v\n%s", err, out)
		}
	}
	if fb.bird != "" {
		conf := filepath.Join(dir, "bird.conf")
		if err := os.WriteFile(conf, []byte(birdConf(addrBIRD, addrA, 1790)), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(fb.bird, "-p", "-c", conf).CombinedOutput(); err != nil {
			t.Errorf("bird -p: %v\n%s", err, out)
		}
	}
	if len(skipped) > 0 {
		t.Skipf("partly skipped: %s", strings.Join(skipped, "; "))
	}
}

// TestRunWithField runs the whole import benchmark on a few hundred routes
// and checks that all four receivers were timed.
func TestRunWithField(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts five daemons and builds peregrined")
	}
	if _, skipped := lookFieldBinaries(true); len(skipped) > 0 {
		t.Skip(strings.Join(skipped, "; "))
	}
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "tools", "gobgpd")); err != nil {
		t.Skipf("gobgpd not built (make tools): %v", err)
	}
	var stdout, stderr bytes.Buffer
	// Ports apart from a `make bench-bgp` that may be running.
	args := []string{"-n", "300", "-runs", "1", "-settle", "100ms", "-port", "1791", "-api-port", "50071"}
	if rc := run(args, &stdout, &stderr); rc != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", rc, stderr.String(), stdout.String())
	}
	out := stdout.String()
	for _, want := range []string{"gobgpd B", "peregrine P", "FRR bgpd", "BIRD 2", "wall/B", "CPU/B", "B/route settled"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	t.Log(out)
}
