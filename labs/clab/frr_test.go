package clab

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Two FRR routers, each with zebra, bgpd and staticd from its daemons
// file, over one link:
//
//	r1 (AS 65001)  eth1 10.77.0.1/24 ---- eth1 10.77.0.2/24  r2 (AS 65002)
//	lo 172.16.1.1/32                                        lo 172.16.2.1/32
//	                                                        static 172.16.22.0/24 -> Null0
//
// Each announces its loopback over eBGP; r2 also redistributes a staticd
// route. Nothing else routes: a loopback reaches the other only through
// the routes zebra installed from BGP in the node's own kernel table.
const twoFRR = `name: %s
topology:
  nodes:
    r1:
      kind: linux
      image: quay.io/frrouting/frr:8.4.4
      binds: ["r1/daemons:/etc/frr/daemons", "r1/frr.conf:/etc/frr/frr.conf"]
      exec: ["ip addr add 10.77.0.1/24 dev eth1", "ip addr add 172.16.1.1/32 dev lo"]
    r2:
      kind: linux
      image: quay.io/frrouting/frr:8.4.4
      binds: ["r2/daemons:/etc/frr/daemons", "r2/frr.conf:/etc/frr/frr.conf"]
      exec: ["ip addr add 10.77.0.2/24 dev eth1", "ip addr add 172.16.2.1/32 dev lo"]
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
`

// A daemons file as containerlab users write them: FRR's own, bgpd on.
const bgpdDaemons = `# zebra and staticd always run
bgpd=yes
ospfd=no
vtysh_enable=yes
zebra_options="  -A 127.0.0.1 -s 90000000"
bgpd_options="   -A 127.0.0.1"
`

const r1Conf = `frr defaults traditional
hostname r1
service integrated-vtysh-config
router bgp 65001
 bgp router-id 10.77.0.1
 no bgp ebgp-requires-policy
 neighbor 10.77.0.2 remote-as 65002
 address-family ipv4 unicast
  network 172.16.1.1/32
 exit-address-family
exit
`

const r2Conf = `frr defaults traditional
hostname r2
service integrated-vtysh-config
ip route 172.16.22.0/24 Null0
router bgp 65002
 bgp router-id 10.77.0.2
 no bgp ebgp-requires-policy
 neighbor 10.77.0.1 remote-as 65001
 address-family ipv4 unicast
  network 172.16.2.1/32
  redistribute static
 exit-address-family
exit
`

// requireFRR skips where FRR's daemons or vtysh are missing.
func requireFRR(t *testing.T) {
	t.Helper()
	for _, d := range []string{"zebra", "bgpd", "staticd"} {
		if _, err := os.Stat(filepath.Join(DefaultFRRDir, d)); err != nil {
			t.Skipf("FRR's %s not installed (apt-get install frr): %v", d, err)
		}
	}
	if _, err := exec.LookPath(DefaultVtysh); err != nil {
		t.Skip("FRR's vtysh not installed (apt-get install frr)")
	}
}

// frrLab writes the two-router topology with r2's frr.conf as given.
func frrLab(t *testing.T, lab, r2 string) *Topology {
	t.Helper()
	dir := t.TempDir()
	for node, conf := range map[string]string{"r1": r1Conf, "r2": r2} {
		if err := os.MkdirAll(filepath.Join(dir, node), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, body := range map[string]string{"daemons": bgpdDaemons, "frr.conf": conf} {
			if err := os.WriteFile(filepath.Join(dir, node, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	topo, err := Load(writeTopo(t, dir, strings.ReplaceAll(twoFRR, "%s", lab)))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// kernelRoute is what `ip -j route show` says of one route.
type kernelRoute struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
}

// routesIn returns the main table of a namespace, from the kernel.
func routesIn(t *testing.T, ns string) []kernelRoute {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-j", "route", "show").Output()
	if err != nil {
		t.Fatalf("ip -n %s route: %v", ns, err)
	}
	var rs []kernelRoute
	if err := json.Unmarshal(out, &rs); err != nil {
		t.Fatalf("ip -j route: %v\n%s", err, out)
	}
	return rs
}

// TestDeployFRRWithZebra: nodes whose daemons file enables bgpd run zebra,
// bgpd and staticd, each node with its own sockets; the routes r1 learns
// by BGP are in r1's kernel table with proto bgp, installed by its zebra,
// and r1 and r2 ping loopback to loopback by them.
func TestDeployFRRWithZebra(t *testing.T) {
	requireRunner(t)
	requireFRR(t)
	lab := "pgz" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	topo := frrLab(t, lab, r2Conf)
	t.Cleanup(func() { _ = Destroy(lab) })
	st, err := Deploy(context.Background(), topo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		var names []string
		for _, d := range n.Daemons {
			names = append(names, d.Name)
		}
		if strings.Join(names, ",") != "zebra,bgpd,staticd" {
			t.Errorf("%s runs %v, want zebra, bgpd and staticd", n.Name, names)
		}
		if n.VtySocket != filepath.Join(st.Dir, n.Name) {
			t.Errorf("%s: vty sockets in %q, want the node's own directory", n.Name, n.VtySocket)
		}
		if _, err := os.Stat(filepath.Join(n.VtySocket, "zserv.api")); err != nil {
			t.Errorf("%s: no zserv socket of its own: %v", n.Name, err)
		}
	}

	r1 := Namespace(lab, "r1")
	want := map[string]bool{"172.16.2.1": false, "172.16.22.0/24": false}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, r := range routesIn(t, r1) {
			if _, ok := want[r.Dst]; ok && r.Protocol == "bgp" && r.Gateway == "10.77.0.2" && r.Dev == "eth1" {
				want[r.Dst] = true
			}
		}
		if want["172.16.2.1"] && want["172.16.22.0/24"] {
			break
		}
		if time.Now().After(deadline) {
			vt, _ := exec.Command(DefaultVtysh, "--vty_socket", st.Nodes[0].VtySocket, "-c", "show bgp ipv4 unicast").CombinedOutput()
			t.Fatalf("r1's kernel table lacks BGP routes (found: %v) after 30s: %+v\nr1's BGP table:\n%s", want, routesIn(t, r1), vt)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, p := range [][2]string{{"r1", "172.16.1.1 172.16.2.1"}, {"r2", "172.16.2.1 172.16.1.1"}} {
		src, dst, _ := strings.Cut(p[1], " ")
		if out, err := exec.Command("ip", "netns", "exec", Namespace(lab, p[0]), "ping", "-c", "1", "-W", "2", "-I", src, dst).CombinedOutput(); err != nil {
			t.Errorf("%s: ping -I %s %s: %v\n%s", p[0], src, dst, err, out)
		}
	}

	// Inspect sees every daemon; a killed zebra is a node down.
	got, err := Inspect(lab)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Nodes[0].Running || len(got.Nodes[0].Daemons) != 3 {
		t.Fatalf("inspect: %+v", got.Nodes[0])
	}
	zebra := got.Nodes[0].Daemons[0]
	if err := syscall.Kill(zebra.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		got, err = Inspect(lab)
		if err != nil {
			t.Fatal(err)
		}
		if d, down := got.Nodes[0].Down(); down {
			if d.Name != "zebra" || got.Nodes[0].Running {
				t.Errorf("after killing r1's zebra: down %+v, node running %v", d, got.Nodes[0].Running)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Inspect still sees r1's zebra running after kill -9")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDeployFRRBadConfig: a command vtysh refuses in frr.conf fails the
// deploy with vtysh's own words and leaves no namespace.
func TestDeployFRRBadConfig(t *testing.T) {
	requireRunner(t)
	requireFRR(t)
	lab := "pgzb" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	topo := frrLab(t, lab, strings.Replace(r2Conf, "remote-as 65001", "remote-as sixty-five", 1))
	t.Cleanup(func() { _ = Destroy(lab) })
	_, err := Deploy(context.Background(), topo, Options{})
	var ce *FRRConfigError
	if !errors.As(err, &ce) || ce.Node != "r2" || !strings.Contains(err.Error(), "remote-as sixty-five") {
		t.Fatalf("deploy: %v, want an FRRConfigError on r2 quoting the bad line", err)
	}
	if l := leftovers(t, lab); len(l) > 0 {
		t.Errorf("left after a failed deploy: %v", l)
	}
}
