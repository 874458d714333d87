package main

// The field's receivers: FRR's bgpd and BIRD 2 take A's routes beside B and
// P, in the same run, so that each is timed against gobgpd B under the same
// load. Both run on the host, in the foreground under the benchmark's
// supervision, each on its own loopback address and the benchmark's BGP
// port, passive like B:
//
//	gobgpd A 127.0.0.11 --iBGP VPNv4--> FRR bgpd 127.0.0.14 (vtysh: PfxRcd)
//	                    --iBGP VPNv4--> BIRD     127.0.0.15 (birdc: Routes)
//
// FRR 8.4: `bgpd -Z -S -n -P 0 -l ADDR -p PORT --vty_socket DIR` (-Z: no
// zebra, -S: stay root, -n: no kernel routes, -P 0: no TCP vty; see
// labs/peers/frr.go). Without zebra every next hop is unresolved, so FRR
// selects no best path; it still holds each route in its VPN RIB and counts
// it in the neighbor's PfxRcd, which is what is polled: `show bgp ipv4 vpn
// summary json` reads a counter, it does not walk the table.
//
// BIRD 2.0.12: `bird -f -c bird.conf -s bird.ctl -P bird.pid`, a `vpn4
// mpls` channel into a vpn4 table, import all (see labs/peers/bird.go).
// `birdc show protocols all` prints the channel's route counters, again
// without walking the table. Next hops resolve through `protocol direct`
// (127.0.0.0/8 on lo), so BIRD's routes are usable, as P's and B's are.
//
// Each poll is a vtysh or birdc process: its CPU is the host's, not the
// daemon's, which answers from a counter.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/peregrine-net/peregrine/labs/peers"
)

var (
	addrFRR  = netip.MustParseAddr("127.0.0.14")
	addrBIRD = netip.MustParseAddr("127.0.0.15")
)

// fieldDaemon is a receiver from the field: a name for the report, its
// process and how to count what it holds.
type fieldDaemon struct {
	name    string // "FRR bgpd 8.4.4"
	addr    netip.Addr
	proc    *proc
	counter counter
}

// fieldBinaries are the programs of the field's receivers; an empty path
// leaves that daemon out.
type fieldBinaries struct {
	bgpd, vtysh string
	bird, birdc string
}

// lookFieldBinaries finds FRR's and BIRD's programs, and says why one is
// left out.
func lookFieldBinaries(want bool) (fieldBinaries, []string) {
	var fb fieldBinaries
	var skipped []string
	if !want {
		return fb, []string{"-field=false"}
	}
	look := func(names ...string) ([]string, error) {
		var paths []string
		for _, n := range names {
			p, err := exec.LookPath(n)
			if err != nil {
				return nil, err
			}
			paths = append(paths, p)
		}
		return paths, nil
	}
	if p, err := look(peers.DefaultBgpd, peers.DefaultVtysh); err == nil {
		fb.bgpd, fb.vtysh = p[0], p[1]
	} else {
		skipped = append(skipped, fmt.Sprintf("FRR left out: %v (apt-get install frr)", err))
	}
	if p, err := look(peers.DefaultBird, peers.DefaultBirdc); err == nil {
		fb.bird, fb.birdc = p[0], p[1]
	} else {
		skipped = append(skipped, fmt.Sprintf("BIRD left out: %v (apt-get install bird2)", err))
	}
	return fb, skipped
}

// version runs bin with arg and returns the first line it prints (BIRD
// prints its version on standard error).
func version(bin, arg string) string {
	out, err := exec.Command(bin, arg).CombinedOutput()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

// frrName is "FRR bgpd 8.4.4" from `bgpd --version`'s "bgpd version 8.4.4".
func frrName(bin string) string {
	v := strings.TrimPrefix(version(bin, "--version"), "bgpd version ")
	return strings.TrimSpace("FRR bgpd " + v)
}

// birdName is "BIRD 2.0.12" from `bird --version`'s "BIRD version 2.0.12".
func birdName(bin string) string {
	v := strings.TrimPrefix(version(bin, "--version"), "BIRD version ")
	return strings.TrimSpace("BIRD " + v)
}

// frrConf is bgpd.conf: one passive iBGP VPNv4 neighbor, A. FRR 8.4 keeps
// VPN routes whatever their route targets (no `retain route-target`
// filtering yet), so no VRF is needed for it to hold them. A's next hop is
// on 127.0.0.0/8, which FRR otherwise drops as martian ("sent martian
// nexthop ... treating as withdrawal"): allow-martian-nexthop keeps them.
func frrConf(self, a netip.Addr, port int) string {
	return fmt.Sprintf(`frr defaults traditional
hostname bench-frr
log stdout warnings
router bgp %d
 bgp router-id %s
 bgp allow-martian-nexthop
 no bgp default ipv4-unicast
 neighbor %s remote-as %d
 neighbor %s passive
 neighbor %s port %d
 neighbor %s timers 30 90
 address-family ipv4 vpn
  neighbor %s activate
 exit-address-family
exit
`, asn, self, a, asn, a, a, port, a, a)
}

// birdConf is bird.conf: one passive iBGP session to A with a vpn4 mpls
// channel importing everything into the vpn4 table vpntab.
func birdConf(self, a netip.Addr, port int) string {
	return fmt.Sprintf(`log stderr { warning, error, fatal, bug };
router id %s;
vpn4 table vpntab;
protocol device {}
# Next hops (A, on lo) must resolve for received routes to be usable.
protocol direct { ipv4; }
protocol bgp a {
  local %s port %d as %d;
  neighbor %s port %d as %d;
  strict bind yes;
  passive yes;
  hold time 90;
  vpn4 mpls { table vpntab; import all; export none; };
}
`, self, self, port, asn, a, port, asn)
}

// startFRR starts FRR's bgpd on addrFRR and waits until vtysh answers.
func (t *topology) startFRR(ctx context.Context, fb fieldBinaries) (*fieldDaemon, error) {
	dir := filepath.Join(t.dir, "frr")
	conf, err := t.writeDirFile(dir, "bgpd.conf", frrConf(addrFRR, addrA, t.port))
	if err != nil {
		return nil, err
	}
	p, err := t.procs.start("frr-bgpd", filepath.Join(t.dir, "frr-bgpd.log"), nil, fb.bgpd,
		"-Z", "-S", "-n", "-P", "0", "--log", "stdout", "-l", addrFRR.String(), "-p", strconv.Itoa(t.port),
		"-f", conf, "-i", filepath.Join(dir, "bgpd.pid"), "--vty_socket", dir)
	if err != nil {
		return nil, err
	}
	c := frrCounter{vtysh: fb.vtysh, dir: dir, neighbor: addrA}
	if err := poll(ctx, 15*time.Second, p, func(ctx context.Context) (bool, error) {
		_, err := c.count(ctx)
		return err == nil, err
	}); err != nil {
		return nil, fmt.Errorf("FRR bgpd: %w", err)
	}
	return &fieldDaemon{name: frrName(fb.bgpd), addr: addrFRR, proc: p, counter: c}, nil
}

// startBIRD starts BIRD on addrBIRD and waits until birdc answers.
func (t *topology) startBIRD(ctx context.Context, fb fieldBinaries) (*fieldDaemon, error) {
	dir := filepath.Join(t.dir, "bird")
	conf, err := t.writeDirFile(dir, "bird.conf", birdConf(addrBIRD, addrA, t.port))
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "bird.ctl")
	p, err := t.procs.start("bird", filepath.Join(t.dir, "bird.log"), nil, fb.bird,
		"-f", "-c", conf, "-s", sock, "-P", filepath.Join(dir, "bird.pid"))
	if err != nil {
		return nil, err
	}
	c := birdCounter{birdc: fb.birdc, sock: sock, protocol: "a"}
	if err := poll(ctx, 15*time.Second, p, func(ctx context.Context) (bool, error) {
		_, err := c.count(ctx)
		return err == nil, err
	}); err != nil {
		return nil, fmt.Errorf("BIRD: %w", err)
	}
	return &fieldDaemon{name: birdName(fb.bird), addr: addrBIRD, proc: p, counter: c}, nil
}

// runTool runs a control program and returns its standard output; an
// error carries its standard error.
func runTool(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// frrCounter counts the VPNv4 routes FRR holds from neighbor.
type frrCounter struct {
	vtysh, dir string
	neighbor   netip.Addr
}

func (c frrCounter) count(ctx context.Context) (int, error) {
	out, err := runTool(ctx, c.vtysh, "--vty_socket", c.dir, "-c", "show bgp ipv4 vpn summary json")
	if err != nil {
		return 0, err
	}
	return parseFRRSummary(out, c.neighbor.String())
}

// errNoPeer says the daemon's output does not list the neighbor (yet).
var errNoPeer = errors.New("neighbor not listed")

// parseFRRSummary returns the neighbor's pfxRcd from FRR's `show bgp ipv4
// vpn summary json`: {"routerId": ..., "peers": {"ADDR": {"pfxRcd": N,
// ...}}, ...}. `show bgp summary json` nests the same object under a key
// per family ({"ipv4Vpn": {...}}), which is read too.
func parseFRRSummary(b []byte, neighbor string) (int, error) {
	type peer struct {
		PfxRcd *int `json:"pfxRcd"`
	}
	type summary struct {
		Peers map[string]peer `json:"peers"`
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return 0, fmt.Errorf("FRR summary: %w", err)
	}
	var sums []summary
	if _, ok := top["peers"]; ok {
		var s summary
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, fmt.Errorf("FRR summary: %w", err)
		}
		sums = append(sums, s)
	} else {
		for _, raw := range top {
			var s summary
			if json.Unmarshal(raw, &s) == nil {
				sums = append(sums, s)
			}
		}
	}
	for _, s := range sums {
		if p, ok := s.Peers[neighbor]; ok {
			if p.PfxRcd == nil {
				return 0, fmt.Errorf("FRR summary: peer %s has no pfxRcd", neighbor)
			}
			return *p.PfxRcd, nil
		}
	}
	return 0, fmt.Errorf("FRR summary: %s: %w", neighbor, errNoPeer)
}

// birdCounter counts the routes BIRD's protocol imported.
type birdCounter struct {
	birdc, sock, protocol string
}

func (c birdCounter) count(ctx context.Context) (int, error) {
	out, err := runTool(ctx, c.birdc, "-s", c.sock, "show", "protocols", "all", c.protocol)
	if err != nil {
		return 0, err
	}
	return parseBIRDProtocol(out)
}

// parseBIRDProtocol returns the imported count of the one channel in
// `birdc show protocols all NAME`, from its line
// "    Routes:         100000 imported, 0 exported, 100000 preferred".
// A protocol whose channel is not up prints no Routes line: 0.
func parseBIRDProtocol(b []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	found, total := false, 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "Routes:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 || strings.TrimSuffix(f[1], ",") != "imported" {
			return 0, fmt.Errorf("BIRD protocol: unexpected %q", line)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("BIRD protocol: bad count in %q", line)
		}
		found, total = true, total+n
	}
	if !found {
		if !bytes.Contains(b, []byte("BGP state:")) {
			return 0, fmt.Errorf("BIRD protocol: not a BGP protocol's status: %q", firstLines(b, 3))
		}
		return 0, nil
	}
	return total, nil
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
