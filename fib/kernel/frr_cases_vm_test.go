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
//	-v6       (ibgp-v6, across-p-v6, rr-v6) the core has IPv6 addresses
//	          too (fd00:c::/64; fd00:c1::/64, fd00:c2::/64, fd00:c9::/64:
//	          v6core) and VPNv6 runs on IPv6 sessions of its own: IPv6
//	          next hops both ways
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
	topology                 string // ebgp, ibgp, across-p, rr, across-p-v6, rr-v6
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
	unprotected            string // pe1's ipsec.unprotected-peers line
	// With VPNv6 over IPv6 sessions (v6core): the PEs' IPv6 addresses
	// and Peregrine's VPNv6 neighbor (FRR or the route reflector).
	ourAddress6, frrAddress6, neighbor6 string
	// loopback6 is the next hop FRR puts on Peregrine's VPNv6 routes
	// (ibgp-v6), "" where it keeps Peregrine's.
	loopback6 string
	// v6: IPv6 crosses too. Not with 6VPE where FRR's next hop toward
	// Peregrine is recursive (its route to Peregrine carries a label:
	// across-p, rr, ibgp): zebra then installs the VPNv6 route with the
	// IPv4 next hop it resolved ::ffff:PE1 to, which Linux refuses
	// ("IPv6 routes can not use an IPv4 nexthop"). With VPNv6 on IPv6
	// sessions (v6core) the next hop is Peregrine's IPv6 address, which
	// a labelled IPv6 static route resolves.
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
	topology, v6session := strings.CutSuffix(c.topology, "-v6")
	switch topology {
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
		if v6session { // the same in IPv6, on an IPv6 session: loopback fd00:100::1
			addr6(t, s.n.pe1, "core", "fd00:c::1/64")
			addr6(t, s.n.pe2, "core", "fd00:c::2/64")
			ipIn(t, s.n.pe1, "-6", "addr", "add", "fd00:100::1/128", "dev", "lo", "nodad")
			s.ourAddress6, s.frrAddress6, s.neighbor6 = "fd00:c::1", "fd00:c::2", "fd00:c::2"
			conf.neighbor6, conf.local6, conf.nextHopIn6 = "fd00:c::1", "fd00:c::2", "fd00:100::1"
			s.loopback6 = conf.nextHopIn6
			conf.static6 = fmt.Sprintf("ipv6 route fd00:100::1/128 fd00:c::1 core label %d", frrOwnTransport)
			s.v6 = true
		}
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
		if v6session {
			s.v6core(t, p, &conf)
		}
		if topology == "rr" {
			rr := newNS(t)
			link(t, p.p, "rr", "192.168.9.1/30", rr, "eth0", "192.168.9.2/30")
			routeVia(t, s.n.pe1, "192.168.9.0/30", "192.168.1.2")
			routeVia(t, s.n.pe2, "192.168.9.0/30", "192.168.2.1")
			defaultVia(t, rr, "192.168.9.1")
			clients4 := []string{"192.168.1.1", "192.168.2.2"}
			clients6 := clients4
			if v6session {
				addr6(t, p.p, "rr", "fd00:c9::1/64")
				addr6(t, rr, "eth0", frrRRAddress6+"/64")
				routeVia6(t, s.n.pe1, "fd00:c9::/64", "fd00:c1::2")
				routeVia6(t, s.n.pe2, "fd00:c9::/64", "fd00:c2::1")
				routeVia6(t, rr, "::/0", "fd00:c9::1")
				clients6 = []string{"fd00:c1::1", "fd00:c2::2"}
				conf.neighbor6, s.neighbor6 = frrRRAddress6, frrRRAddress6
			}
			frrRR(t, rr, "192.168.9.2", clients4, clients6)
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
	s.unprotected = "ipsec: {unprotected-peers: [" + s.frrAddress + "]}\n"
	if v6session {
		pc = strings.Replace(pc, "families: [vpnv4, vpnv6], connect-retry: 1s}]", fmt.Sprintf(
			"families: [vpnv4], connect-retry: 1s}, {address: '%s', asn: %d, local-address: '%s', families: [vpnv6], connect-retry: 1s}]",
			s.neighbor6, conf.asn, s.ourAddress6), 1)
		v6unprotected := "ipsec: {unprotected-peers: [" + s.frrAddress + ", '" + s.frrAddress6 + "']}\n"
		pc = strings.Replace(pc, s.unprotected, v6unprotected, 1)
		s.unprotected = v6unprotected
	}
	s.peregrine = pc
	return s
}

// v6core gives the PEs and P of the across-p arrangement IPv6 core
// addresses and routes, and VPNv6 its own sessions over them: the
// routes' next hops are the PEs' IPv6 addresses (not IPv4-mapped ones,
// which zebra resolves to an IPv4 next hop Linux refuses for an IPv6
// route), FRR reaches Peregrine's through a labelled static route as
// for IPv4, and Peregrine pushes the same transport label toward FRR's.
//
//	pe1 core fd00:c1::1 ── p1 fd00:c1::2 │ P │ p2 fd00:c2::1 ── core fd00:c2::2 pe2
func (s *frrSetup) v6core(t *testing.T, p *twoPEsAcrossP, conf *frrPEConf) {
	t.Helper()
	addr6(t, s.n.pe1, "core", "fd00:c1::1/64")
	addr6(t, p.p, "p1", "fd00:c1::2/64")
	addr6(t, p.p, "p2", "fd00:c2::1/64")
	addr6(t, s.n.pe2, "core", "fd00:c2::2/64")
	routeVia6(t, s.n.pe1, "fd00:c2::/64", "fd00:c1::2")
	routeVia6(t, s.n.pe2, "fd00:c1::/64", "fd00:c2::1")
	if err := onThreadIn(p.p, func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/all/forwarding", []byte("1\n"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	s.ourAddress6, s.frrAddress6, s.neighbor6 = "fd00:c1::1", "fd00:c2::2", "fd00:c2::2"
	conf.neighbor6, conf.local6 = "fd00:c1::1", "fd00:c2::2"
	conf.static6 = "ipv6 route fd00:c1::1/128 fd00:c2::1 core label 16001"
	s.transport = "  transport-labels: [{remote: 192.168.2.2, label: 16002}, {remote: 'fd00:c2::2', label: 16002}]\n"
	s.v6 = true
}

// TestFRRFarPE: Peregrine (userspace and kernel backends, per-VRF and
// per-prefix labels) and FRR exchange VPNv4 and VPNv6 routes and labels
// over eBGP between connected PEs, iBGP between connected PEs (FRR's
// label popped by Peregrine as its own transport label), iBGP across a P
// router and iBGP through an FRR route reflector across that P router, and the CEs ping
// across in both VRFs, both directions, over plain MPLS: IPv4 always,
// IPv6 with eBGP between connected PEs (6VPE, over the IPv4 core) and
// across P and through the route reflector where VPNv6 has IPv6 sessions
// over an IPv6 core (-v6; frrSetup.v6 says why not 6VPE there). The
// label stacks on the core are the transport
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
		{"ibgp-v6/userspace-per-prefix", "userspace", "per-prefix", "ibgp-v6"},
		{"ibgp-v6/kernel", "kernel", "per-vrf", "ibgp-v6"},
		{"across-p-v6/userspace", "userspace", "per-vrf", "across-p-v6"},
		{"across-p-v6/kernel-per-prefix", "kernel", "per-prefix", "across-p-v6"},
		{"rr-v6/userspace-per-prefix", "userspace", "per-prefix", "rr-v6"},
		{"rr-v6/kernel", "kernel", "per-vrf", "rr-v6"},
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

	if s.frrAddress6 != "" { // VPNv6 over IPv6 sessions: IPv6 next hops both ways, not IPv4-mapped
		frrHops, ourHops := frrNextHops6(t, s.frrDir, "fd00:1::/64"), peregrineNextHops6(t, sock, "fd00:2::/64")
		t.Logf("VPNv6 next hops: FRR's paths to fd00:1::/64 %v, Peregrine's to fd00:2::/64 %v", frrHops, ourHops)
		ours := s.ourAddress6
		if s.loopback6 != "" {
			ours = s.loopback6 // FRR's inbound route map's (ibgp)
		}
		for rd, want := range map[string]string{"65000:11": ours, "65000:12": ours} {
			if fmt.Sprint(frrHops[rd]) != fmt.Sprint([]string{want}) {
				t.Errorf("FRR: next hop of %s fd00:1::/64 %v, want [%s]", rd, frrHops[rd], want)
			}
		}
		for rd, want := range map[string]string{"65000:21": s.frrAddress6, "65000:22": s.frrAddress6} {
			if fmt.Sprint(ourHops[rd]) != fmt.Sprint([]string{want}) {
				t.Errorf("Peregrine: next hop of %s fd00:2::/64 %v, want [%s]", rd, ourHops[rd], want)
			}
		}
	}
	checkFRRLabels(t, s, sock)
	for _, a := range []string{s.frrAddress, s.frrAddress6} {
		if got := remotePEProtection(t, sock, a); a != "" && got != "unprotected" {
			t.Errorf("show vrf red: FRR (%s) is %q, want unprotected", a, got)
		}
	}

	// Fail closed: FRR leaves ipsec.unprotected-peers by reload, and its
	// transport label goes with it (the configuration refuses one for a
	// protected peer).
	unprotected := s.unprotected
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
	for _, a := range []string{s.frrAddress, s.frrAddress6} {
		if got := remotePEProtection(t, sock, a); a != "" && got != "none" {
			t.Errorf("show vrf red after the reload: FRR (%s) is %q, want none", a, got)
		}
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
