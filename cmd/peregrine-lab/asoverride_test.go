package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/cmd/internal/localapi"
	"github.com/peregrine-net/peregrine/labs/clab"
)

// The l3vpn-ipsec lab, as make demo runs it, with its FRR CEs:
//
//	ce-red-1  (AS 65100, lo 172.16.1.1) -- pe1 ==ESP== pe2 -- ce-red-2  (AS 65100, lo 172.16.2.1)
//	ce-blue-1 (AS 65100, lo 172.16.1.1) --'   (AS 65000)  '-- ce-blue-2 (AS 65100, lo 172.16.2.1)
//
// Every site of both customers uses AS 65100, and red and blue the same
// addresses and prefixes.

// siteLoopbacks are each site's loopback prefixes, by site number.
var siteLoopbacks = map[int][]string{1: {"172.16.1.1/32", "fd00:16:1::1/128"}, 2: {"172.16.2.1/32", "fd00:16:2::1/128"}}

// ces are the lab's CEs: name, site.
var ces = []struct {
	name string
	site int
}{{"ce-red-1", 1}, {"ce-blue-1", 1}, {"ce-red-2", 2}, {"ce-blue-2", 2}}

// TestCEASOverride: with as-override (the topology's PE configs), the
// demo's check passes (CE sessions Established, loopback pings in both
// VRFs over IPv4 and IPv6), every CE holds the other site's loopbacks
// with AS path "65000 65000" (the provider's AS, then the customer's AS
// replaced by it) and zebra installed them in its kernel table; red and
// blue stay apart (a prefix only red's CE announces never reaches blue's
// CEs; a burst of red pings does not move blue's CE counters). Without
// as-override the same lab's PEs import the other site's loopbacks into
// the VRF, but no CE gets a route to them and the pings fail.
func TestCEASOverride(t *testing.T) {
	if _, err := os.Stat(filepath.Join(clab.DefaultFRRDir, "zebra")); err != nil {
		t.Skip("FRR's zebra not installed (apt-get install frr): the CEs install their BGP routes with it")
	}
	t.Run("as-override", func(t *testing.T) {
		topo, bin := labTopology(t, "l3vpn-ipsec")
		st, nodes := deployLab(t, topo, bin)
		var out bytes.Buffer
		err := check(context.Background(), topo, nodes, &out)
		t.Logf("check:\n%s", out.String())
		if err != nil {
			t.Fatal(err)
		}
		for _, ce := range ces {
			remote := siteLoopbacks[3-ce.site]
			for _, p := range remote {
				path, ok := ceBestPath(t, nodes, ce.name, p)
				if !ok || path != "65000 65000" {
					t.Errorf("%s: best path to %s: %q (found %v), want AS path 65000 65000", ce.name, p, path, ok)
				}
				if r := kernelRoute(t, st, ce.name, p); r.Protocol != "bgp" || r.Dev != "eth1" {
					t.Errorf("%s: kernel route to %s: %+v, want proto bgp via eth1", ce.name, p, r)
				}
			}
		}
		isolation(t, st, nodes)
	})
	t.Run("without as-override", func(t *testing.T) {
		topo, bin := labTopology(t, "l3vpn-ipsec")
		for _, pe := range []string{"pe1", "pe2"} {
			p := filepath.Join(topo.Dir, pe, "peregrined.yml")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			off := strings.ReplaceAll(string(b), "as-override: true", "as-override: false")
			if off == string(b) {
				t.Fatalf("%s: no as-override: true to turn off", p)
			}
			if err := os.WriteFile(p, []byte(off), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		st, nodes := deployLab(t, topo, bin)
		ctx := context.Background()
		// The sessions come up and the PEs import the other site's
		// loopbacks: what is missing at the CEs is missing for its AS path.
		waitFor(t, 60*time.Second, "CE sessions Established and VPN routes imported", func() bool {
			for _, ce := range ces {
				if st := frrProgress(ctx, topo, nodes, ce.name); st.sessions != 2 || st.up != 2 {
					return false
				}
			}
			for _, pe := range []string{"pe1", "pe2"} {
				site := map[string]int{"pe1": 1, "pe2": 2}[pe]
				for _, vrf := range []string{"red", "blue"} {
					for _, p := range siteLoopbacks[3-site] {
						if !peHasRoute(ctx, nodes, pe, vrf, p) {
							return false
						}
					}
				}
			}
			return true
		})
		// Give the PEs time to send what they would send.
		time.Sleep(3 * time.Second)
		for _, ce := range ces {
			for _, p := range siteLoopbacks[3-ce.site] {
				if path, ok := ceBestPath(t, nodes, ce.name, p); ok {
					t.Errorf("%s: holds %s (AS path %q) without as-override: it should be a loop to AS 65100", ce.name, p, path)
				}
				if r := kernelRoute(t, st, ce.name, p); r.Dst != "" {
					t.Errorf("%s: kernel route to %s without as-override: %+v", ce.name, p, r)
				}
				// GoBGP checks the loop before sending (its own
				// loop detection on the CE's AS), so the PE holds the
				// route back: the CE would refuse it anyway.
				if path, ok := ceReceived(t, nodes, ce.name, ce.site, p); ok {
					t.Logf("%s: received %s with AS path %q and refused it", ce.name, p, path)
				} else {
					t.Logf("%s: %s: the PE did not send it (sender-side loop check)", ce.name, p)
				}
			}
			src := siteLoopbacks[ce.site]
			for i, p := range siteLoopbacks[3-ce.site] {
				from := strings.Split(src[i], "/")[0]
				dst := strings.Split(p, "/")[0]
				if out, err := nodes.run(ctx, ce.name, "ping", "-c", "2", "-i", "0.3", "-W", "1", "-I", from, dst); err == nil {
					t.Errorf("%s: ping -I %s %s answered without as-override:\n%s", ce.name, from, dst, out)
				}
			}
		}
	})
}

// deployLab deploys topo in namespaces; the test's cleanup destroys it.
func deployLab(t *testing.T, topo *clab.Topology, peregrined string) (*clab.State, *netnsNodes) {
	t.Helper()
	st, err := clab.Deploy(context.Background(), topo, clab.Options{Peregrined: peregrined})
	if err != nil {
		t.Fatal(err)
	}
	return st, newNetnsNodes(st)
}

// ceBestPath returns the AS path of node's best BGP path to prefix, from
// FRR's JSON, and whether it has one.
func ceBestPath(t *testing.T, nodes labNodes, node, prefix string) (string, bool) {
	t.Helper()
	afi := "ipv4"
	if strings.Contains(prefix, ":") {
		afi = "ipv6"
	}
	out, err := nodes.vtysh(context.Background(), node, "show bgp "+afi+" unicast "+prefix+" json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Paths []struct {
			ASPath struct {
				String string `json:"string"`
			} `json:"aspath"`
			Valid    bool `json:"valid"`
			Bestpath struct {
				Overall bool `json:"overall"`
			} `json:"bestpath"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%s: show bgp %s unicast %s json: %v\n%s", node, afi, prefix, err, out)
	}
	for _, p := range r.Paths {
		if p.Valid && p.Bestpath.Overall {
			return p.ASPath.String, true
		}
	}
	return "", false
}

// ceReceived returns the AS path of what its PE sent a CE of site for
// prefix, before the CE's own checks (the CEs keep it: soft-reconfiguration
// inbound), and whether the PE sent it at all.
func ceReceived(t *testing.T, nodes labNodes, node string, site int, prefix string) (string, bool) {
	t.Helper()
	afi, pe := "ipv4", fmt.Sprintf("10.%d.0.1", site)
	if strings.Contains(prefix, ":") {
		afi, pe = "ipv6", fmt.Sprintf("fd00:%d::1", site)
	}
	out, err := nodes.vtysh(context.Background(), node, fmt.Sprintf("show bgp %s unicast neighbors %s received-routes json", afi, pe))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Received map[string]struct {
			Path string `json:"path"`
		} `json:"receivedRoutes"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%s: received-routes: %v\n%s", node, err, out)
	}
	p, ok := r.Received[prefix]
	return p.Path, ok
}

// isolation: a prefix only ce-red-2 announces reaches ce-red-1 and no
// blue CE, by their BGP and kernel tables; a burst of pings in red moves
// red's CE interface counters and leaves blue's still (BGP keepalives
// aside).
func isolation(t *testing.T, st *clab.State, nodes labNodes) {
	ctx := context.Background()
	const probe = "198.51.100.0/24"
	vty := ""
	for _, n := range st.Nodes {
		if n.Name == "ce-red-2" {
			vty = n.VtySocket
		}
	}
	if out, err := exec.Command(clab.DefaultVtysh, "--vty_socket", vty, "-c", "configure terminal", "-c", "ip route "+probe+" Null0",
		"-c", "router bgp 65100", "-c", "address-family ipv4 unicast", "-c", "network "+probe).CombinedOutput(); err != nil {
		t.Fatalf("ce-red-2: announcing %s: %v\n%s", probe, err, out)
	}
	waitFor(t, 30*time.Second, "red's probe prefix at ce-red-1", func() bool {
		_, ok := ceBestPath(t, nodes, "ce-red-1", probe)
		return ok && kernelRoute(t, st, "ce-red-1", probe).Protocol == "bgp"
	})
	for _, ce := range []string{"ce-blue-1", "ce-blue-2"} {
		if path, ok := ceBestPath(t, nodes, ce, probe); ok {
			t.Errorf("%s (blue) holds red's %s, AS path %q", ce, probe, path)
		}
		if r := kernelRoute(t, st, ce, probe); r.Dst != "" {
			t.Errorf("%s (blue) has a kernel route to red's %s: %+v", ce, probe, r)
		}
	}
	if peHasRoute(ctx, nodes, "pe1", "blue", probe) || !peHasRoute(ctx, nodes, "pe1", "red", probe) {
		t.Errorf("pe1: red's %s in vrf red %v, in vrf blue %v; want red only", probe, peHasRoute(ctx, nodes, "pe1", "red", probe), peHasRoute(ctx, nodes, "pe1", "blue", probe))
	}

	before := map[string]uint64{}
	for _, ce := range ces {
		before[ce.name] = linkPackets(t, st, ce.name)
	}
	const burst = 200
	for _, argv := range [][]string{
		{"ping", "-q", "-c", fmt.Sprint(burst), "-i", "0.01", "-W", "2", "-I", "172.16.1.1", "172.16.2.1"},
		{"ping", "-q", "-c", fmt.Sprint(burst), "-i", "0.01", "-W", "2", "-I", "fd00:16:1::1", "fd00:16:2::1"},
	} {
		if out, err := nodes.run(ctx, "ce-red-1", argv...); err != nil {
			t.Fatalf("ce-red-1: %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	for _, ce := range ces {
		moved := linkPackets(t, st, ce.name) - before[ce.name]
		red := strings.HasPrefix(ce.name, "ce-red")
		switch {
		case red && moved < 4*burst: // requests and replies, both families
			t.Errorf("%s: eth1 counted %d packets during %d red pings each way, want at least %d", ce.name, moved, 2*burst, 4*burst)
		case !red && moved > 20:
			t.Errorf("%s (blue): eth1 counted %d packets during red's %d pings: red's traffic reached blue", ce.name, moved, 2*burst)
		default:
			t.Logf("%s: eth1 counted %d packets during red's ping burst", ce.name, moved)
		}
	}
}

// linkPackets is eth1's received plus sent packets in node, from the
// kernel's counters.
func linkPackets(t *testing.T, st *clab.State, node string) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "-n", clab.Namespace(st.Name, node), "-s", "-j", "link", "show", "eth1").Output()
	if err != nil {
		t.Fatalf("%s: ip -s link: %v", node, err)
	}
	var ls []struct {
		Stats struct {
			RX, TX struct {
				Packets uint64 `json:"packets"`
			}
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &ls); err != nil || len(ls) != 1 {
		t.Fatalf("%s: ip -s -j link: %v\n%s", node, err, out)
	}
	return ls[0].Stats.RX.Packets + ls[0].Stats.TX.Packets
}

// kernelRoute returns the route to prefix in node's main table, from the
// kernel (ip -j route show PREFIX); Dst is "" if there is none.
func kernelRoute(t *testing.T, st *clab.State, node, prefix string) struct{ Dst, Dev, Protocol string } {
	t.Helper()
	fam := "-4"
	if strings.Contains(prefix, ":") {
		fam = "-6"
	}
	ns := clab.Namespace(st.Name, node)
	out, err := exec.Command("ip", "-n", ns, fam, "-j", "route", "show", prefix).Output()
	if err != nil {
		t.Fatalf("ip -n %s route show %s: %v", ns, prefix, err)
	}
	var rs []struct{ Dst, Dev, Protocol string }
	if err := json.Unmarshal(out, &rs); err != nil {
		t.Fatalf("ip -j route: %v\n%s", err, out)
	}
	if len(rs) == 0 {
		return struct{ Dst, Dev, Protocol string }{}
	}
	return rs[0]
}

// peHasRoute reports whether pe's VRF holds prefix (peregrine show route
// vrf VRF).
func peHasRoute(ctx context.Context, nodes labNodes, pe, vrf, prefix string) bool {
	var r localapi.VRFRoutes
	if showJSON(ctx, nodes, pe, &r, "route", "vrf", vrf) != nil {
		return false
	}
	for _, rt := range r.Routes {
		if rt.Prefix.String() == prefix {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
