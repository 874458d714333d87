package kernel

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// PE-CE routing under the kernel backend: each CE is an FRR router
// (zebra and bgpd, so that it installs what it learns) running eBGP with
// its PE inside the VRF, IPv4 over the IPv4 link and IPv6 over the IPv6
// one, and announcing its loopback:
//
//	red1  lo 172.16.1.1 fd10:1::1 ─ ce1 ┐                          ┌ ce3 ─ red2  lo 172.16.2.1 fd10:2::1
//	      AS 65101                      pe1 ═══ core (MPLS) ═══ pe2              AS 65102
//	blue1 lo 172.17.1.1 fd11:1::1 ─ ce2 ┘ 192.168.0.1  .0.2   └ ce4 ─ blue2 lo 172.17.2.1 fd11:2::1
//
// pe1 is peregrined with the kernel backend, pe2 with the kernel or the
// userspace one (AS 65000, plain MPLS, each declaring the other
// unprotected). Red and blue share the link
// addresses (10.1.0.0/24, fd00:1::/64 at site 1; 10.2.0.0/24, fd00:2::/64
// at site 2), so the same CE address is two sessions, one per VRF, each
// bound to its VRF's device (bgp/cebind.go). The CEs have no default
// route: a loopback reaches the far one only by what BGP installed.

// ceFRRConf is one CE's bgpd: passive toward the PE (which connects from
// inside the VRF: Peregrine refuses passive CE sessions), IPv4 unicast
// with the PE's IPv4 address, IPv6 unicast with its IPv6 address, each
// announcing the loopback of its family. Without fast-external-failover
// the sessions outlive a flap of the link, as behind a switch.
const ceFRRConf = `hostname %[1]s
log file %[2]s/bgpd.log
!
router bgp %[3]d
 bgp router-id %[4]s
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 no bgp fast-external-failover
 neighbor %[5]s remote-as 65000
 neighbor %[5]s passive
 neighbor %[6]s remote-as 65000
 neighbor %[6]s passive
 address-family ipv4 unicast
  neighbor %[5]s activate
  network %[7]s/32
 exit-address-family
 address-family ipv6 unicast
  neighbor %[6]s activate
  network %[8]s/128
 exit-address-family
exit
`

// ceSite is one CE router.
type ceSite struct {
	name     string
	ns       netns.NsHandle
	asn      int
	addr4    string // the CE's own link address, the router ID
	pe4, pe6 string // its PE's link addresses, its BGP neighbors
	lo4, lo6 string // its loopback, what it announces
	dir      string // FRR's sockets and logs
}

// frrCE gives s's namespace its loopback addresses, takes its default
// routes away (newCEs gave it some) and runs FRR's zebra and bgpd there.
func frrCE(t *testing.T, s *ceSite) {
	t.Helper()
	ipIn(t, s.ns, "addr", "add", s.lo4+"/32", "dev", "lo")
	ipIn(t, s.ns, "-6", "addr", "add", s.lo6+"/128", "dev", "lo", "nodad")
	ipIn(t, s.ns, "route", "del", "default")
	ipIn(t, s.ns, "-6", "route", "del", "default")
	s.dir = t.TempDir()
	zconf := filepath.Join(s.dir, "zebra.conf")
	bconf := filepath.Join(s.dir, "bgpd.conf")
	for path, text := range map[string]string{
		zconf: fmt.Sprintf("hostname %s-zebra\nlog file %s/zebra.log\n", s.name, s.dir),
		bconf: fmt.Sprintf(ceFRRConf, s.name, s.dir, s.asn, s.addr4, s.pe4, s.pe6, s.lo4, s.lo6),
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"-u", "root", "-g", "root", "-z", filepath.Join(s.dir, "zserv.api"), "--vty_socket", s.dir}
	startFRRDaemon(t, s.ns, s.dir, "zebra", append(common, "-i", filepath.Join(s.dir, "zebra.pid"), "-f", zconf)...)
	time.Sleep(time.Second) // bgpd connects to zebra's socket
	startFRRDaemon(t, s.ns, s.dir, "bgpd", append(common, "-i", filepath.Join(s.dir, "bgpd.pid"), "-f", bconf)...)
}

// ceNeighbors is what `peregrine show bgp vrf NAME summary --json` prints
// (GET /v1/bgp/vrfs/NAME/neighbors), the fields this test reads.
type ceNeighbors []struct {
	Address  string `json:"address"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Flaps    uint64 `json:"flaps"`
	Families []struct {
		Name     string `json:"name"`
		Received uint64 `json:"received"`
		Accepted uint64 `json:"accepted"`
		Sent     uint64 `json:"sent"`
	} `json:"families"`
}

// ceSession is one CE session as its PE shows it: state and the counts
// of its one family ("" state for a CE the PE does not list, or
type ceSession struct {
	state                           string
	received, accepted, sent, flaps uint64
}

// ("error: ..." for a PE that does not answer yet).
func peCESession(t *testing.T, sock, vrf, ce string) ceSession {
	t.Helper()
	b, err := apiTry(sock, "/v1/bgp/vrfs/"+vrf+"/neighbors")
	if err != nil {
		return ceSession{state: "error: " + err.Error()}
	}
	var ns ceNeighbors
	if err := json.Unmarshal(b, &ns); err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Address != ce {
			continue
		}
		s := ceSession{state: n.State, flaps: n.Flaps}
		for _, f := range n.Families {
			s.received, s.accepted, s.sent = s.received+f.Received, s.accepted+f.Accepted, s.sent+f.Sent
		}
		return s
	}
	return ceSession{}
}

// frrPeer is one session as FRR's `show bgp summary json` shows it.
type frrPeer struct {
	State  string `json:"state"`
	PfxRcd uint64 `json:"pfxRcd"`
	PfxSnt uint64 `json:"pfxSnt"`
}

// ceFRRPeer reads CE s's session with PE address pe from FRR.
func ceFRRPeer(t *testing.T, s *ceSite, pe string) frrPeer {
	t.Helper()
	out := vtysh(t, s.dir, "bgpd", "show bgp summary json")
	var sum map[string]struct {
		Peers map[string]frrPeer `json:"peers"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%s: FRR's summary: %v\n%s", s.name, err, out)
	}
	for _, af := range sum {
		if p, ok := af.Peers[pe]; ok {
			return p
		}
	}
	return frrPeer{}
}

// ceRoutes is the set of prefixes CE s's zebra has from BGP (`show ip
// route json`, `show ipv6 route json`): what it installed.
func ceRoutes(t *testing.T, s *ceSite) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for _, cmd := range []string{"show ip route json", "show ipv6 route json"} {
		out := vtysh(t, s.dir, "zebra", cmd)
		var rib map[string][]struct {
			Protocol  string `json:"protocol"`
			Installed bool   `json:"installed"`
		}
		if err := json.Unmarshal([]byte(out), &rib); err != nil {
			t.Fatalf("%s: zebra's %q: %v\n%s", s.name, cmd, err, out)
		}
		for p, rs := range rib {
			for _, r := range rs {
				if r.Protocol == "bgp" && r.Installed {
					got[p] = true
				}
			}
		}
	}
	return got
}

// vrfKernelRoutes is `ip [-6] route show vrf DEV` on ns, both families.
func vrfKernelRoutes(t *testing.T, ns netns.NsHandle, vrf string) string {
	t.Helper()
	return ipShow(t, ns, "-4", "route", "show", "vrf", vrf) + ipShow(t, ns, "-6", "route", "show", "vrf", vrf)
}

// ipShow runs iproute2's ip with args in ns, as ipIn does, and returns
// what it printed.
func ipShow(t *testing.T, ns netns.NsHandle, args ...string) string {
	t.Helper()
	var out []byte
	err := onThreadIn(ns, func() error {
		var err error
		out, err = exec.Command(ipBinary, args...).CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// vpnPrefixes lists the prefixes of a PE's VPNv4 and VPNv6 tables
// (GET /v1/bgp/vpnv4, /v1/bgp/vpnv6) with their RDs.
func vpnPrefixes(t *testing.T, sock string) []string {
	t.Helper()
	var all []string
	for _, fam := range []string{"vpnv4", "vpnv6"} {
		var paths []struct {
			RD     string `json:"rd"`
			Prefix string `json:"prefix"`
		}
		if err := json.Unmarshal(apiGet(t, sock, "/v1/bgp/"+fam), &paths); err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			all = append(all, p.RD+" "+p.Prefix)
		}
	}
	return all
}

// eventually retries check (which says what is wrong, or "" when all is
// well) for up to within, and fails the test with its last answer.
func eventually(t *testing.T, within time.Duration, what string, check func() string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if last = check(); last == "" {
			return
		}
	}
	t.Fatalf("%s: after %v: %s", what, within, last)
}

// TestKernelBackendCESessions: with the kernel backend on pe1 and the
// kernel or the userspace backend on pe2, each
// VRF's CE session comes up bound to the VRF's device, with the same CE
// addresses in red and blue; the CE's loopback becomes a kernel route
// via the CE in the VRF's table, reaches the far PE as a VPN route and
// the far CE as a BGP route zebra installs; loopbacks ping each other in
// both VRFs, both families, and never across VRFs; the counts each side
// shows agree. Shutting a CE session (FRR's `neighbor X shutdown`)
// withdraws its route from the PE's kernel table and from the far PE,
// and leaves the other VRF's session with the same CE address alone. A
// CE interface set down and up gets its CE routes back with the session
// still up.
func TestKernelBackendCESessions(t *testing.T) {
	requireFRR(t)
	for _, c := range []struct{ far, labelMode string }{
		{"kernel", "per-vrf"}, {"userspace", "per-vrf"}, {"kernel", "per-prefix"},
	} {
		t.Run("far-"+c.far+"/"+c.labelMode, func(t *testing.T) { testCESessions(t, c.far, c.labelMode) })
	}
}

// testCESessions is TestKernelBackendCESessions with pe2's backend
// farBackend (its kernel VRF tables are read only where that is kernel:
// the userspace backend's tables are its own) and both PEs' VRFs in
// labelMode: per-prefix gives each CE route a label that forwards to the
// CE without a lookup (ip -f mpls route ... via inet[6] CE dev CE-IF).
func testCESessions(t *testing.T, farBackend, labelMode string) {
	n := newTwoPEs(t)
	red1 := &ceSite{name: "red1", ns: n.red1, asn: 65101, addr4: "10.1.0.2", pe4: "10.1.0.1", pe6: "fd00:1::1", lo4: "172.16.1.1", lo6: "fd10:1::1"}
	blue1 := &ceSite{name: "blue1", ns: n.blue1, asn: 65101, addr4: "10.1.0.2", pe4: "10.1.0.1", pe6: "fd00:1::1", lo4: "172.17.1.1", lo6: "fd11:1::1"}
	red2 := &ceSite{name: "red2", ns: n.red2, asn: 65102, addr4: "10.2.0.2", pe4: "10.2.0.1", pe6: "fd00:2::1", lo4: "172.16.2.1", lo6: "fd10:2::1"}
	blue2 := &ceSite{name: "blue2", ns: n.blue2, asn: 65102, addr4: "10.2.0.2", pe4: "10.2.0.1", pe6: "fd00:2::1", lo4: "172.17.2.1", lo6: "fd11:2::1"}
	sites := []*ceSite{red1, blue1, red2, blue2}
	for _, s := range sites {
		frrCE(t, s)
	}
	defer func() {
		if t.Failed() {
			for _, s := range sites {
				for _, q := range []struct{ daemon, command string }{
					{"bgpd", "show bgp summary"}, {"bgpd", "show bgp ipv4 unicast"}, {"bgpd", "show bgp ipv6 unicast"},
					{"zebra", "show ip route"}, {"zebra", "show ipv6 route"},
				} {
					t.Logf("%s %s: %s:\n%s", s.name, q.daemon, q.command, vtysh(t, s.dir, q.daemon, q.command))
				}
			}
		}
	}()

	dir := t.TempDir()
	socks := map[string]string{"pe1": filepath.Join(dir, "pe1.sock"), "pe2": filepath.Join(dir, "pe2.sock")}
	peConfig := func(id, sock, peer string, site int, ce1, ce2 string, asn int, backend string) string {
		c := fmt.Sprintf(plainConfig, id, sock, peer, site, ce1, ce2, backend, "")
		for _, ce := range []string{ce1, ce2} {
			c = strings.Replace(c, "interfaces: ["+ce+"]}", fmt.Sprintf(
				"interfaces: [%s], label-mode: %s, neighbors: [{address: 10.%d.0.2, asn: %d}, {address: 'fd00:%d::2', asn: %d}]}",
				ce, labelMode, site, asn, site, asn), 1)
		}
		return c
	}
	startPeregrined(t, n.pe1, "pe1", peConfig("192.168.0.1", socks["pe1"], "192.168.0.2", 1, "ce1", "ce2", 65101, "kernel"))
	startPeregrined(t, n.pe2, "pe2", peConfig("192.168.0.2", socks["pe2"], "192.168.0.1", 2, "ce3", "ce4", 65102, farBackend))
	pes := []struct {
		name string
		ns   netns.NsHandle
		sock string
		site int
	}{{"pe1", n.pe1, socks["pe1"], 1}, {"pe2", n.pe2, socks["pe2"], 2}}

	// Sessions: Established on both sides, one prefix learned from each.
	for _, pe := range pes {
		for _, vrf := range []string{"red", "blue"} {
			for _, ce := range []string{fmt.Sprintf("10.%d.0.2", pe.site), fmt.Sprintf("fd00:%d::2", pe.site)} {
				eventually(t, 90*time.Second, fmt.Sprintf("%s vrf %s CE %s", pe.name, vrf, ce), func() string {
					if s := peCESession(t, pe.sock, vrf, ce); s.state != "established" || s.accepted != 1 {
						return fmt.Sprintf("show bgp vrf %s summary: %+v, want established with 1 prefix accepted", vrf, s)
					}
					return ""
				})
			}
		}
	}

	// The CE's loopback in the kernel VRF table, via the CE on its link;
	// none of the other VRF's.
	for _, c := range []struct {
		pe       netns.NsHandle
		pename   string
		vrf, dev string
		site     *ceSite
		other    *ceSite
		ceAddr6  string
	}{
		{n.pe1, "pe1", "red", "ce1", red1, blue1, "fd00:1::2"}, {n.pe1, "pe1", "blue", "ce2", blue1, red1, "fd00:1::2"},
		{n.pe2, "pe2", "red", "ce3", red2, blue2, "fd00:2::2"}, {n.pe2, "pe2", "blue", "ce4", blue2, red2, "fd00:2::2"},
	} {
		if c.pename == "pe2" && farBackend != "kernel" {
			continue
		}
		eventually(t, 30*time.Second, fmt.Sprintf("%s ip route show vrf vrf-%s", c.pename, c.vrf), func() string {
			routes := vrfKernelRoutes(t, c.pe, "vrf-"+c.vrf)
			for _, want := range []string{c.site.lo4 + " via " + c.site.addr4 + " dev " + c.dev, c.site.lo6 + " via " + c.ceAddr6 + " dev " + c.dev} {
				if !strings.Contains(routes, want) {
					return fmt.Sprintf("no %q in:\n%s", want, routes)
				}
			}
			if strings.Contains(routes, c.other.lo4) || strings.Contains(routes, c.other.lo6) {
				return fmt.Sprintf("the other VRF's loopback (%s, %s) in:\n%s", c.other.lo4, c.other.lo6, routes)
			}
			return ""
		})
	}

	// Each PE's CE routes are in the other's VPN tables, under the RD of
	// the VRF they were learned in.
	for _, c := range []struct {
		at   string
		want []string
	}{
		{"pe2", []string{"65000:11 172.16.1.1/32", "65000:11 fd10:1::1/128", "65000:12 172.17.1.1/32", "65000:12 fd11:1::1/128"}},
		{"pe1", []string{"65000:21 172.16.2.1/32", "65000:21 fd10:2::1/128", "65000:22 172.17.2.1/32", "65000:22 fd11:2::1/128"}},
	} {
		eventually(t, 30*time.Second, c.at+" VPN tables", func() string {
			vpn := vpnPrefixes(t, socks[c.at])
			for _, w := range c.want {
				if !slices.Contains(vpn, w) {
					return fmt.Sprintf("no %q in %v", w, vpn)
				}
			}
			return ""
		})
	}

	// Per prefix, the label pe1 advertises for a CE's loopback pops
	// straight to that CE: ip -f mpls route shows LABEL via inet[6] CE
	// dev CE-IF.
	if labelMode == "per-prefix" {
		mplsRoutes := ipShow(t, n.pe1, "-f", "mpls", "route", "show")
		for _, c := range []struct{ rd, prefix, via string }{
			{"65000:11", "172.16.1.1/32", "via inet 10.1.0.2 dev ce1"}, {"65000:11", "fd10:1::1/128", "via inet6 fd00:1::2 dev ce1"},
			{"65000:12", "172.17.1.1/32", "via inet 10.1.0.2 dev ce2"}, {"65000:12", "fd11:1::1/128", "via inet6 fd00:1::2 dev ce2"},
		} {
			label := peregrineLabels(t, socks["pe1"], c.prefix)[c.rd]
			if want := fmt.Sprintf("%d %s", label, c.via); label < 16 || !strings.Contains(mplsRoutes, want) {
				t.Errorf("pe1 %s %s: label %d; no %q in ip -f mpls route:\n%s", c.rd, c.prefix, label, want, mplsRoutes)
			}
		}
	}

	// Each CE installed the far site's loopback, and never the other
	// VRF's.
	far := map[*ceSite]*ceSite{red1: red2, red2: red1, blue1: blue2, blue2: blue1}
	otherVRF := map[*ceSite][]*ceSite{red1: {blue1, blue2}, red2: {blue1, blue2}, blue1: {red1, red2}, blue2: {red1, red2}}
	for _, s := range sites {
		eventually(t, 30*time.Second, s.name+" show ip route json", func() string {
			got := ceRoutes(t, s)
			for _, want := range []string{far[s].lo4 + "/32", far[s].lo6 + "/128"} {
				if !got[want] {
					return fmt.Sprintf("no BGP route %s installed; BGP routes: %v", want, got)
				}
			}
			for _, o := range otherVRF[s] {
				if got[o.lo4+"/32"] || got[o.lo6+"/128"] {
					return fmt.Sprintf("the other VRF's %s (%s, %s) installed: %v", o.name, o.lo4, o.lo6, got)
				}
			}
			return ""
		})
	}

	// Loopback to loopback, both VRFs, both directions, both families.
	for i, s := range sites {
		for j, fam := range []struct{ src, dst string }{{s.lo4, far[s].lo4}, {s.lo6, far[s].lo6}} {
			id := uint16(300 + 2*i + j)
			eventually(t, 30*time.Second, fmt.Sprintf("%s ping %s from %s", s.name, fam.dst, fam.src), func() string {
				if err := pingFrom(s.ns, netip.MustParseAddr(fam.src), fam.dst, id); err != nil {
					return err.Error()
				}
				return ""
			})
		}
	}

	// Isolation in the data plane too: red1 sends toward blue2's
	// loopback through its PE (a static route the VPN never gave it); red's
	// table has no such route and nothing answers.
	ipIn(t, red1.ns, "route", "add", "172.17.0.0/16", "via", red1.pe4)
	if err := pingFrom(red1.ns, netip.MustParseAddr(red1.lo4), blue2.lo4, 320); err == nil {
		t.Errorf("red1 (%s) reached blue2's loopback %s through vrf red", red1.lo4, blue2.lo4)
	}

	// Counts: what each PE sent a CE is what the CE received, and the
	// other way round.
	for _, pe := range pes {
		for _, c := range []struct {
			vrf  string
			site *ceSite
		}{{"red", red1}, {"blue", blue1}, {"red", red2}, {"blue", blue2}} {
			if (pe.site == 1) != (c.site == red1 || c.site == blue1) {
				continue
			}
			for _, addrs := range [][2]string{{c.site.addr4, c.site.pe4}, {fmt.Sprintf("fd00:%d::2", pe.site), c.site.pe6}} {
				ours, theirs := peCESession(t, pe.sock, c.vrf, addrs[0]), ceFRRPeer(t, c.site, addrs[1])
				t.Logf("%s vrf %s CE %s: Peregrine %+v, FRR %+v", pe.name, c.vrf, addrs[0], ours, theirs)
				if theirs.State != "Established" || ours.sent == 0 || ours.sent != theirs.PfxRcd || ours.received != theirs.PfxSnt {
					t.Errorf("%s vrf %s CE %s: Peregrine sent %d, received %d; FRR (%s) received %d, sent %d: want them equal",
						pe.name, c.vrf, addrs[0], ours.sent, ours.received, theirs.State, theirs.PfxRcd, theirs.PfxSnt)
				}
			}
		}
	}

	// Withdraw: red1 shuts its sessions, IPv4 then IPv6. Its loopback
	// leaves pe1's red table, pe2's VPN tables and red2; blue1, with the
	// same CE address, keeps its sessions, routes and pings.
	for _, w := range []struct {
		neighbor, ce, lo, bits string
	}{{red1.pe4, red1.addr4, red1.lo4, "/32"}, {red1.pe6, "fd00:1::2", red1.lo6, "/128"}} {
		if out := vtyCommands(red1.dir, "bgpd", "enable", "configure terminal", "router bgp 65101", "neighbor "+w.neighbor+" shutdown", "end"); strings.Contains(out, "%") {
			t.Fatalf("red1: neighbor %s shutdown: %s", w.neighbor, out)
		}
		eventually(t, 30*time.Second, "withdrawal of "+w.lo, func() string {
			if s := peCESession(t, socks["pe1"], "red", w.ce); s.state == "established" {
				return fmt.Sprintf("pe1 vrf red CE %s still %+v", w.ce, s)
			}
			if routes := vrfKernelRoutes(t, n.pe1, "vrf-red"); strings.Contains(routes, w.lo+" ") {
				return fmt.Sprintf("pe1 vrf-red still routes %s:\n%s", w.lo, routes)
			}
			if vpn := vpnPrefixes(t, socks["pe2"]); slices.Contains(vpn, "65000:11 "+w.lo+w.bits) {
				return fmt.Sprintf("pe2 still has the VPN route 65000:11 %s%s: %v", w.lo, w.bits, vpn)
			}
			if got := ceRoutes(t, red2); got[w.lo+w.bits] {
				return fmt.Sprintf("red2 still has %s%s", w.lo, w.bits)
			}
			return ""
		})
		if s := peCESession(t, socks["pe1"], "blue", w.ce); s.state != "established" || s.accepted != 1 {
			t.Errorf("pe1 vrf blue CE %s after red1 shut its session: %+v, want established with 1 prefix", w.ce, s)
		}
	}
	routes := vrfKernelRoutes(t, n.pe1, "vrf-blue")
	for _, want := range []string{blue1.lo4 + " via 10.1.0.2 dev ce2", blue1.lo6 + " via fd00:1::2 dev ce2"} {
		if !strings.Contains(routes, want) {
			t.Errorf("pe1 vrf-blue lost %q after red1's shutdown:\n%s", want, routes)
		}
	}
	for i, fam := range []struct{ src, dst string }{{blue1.lo4, blue2.lo4}, {blue1.lo6, blue2.lo6}} {
		if err := pingFrom(blue1.ns, netip.MustParseAddr(fam.src), fam.dst, uint16(330+i)); err != nil {
			t.Errorf("blue1 %s -> %s after red1's shutdown: %v", fam.src, fam.dst, err)
		}
	}

	// A CE link set down and up again: Linux drops every route through
	// a device set down, Peregrine's CE routes in vrf-blue too. The
	// sessions outlive the flap (the CEs have no fast-external-failover,
	// as a CE behind a switch sees no carrier loss), so no BGP update
	// brings the routes back, and keep_addr_on_down keeps even the IPv6
	// address events away: Peregrine must notice the link itself
	// (fib.WatchLinksUp).
	before := peCESession(t, socks["pe1"], "blue", blue1.addr4)
	if err := onThreadIn(n.pe1, func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/ce2/keep_addr_on_down", []byte("1\n"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	ipIn(t, n.pe1, "link", "set", "ce2", "down")
	time.Sleep(time.Second)
	ipIn(t, n.pe1, "link", "set", "ce2", "up")
	eventually(t, 30*time.Second, "pe1 vrf-blue after ce2 went down and up", func() string {
		want := blue1.lo4 + " via 10.1.0.2 dev ce2"
		if routes := vrfKernelRoutes(t, n.pe1, "vrf-blue"); !strings.Contains(routes, want) {
			return fmt.Sprintf("no %q in:\n%s", want, routes)
		}
		if err := pingFrom(blue1.ns, netip.MustParseAddr(blue1.lo4), blue2.lo4, 340); err != nil {
			return err.Error()
		}
		return ""
	})
	if after := peCESession(t, socks["pe1"], "blue", blue1.addr4); after.state != "established" || after.flaps != before.flaps {
		t.Errorf("pe1 vrf blue CE %s: %+v before the link flap, %+v after: want the session to have stayed up", blue1.addr4, before, after)
	}
}
