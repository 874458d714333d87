package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// The arrangements of TestFRRFarPE (frr_vm_test.go draws the PEs):
//
//	ebgp      pe1 core 192.168.0.1 ════ 192.168.0.2 core pe2      AS 65000 - AS 65002, connected
//	across-p  pe1 core 192.168.1.1 ── p1 P p2 ── 192.168.2.2 core pe2, iBGP (AS 65000);
//	          P pops 16002 toward FRR and 16001 toward Peregrine (PHP)
//	rr        across-p, each PE a client of an FRR route reflector
//	          hanging off P: P rr 192.168.9.1 ── 192.168.9.2 eth0 rr
//
// Transport labels: Peregrine pushes 16002 toward FRR
// (dataplane.transport-labels), FRR 16001 toward Peregrine (a staticd
// route with a label, which FRR also needs to accept an iBGP VPN route).
//
//	ibgp      as ebgp, but iBGP (AS 65000): FRR 8.4 wants a labelled
//	          route to an iBGP next hop, and staticd takes labels from
//	          16 up only (tried in the VM: "label implicit-null" and
//	          "label 3" get 'Invalid union value ... no matching subtype
//	          found' from its YANG model), so FRR pushes frrOwnTransport
//	          toward the connected Peregrine, which pops it as its own
//	          (dataplane.local-transport-labels).
type frrCase struct {
	name, backend, labelMode string
	topology                 string // ebgp, across-p, rr
}

// frrSetup is one case's network, ready for peregrined.
type frrSetup struct {
	n         *twoPEs
	frrDir    string // FRR pe2's sockets and logs
	peregrine string // pe1's configuration
	sock      string // pe1's control socket
	// Where the labels toward each PE are captured, and the transport
	// label expected above the VPN label there (0: none).
	towardFRR, towardUs    capturePoint
	frrAddress, ourAddress string
	transport              string // pe1's dataplane.transport-labels line, or ""
	ownLabels              string // pe1's dataplane.local-transport-labels line, or ""
	// v6: IPv6 crosses too. Not where FRR's next hop toward Peregrine
	// is recursive (its route to Peregrine carries the transport
	// label): zebra then installs the VPNv6 route with the IPv4 next hop
	// it resolved to, which Linux refuses ("IPv6 routes can not use an
	// IPv4 nexthop").
	v6 bool
}

// frrOwnTransport is the label FRR pushes toward a connected Peregrine
// over iBGP: outside Peregrine's VPN labels (mpls.label-min..label-max,
// 1000..99999 by default).
const frrOwnTransport = 200001

type capturePoint struct {
	ns        netns.NsHandle
	ifName    string
	transport int
}

func newFRRSetup(t *testing.T, c frrCase) *frrSetup {
	t.Helper()
	s := &frrSetup{}
	var conf frrPEConf
	neighbor := ""
	switch c.topology {
	case "ebgp":
		s.n = newTwoPEs(t)
		s.frrAddress, s.ourAddress, neighbor = "192.168.0.2", "192.168.0.1", "192.168.0.2"
		conf = frrPEConf{asn: 65002, neighborASN: 65000, local: "192.168.0.2", neighbor: "192.168.0.1",
			peregrine: "192.168.0.1", gwNS: s.n.pe1, gwIf: "core"}
		s.towardFRR = capturePoint{s.n.pe2, "core", 0}
		s.towardUs = capturePoint{s.n.pe1, "core", 0}
		s.v6 = true
	case "ibgp":
		// FRR pushes a label even toward the connected Peregrine
		// (frrOwnTransport), which pops it as its own transport label.
		// staticd's labelled route cannot lead to 192.168.0.1 itself
		// (zebra refuses a host route through its own address, and an
		// interface route loses its label: both tried, "inactive" and
		// "directly connected" without label), so it leads to
		// Peregrine's loopback 192.168.100.1 via 192.168.0.1, and an
		// inbound route map puts that loopback as the next hop of
		// Peregrine's VPNv4 routes. The session stays on the core
		// addresses, unlabelled.
		s.n = newTwoPEs(t)
		ipIn(t, s.n.pe1, "addr", "add", "192.168.100.1/32", "dev", "lo")
		s.frrAddress, s.ourAddress, neighbor = "192.168.0.2", "192.168.0.1", "192.168.0.2"
		conf = frrPEConf{asn: 65000, neighborASN: 65000, local: "192.168.0.2", neighbor: "192.168.0.1",
			static:    fmt.Sprintf("ip route 192.168.100.1/32 192.168.0.1 label %d", frrOwnTransport),
			peregrine: "192.168.0.1", gwNS: s.n.pe1, gwIf: "core", nextHopIn: "192.168.100.1"}
		s.ownLabels = fmt.Sprintf("  local-transport-labels: [%d]\n", frrOwnTransport)
		s.towardFRR = capturePoint{s.n.pe2, "core", 0}
		s.towardUs = capturePoint{s.n.pe1, "core", frrOwnTransport}
	case "across-p", "rr":
		p := newTwoPEsAcrossP(t)
		// PHP toward FRR too, not the explicit null newTwoPEsAcrossP
		// swaps 16002 for: Linux takes no route for label 0 ("Invalid
		// label - must be MPLS_LABEL_FIRST_UNRESERVED or higher").
		ipIn(t, p.p, "-f", "mpls", "route", "replace", "16002", "via", "inet", "192.168.2.2", "dev", "p2")
		s.n, s.frrAddress, s.ourAddress, neighbor = &p.twoPEs, "192.168.2.2", "192.168.1.1", "192.168.2.2"
		conf = frrPEConf{asn: 65000, neighborASN: 65000, local: "192.168.2.2", neighbor: "192.168.1.1",
			static: "ip route 192.168.1.1/32 192.168.2.1 core label 16001", peregrine: "192.168.1.1", gwNS: p.p, gwIf: "p2"}
		s.transport = "  transport-labels: [{remote: 192.168.2.2, label: 16002}]\n"
		s.towardFRR = capturePoint{p.p, "p1", 16002}
		s.towardUs = capturePoint{p.p, "p2", 16001}
		if c.topology == "rr" {
			rr := newNS(t)
			link(t, p.p, "rr", "192.168.9.1/30", rr, "eth0", "192.168.9.2/30")
			routeVia(t, s.n.pe1, "192.168.9.0/30", "192.168.1.2")
			routeVia(t, s.n.pe2, "192.168.9.0/30", "192.168.2.1")
			defaultVia(t, rr, "192.168.9.1")
			clients := []string{"192.168.1.1", "192.168.2.2"}
			frrRR(t, rr, "192.168.9.2", clients, clients)
			conf.neighbor, neighbor = "192.168.9.2", "192.168.9.2"
		}
	default:
		t.Fatalf("no topology %q", c.topology)
	}
	s.frrDir = frrPE(t, s.n.pe2, conf)

	s.sock = filepath.Join(t.TempDir(), "pe1.sock")
	pc := fmt.Sprintf(plainConfig, s.ourAddress, s.sock, s.frrAddress, 1, "ce1", "ce2", c.backend, s.transport+s.ownLabels)
	pc = strings.Replace(pc, "neighbors: [{address: "+s.frrAddress+", asn: 65000",
		fmt.Sprintf("neighbors: [{address: %s, asn: %d", neighbor, conf.asn), 1)
	for _, ce := range []string{"ce1", "ce2"} {
		pc = strings.Replace(pc, "interfaces: ["+ce+"]}", "interfaces: ["+ce+"], label-mode: "+c.labelMode+"}", 1)
	}
	s.peregrine = pc
	return s
}

// TestFRRFarPE: Peregrine (userspace and kernel backends, per-VRF and
// per-prefix labels) and FRR exchange VPNv4 and VPNv6 routes and labels
// over eBGP between connected PEs, iBGP between connected PEs (FRR's
// label popped by Peregrine as its own transport label), iBGP across a P
// router and iBGP through an FRR route reflector across that P router, and the CEs ping
// across in both VRFs, both directions, over plain MPLS: IPv4 always,
// IPv6 (6VPE, over the IPv4 core) between connected PEs (frrSetup.v6
// says why not across P). The label stacks on the core are the transport
// label configured and the VPN label each side advertised: FRR's from
// `show bgp ipv4|ipv6 vpn PREFIX json`, Peregrine's from its API
// (/v1/bgp/vpnv4, /v1/bgp/vpnv6). Then a reload that takes FRR out of
// ipsec.unprotected-peers stops the traffic with nothing labelled toward
// FRR.
func TestFRRFarPE(t *testing.T) {
	requireFRR(t)
	for _, c := range []frrCase{
		{"ebgp/userspace", "userspace", "per-vrf", "ebgp"},
		{"ebgp/userspace-per-prefix", "userspace", "per-prefix", "ebgp"},
		{"ebgp/kernel", "kernel", "per-vrf", "ebgp"},
		{"ebgp/kernel-per-prefix", "kernel", "per-prefix", "ebgp"},
		{"ibgp/userspace", "userspace", "per-vrf", "ibgp"},
		{"ibgp/kernel-per-prefix", "kernel", "per-prefix", "ibgp"},
		{"across-p/userspace", "userspace", "per-vrf", "across-p"},
		{"across-p/kernel", "kernel", "per-vrf", "across-p"},
		{"rr/userspace-per-prefix", "userspace", "per-prefix", "rr"},
		{"rr/kernel-per-prefix", "kernel", "per-prefix", "rr"},
	} {
		t.Run(c.name, func(t *testing.T) { testFRRFarPE(t, c) })
	}
}

func testFRRFarPE(t *testing.T, c frrCase) {
	s := newFRRSetup(t, c)
	n := s.n
	_, proc, confPath := startPeregrinedProc(t, n.pe1, "pe1", s.peregrine)
	sock := s.sock
	defer func() {
		if t.Failed() {
			for _, q := range []struct{ daemon, command string }{
				{"bgpd", "show bgp summary"}, {"bgpd", "show bgp ipv4 vpn"}, {"bgpd", "show bgp ipv6 vpn"},
				{"bgpd", "show bgp nexthop"}, {"zebra", "show ip route vrf all"}, {"zebra", "show ipv6 route vrf all"},
				{"zebra", "show mpls table"},
			} {
				t.Logf("%s: %s:\n%s", q.daemon, q.command, vtysh(t, s.frrDir, q.daemon, q.command))
			}
		}
	}()
	n.pingAll(t, 101, 60*time.Second, s.v6)

	checkFRRLabels(t, s, sock)
	if got := remotePEProtection(t, sock, s.frrAddress); got != "unprotected" {
		t.Errorf("show vrf red: FRR (%s) is %q, want unprotected", s.frrAddress, got)
	}

	// Fail closed: FRR leaves ipsec.unprotected-peers by reload, and its
	// transport label goes with it (the configuration refuses one for a
	// protected peer).
	unprotected := "ipsec: {unprotected-peers: [" + s.frrAddress + "]}\n"
	if !strings.Contains(s.peregrine, unprotected) {
		t.Fatalf("no %q in the configuration", unprotected)
	}
	reloaded := strings.Replace(s.peregrine, unprotected, "", 1)
	reloaded = strings.Replace(reloaded, s.transport, "", 1)
	if err := os.WriteFile(confPath, []byte(reloaded), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	dsts := []string{"10.2.0.2"}
	if s.v6 {
		dsts = append(dsts, "fd00:2::2")
	}
	for _, dst := range dsts {
		deadline := time.Now().Add(20 * time.Second)
		for ping(n.red1, dst, 120) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("red 1->2 (%s) still answered 20 s after the reload without the unprotected peer", dst)
			}
			time.Sleep(200 * time.Millisecond)
		}
		at := s.towardFRR
		if got := captureStack(t, at.ns, at.ifName, func() { _ = ping(n.red1, dst, 121) }); got != nil {
			t.Errorf("after the reload, pe1 still sent MPLS toward FRR (%s): %v", dst, got)
		}
	}
	if got := remotePEProtection(t, sock, s.frrAddress); got != "none" {
		t.Errorf("show vrf red after the reload: FRR (%s) is %q, want none", s.frrAddress, got)
	}
}

// checkFRRLabels compares the label stacks on the core, both families,
// both VRFs, both directions, with the transport labels configured and
// the VPN labels each side advertised.
func checkFRRLabels(t *testing.T, s *frrSetup, sock string) {
	t.Helper()
	n := s.n
	families := []struct{ site1, site2, host1, host2 string }{
		{"10.1.0.0/24", "10.2.0.0/24", "10.1.0.2", "10.2.0.2"},
		{"fd00:1::/64", "fd00:2::/64", "fd00:1::2", "fd00:2::2"},
	}
	if !s.v6 {
		families = families[:1]
	}
	for _, fam := range families {
		frr := frrLabels(t, s.frrDir, fam.site2)
		ours := peregrineLabels(t, sock, fam.site1)
		t.Logf("%s: advertised: FRR %v, Peregrine %v", fam.site2, frr, ours)
		for _, c := range []struct {
			what string
			at   capturePoint
			from netns.NsHandle
			dst  string
			vpn  int
		}{
			{"red toward FRR", s.towardFRR, n.red1, fam.host2, frr["65000:21"]},
			{"blue toward FRR", s.towardFRR, n.blue1, fam.host2, frr["65000:22"]},
			{"red toward Peregrine", s.towardUs, n.red2, fam.host1, ours["65000:11"]},
			{"blue toward Peregrine", s.towardUs, n.blue2, fam.host1, ours["65000:12"]},
		} {
			want := []int{c.vpn}
			if c.at.transport != 0 {
				want = []int{c.at.transport, c.vpn}
			}
			got := captureStack(t, c.at.ns, c.at.ifName, func() { _ = ping(c.from, c.dst, 110) })
			if c.vpn < 16 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s (%s): label stack on the core %v, want %v as configured and advertised", c.what, c.dst, got, want)
			}
		}
		if s.towardFRR.transport != 0 { // behind P, popped (PHP)
			want := []int{frr["65000:21"]}
			if got := captureStack(t, n.pe2, "core", func() { _ = ping(n.red1, fam.host2, 111) }); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("red at FRR's core (%s): label stack %v, want %v", fam.host2, got, want)
			}
		}
	}
}
