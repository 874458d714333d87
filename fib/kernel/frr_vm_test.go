package kernel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// FRR 8.4 (Debian's zebra, staticd and bgpd, copied into the VM by
// labs/vm) as another vendor's PE with the kernel's MPLS and VRF devices,
// Peregrine as the near PE, plain MPLS between them (each declares the
// other unprotected):
//
//	red1  ─ ce1 ┐                                         ┌ red (VRF dev, table 10)  ce3 ─ red2
//	blue1 ─ ce2 ┤ pe1 peregrined  core ══════ core  pe2 FRR ┤
//	            │ 192.168.0.1          192.168.0.2          └ blue (table 20)          ce4 ─ blue2
//
// Both VRFs use the same CE addresses (10.1.0.0/24 and fd00:1::/64 at
// site 1, 10.2.0.0/24 and fd00:2::/64 at site 2). The session is eBGP
// (AS 65000 to 65002) or iBGP (65000), directly, through an FRR route
// reflector or across a P router (frr_cases_vm_test.go draws those).
//
// What FRR 8.4 needs, found in its source (tag frr-8.4.4):
//   - A VPN route goes into a VRF only if its next hop is valid for MPLS
//     (bgp_nht.c, bgp_isvalid_nexthop_for_mpls): resolved through a route
//     with a label (BGP_NEXTHOP_LABELED_VALID, normally LDP's), or a
//     connected single-hop eBGP peer on an interface with "mpls bgp
//     forwarding". With no LDP here, iBGP takes a staticd route to
//     Peregrine carrying a label: implicit-null where Peregrine is
//     connected, the transport label toward it across a P router.
//   - Over an IPv4 session FRR sends a VPNv6 next hop from the
//     interface's IPv6 addresses (bgp_zebra.c, bgp_zebra_nexthop_set):
//     with no global one, the link-local address, as global and as
//     link-local (bgp_updgrp_packet.c). Peregrine cannot reach a remote
//     PE at a link-local address and drops those routes. An outbound
//     route map sets the global next hop to FRR's IPv4-mapped address
//     (RFC 4659 6VPE).
//   - FRR installs a VPNv6 route from Peregrine (next hop ::ffff:PE1) as
//     a kernel nexthop whose IPv6 gateway is that mapped address, not
//     onlink: Linux refuses it ("No route to host") unless the mapped
//     address has a route. The test gives pe2 what Peregrine's kernel
//     backend makes for itself: an on-link route and a permanent
//     neighbour entry for ::ffff:PE1 with the MAC of the next hop toward
//     it (no PE answers neighbour discovery for a mapped address; whether
//     this kernel would take the MAC from ARP instead was not tried).
//   - FRR 8.4 allocates one label per VRF and address family ("label vpn
//     export auto"): per-prefix labels on FRR's side need FRR 9.0's
//     allocation-mode per-nexthop, so only Peregrine varies its mode.
//     Tried on FRR 8.4.4's bgpd (Debian 12's, the one labs/vm copies),
//     under "router bgp 65002 vrf red" / "address-family ipv4 unicast":
//     "label vpn export allocation-mode per-nexthop" and "label vpn
//     export per-nexthop" both get "% [BGP] Unknown command", and "find
//     label vpn" lists only "[no] label vpn export <(0-1048575)|auto>"
//     (ipv4 and ipv6 unicast). The reverse, a far PE with a label per
//     prefix, is gobgpd's in farpe_perprefix_vm_test.go.

// frrPEConf is FRR pe2's BGP: its AS and address, its one neighbor
// (Peregrine, or the route reflector), and what leads to Peregrine.
type frrPEConf struct {
	asn, neighborASN int
	local, neighbor  string
	// static is staticd's route to Peregrine with a label ("" for
	// none): what makes its next hop valid for an iBGP VPN route.
	static string
	// peregrine is pe1's address, the next hop of its routes; toward it
	// frames go to the MAC of gwIf in gwNS (pe1's core or P's p2).
	peregrine string
	gwNS      netns.NsHandle
	gwIf      string
	// neighbor6 and local6, if set, are an IPv6 session for VPNv6
	// alone (the IPv4 one then carries VPNv4 alone), and static6 the
	// labelled IPv6 route toward Peregrine's IPv6 next hop.
	neighbor6, local6, static6 string
	// nextHopIn, if set, replaces the next hop of Peregrine's VPNv4
	// routes (an inbound route map): Peregrine's loopback, to which
	// static can carry a label (see newFRRSetup, ibgp).
	nextHopIn string
	// nextHopIn6 is the same for VPNv6 on the IPv6 session.
	nextHopIn6 string
}

const frrBGPConf = `hostname frr-pe2
log file %[1]s/bgpd.log
!
interface core
 mpls bgp forwarding
exit
!
router bgp %[2]d
 bgp router-id %[3]s
 no bgp default ipv4-unicast
 no bgp ebgp-requires-policy
 neighbor %[4]s remote-as %[5]d
 neighbor %[4]s update-source %[3]s
%[8]s address-family ipv4 vpn
  neighbor %[4]s activate
%[7]s exit-address-family
%[9]sexit
!
route-map NEXTHOP6 permit 10
 set ipv6 next-hop global ::ffff:%[3]s
exit
!
%[6]s`

const frrVRFConf = `router bgp %[4]d vrf %[1]s
 bgp router-id %[5]s
 address-family ipv4 unicast
  redistribute connected
  label vpn export auto
  rd vpn export 65000:%[2]d
  rt vpn both 65000:%[3]d
  export vpn
  import vpn
 exit-address-family
 address-family ipv6 unicast
  redistribute connected
  label vpn export auto
  rd vpn export 65000:%[2]d
  rt vpn both 65000:%[3]d
  export vpn
  import vpn
 exit-address-family
exit
!
`

// requireFRR skips outside the VM or without FRR in it.
func requireFRR(t *testing.T) {
	t.Helper()
	requirePeregrined(t)
	for _, d := range []string{"zebra", "staticd", "bgpd"} {
		if _, err := os.Stat("/usr/lib/frr/" + d); err != nil {
			t.Skipf("FRR's %s is not in the VM (labs/vm copies it from a host with Debian's frr package)", d)
		}
	}
}

// frrPE makes ns (pe2, with ce3, ce4 and core) an FRR PE: the far PE's
// kernel (farPEKernel) and zebra, staticd and bgpd running as c says. It
// returns the directory with their sockets and logs.
func frrPE(t *testing.T, ns netns.NsHandle, c frrPEConf) string {
	t.Helper()
	farPEKernel(t, ns, c.peregrine, c.gwNS, c.gwIf)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zconf := write("zebra.conf", fmt.Sprintf("hostname frr-pe2-zebra\nlog file %s/zebra.log\n", dir))
	sconf := write("staticd.conf", fmt.Sprintf("hostname frr-pe2-staticd\nlog file %s/staticd.log\n", dir))
	vrfs := fmt.Sprintf(frrVRFConf, "red", 21, 1, c.asn, c.local) + fmt.Sprintf(frrVRFConf, "blue", 22, 2, c.asn, c.local)
	in4 := ""
	if c.nextHopIn != "" {
		in4 = fmt.Sprintf("  neighbor %s route-map NEXTHOP4IN in\n", c.neighbor)
		vrfs = fmt.Sprintf("route-map NEXTHOP4IN permit 10\n set ip next-hop %s\n set ipv4 vpn next-hop %s\nexit\n!\n", c.nextHopIn, c.nextHopIn) + vrfs
	}
	// VPNv6 over the IPv4 session, 6VPE, or over its own IPv6 session.
	neighbor6 := ""
	af6 := fmt.Sprintf(" address-family ipv6 vpn\n  neighbor %[1]s activate\n  neighbor %[1]s route-map NEXTHOP6 out\n exit-address-family\n", c.neighbor)
	if c.neighbor6 != "" {
		neighbor6 = fmt.Sprintf(" neighbor %s remote-as %d\n neighbor %s update-source %s\n", c.neighbor6, c.neighborASN, c.neighbor6, c.local6)
		in6 := ""
		if c.nextHopIn6 != "" {
			in6 = fmt.Sprintf("  neighbor %s route-map NEXTHOP6IN in\n", c.neighbor6)
			vrfs = fmt.Sprintf("route-map NEXTHOP6IN permit 10\n set ipv6 next-hop global %s\n set ipv6 vpn next-hop global %s\nexit\n!\n", c.nextHopIn6, c.nextHopIn6) + vrfs
		}
		af6 = fmt.Sprintf(" address-family ipv6 vpn\n  neighbor %s activate\n%s exit-address-family\n", c.neighbor6, in6)
	}
	bconf := write("bgpd.conf", fmt.Sprintf(frrBGPConf, dir, c.asn, c.local, c.neighbor, c.neighborASN, vrfs, in4, neighbor6, af6))
	common := []string{"-u", "root", "-g", "root", "-z", filepath.Join(dir, "zserv.api"), "--vty_socket", dir}
	startFRRDaemon(t, ns, dir, "zebra", append(common, "-i", filepath.Join(dir, "zebra.pid"), "-f", zconf)...)
	time.Sleep(time.Second) // staticd and bgpd connect to zebra's socket
	startFRRDaemon(t, ns, dir, "staticd", append(common, "-i", filepath.Join(dir, "staticd.pid"), "-f", sconf)...)
	startFRRDaemon(t, ns, dir, "bgpd", append(common, "-i", filepath.Join(dir, "bgpd.pid"), "-f", bconf)...)
	for _, r := range []string{c.static, c.static6} {
		if r != "" {
			frrStatic(t, dir, r)
		}
	}
	return dir
}

// farPEKernel makes ns (pe2, with ce3, ce4 and core) the kernel of a far
// PE that is not Peregrine: VRF devices red (table 10) with ce3 and blue
// (table 20) with ce4, MPLS input on core, forwarding, and an on-link
// route and a permanent neighbour entry for Peregrine's IPv4-mapped
// address ::ffff:PEREGRINE with the MAC of gwIf in gwNS (the next hop
// toward it), so that IPv6 routes can lead to that address (see above).
func farPEKernel(t *testing.T, ns netns.NsHandle, peregrine string, gwNS netns.NsHandle, gwIf string) {
	t.Helper()
	h := handle(t, ns)
	err := onThreadIn(ns, func() error {
		for _, k := range []string{"net/mpls/platform_labels=1048575", "net/mpls/conf/core/input=1", "net/ipv4/ip_forward=1",
			"net/ipv6/conf/all/forwarding=1", "net/ipv6/conf/ce3/keep_addr_on_down=1", "net/ipv6/conf/ce4/keep_addr_on_down=1"} {
			kv := strings.SplitN(k, "=", 2)
			if err := os.WriteFile("/proc/sys/"+kv[0], []byte(kv[1]+"\n"), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		name, ce string
		table    uint32
	}{{"red", "ce3", 10}, {"blue", "ce4", 20}} {
		if err := h.LinkAdd(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: v.name}, Table: v.table}); err != nil {
			t.Fatal(err)
		}
		vl, _ := h.LinkByName(v.name)
		cl, _ := h.LinkByName(v.ce)
		if err := h.LinkSetUp(vl); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetMaster(cl, vl); err != nil {
			t.Fatal(err)
		}
	}
	gw, err := handle(t, gwNS).LinkByName(gwIf)
	if err != nil {
		t.Fatal(err)
	}
	mapped := "::ffff:" + peregrine
	ipIn(t, ns, "-6", "route", "replace", mapped+"/128", "dev", "core")
	ipIn(t, ns, "-6", "neigh", "replace", mapped, "lladdr", gw.Attrs().HardwareAddr.String(), "dev", "core", "nud", "permanent")
}

// frrStatic configures staticd's route with a label once staticd has
// heard from zebra that the kernel has MPLS (from a configuration file
// read before that it refuses the label: "MPLS not turned on in kernel
// ignoring static route") and waits for zebra to select it. Under
// emulation on a loaded host zebra took over 30 s to hear of MPLS.
func frrStatic(t *testing.T, dir, route string) {
	t.Helper()
	fields := strings.Fields(route) // "ip route PREFIX ..." or "ipv6 route PREFIX ..."
	prefix := fields[2]
	var out, rib string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		out = vtyCommands(dir, "staticd", "enable", "configure terminal", route, "end")
		rib = vtysh(t, dir, "zebra", "show "+fields[0]+" route "+prefix)
		if strings.Contains(rib, "label") {
			return
		}
	}
	t.Fatalf("FRR: %q not in zebra's RIB with its label: staticd said %q; zebra:\n%s", route, out, rib)
}

// frrRRConf is an FRR route reflector (bgpd alone, no zebra: it forwards
// nothing) for VPNv4 and VPNv6 with each client.
const frrRRConf = `hostname frr-rr
log file %[1]s/bgpd.log
!
router bgp 65000
 bgp router-id %[2]s
 no bgp default ipv4-unicast
%[3]s exit
!
`

// frrRRAddress6 is the route reflector's IPv6 address, the source of
// its IPv6 sessions.
const frrRRAddress6 = "fd00:c9::2"

// frrRR runs an FRR route reflector in ns at address, with clients for
// VPNv4 (clients4) and VPNv6 (clients6; the same addresses, or the
// clients' IPv6 ones for sessions of their own).
func frrRR(t *testing.T, ns netns.NsHandle, address string, clients4, clients6 []string) string {
	t.Helper()
	var b strings.Builder
	seen := map[string]bool{}
	for _, c := range slices.Concat(clients4, clients6) {
		if !seen[c] {
			seen[c] = true
			fmt.Fprintf(&b, " neighbor %s remote-as 65000\n", c)
			if netip.MustParseAddr(c).Is6() {
				fmt.Fprintf(&b, " neighbor %s update-source %s\n", c, frrRRAddress6)
			}
		}
	}
	for _, af := range []struct {
		name    string
		clients []string
	}{{"ipv4 vpn", clients4}, {"ipv6 vpn", clients6}} {
		fmt.Fprintf(&b, " address-family %s\n", af.name)
		for _, c := range af.clients {
			fmt.Fprintf(&b, "  neighbor %s activate\n  neighbor %s route-reflector-client\n", c, c)
		}
		b.WriteString(" exit-address-family\n")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "bgpd.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(frrRRConf, dir, address, b.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	startFRRDaemon(t, ns, dir, "bgpd", "-Z", "-u", "root", "-g", "root", "--vty_socket", dir, "-i", filepath.Join(dir, "bgpd.pid"), "-f", conf)
	return dir
}

func startFRRDaemon(t *testing.T, ns netns.NsHandle, dir, name string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/lib/frr/"+name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := onThreadIn(ns, cmd.Start); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			for _, f := range []string{name + ".out", name + ".log"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				t.Logf("--- FRR %s ---\n%s", f, b)
			}
		}
	})
}

// vtysh runs one show command on FRR daemon (zebra, staticd or bgpd) of
// dir and returns its output.
func vtysh(t *testing.T, dir, daemon, command string) string {
	t.Helper()
	return vtyCommands(dir, daemon, command)
}

// vtyCommands runs commands in turn in one session with FRR daemon of
// dir, speaking its vty socket as vtysh does (vtysh itself needs PAM,
// which the VM lacks): each command and a NUL, then its output up to
// three NULs and a status byte. It returns the outputs joined.
func vtyCommands(dir, daemon string, commands ...string) string {
	c, err := net.DialTimeout("unix", filepath.Join(dir, daemon+".vty"), 2*time.Second)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var all strings.Builder
	buf := make([]byte, 65536)
	for _, command := range commands {
		if _, err := c.Write([]byte(command + "\x00")); err != nil {
			return all.String() + err.Error()
		}
		var out []byte
		for {
			n, err := c.Read(buf)
			out = append(out, buf[:n]...)
			if i := bytes.Index(out, []byte{0, 0, 0}); i >= 0 && len(out) >= i+4 {
				all.Write(out[:i])
				break
			}
			if err != nil {
				return all.String() + string(out) + err.Error()
			}
		}
	}
	return all.String()
}

// frrLabels reads the labels FRR advertises for prefix, by RD, from
// `show bgp ipv4|ipv6 vpn PREFIX json` (remoteLabel of each path).
func frrLabels(t *testing.T, dir, prefix string) map[string]int {
	t.Helper()
	family := "ipv4"
	if netip.MustParsePrefix(prefix).Addr().Is6() {
		family = "ipv6"
	}
	out := vtysh(t, dir, "bgpd", "show bgp "+family+" vpn "+prefix+" json")
	var byRD map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &byRD); err != nil {
		t.Fatalf("FRR's JSON: %v\n%s", err, out)
	}
	labels := map[string]int{}
	for rd, raw := range byRD {
		var entry struct {
			Paths []struct {
				RemoteLabel *int `json:"remoteLabel"`
			} `json:"paths"`
		}
		if json.Unmarshal(raw, &entry) != nil {
			continue // not an RD's entry
		}
		for _, p := range entry.Paths {
			if p.RemoteLabel != nil {
				labels[rd] = *p.RemoteLabel
			}
		}
	}
	return labels
}

// frrNextHops6 lists the next hops of FRR's paths for the VPNv6 prefix
// (`show bgp ipv6 vpn PREFIX json`, paths' nexthops), by RD.
func frrNextHops6(t *testing.T, dir, prefix string) map[string][]string {
	t.Helper()
	out := vtysh(t, dir, "bgpd", "show bgp ipv6 vpn "+prefix+" json")
	var byRD map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &byRD); err != nil {
		t.Fatalf("FRR's JSON: %v\n%s", err, out)
	}
	hops := map[string][]string{}
	for rd, raw := range byRD {
		var entry struct {
			Paths []struct {
				NextHops []struct {
					IP    string `json:"ip"`
					Scope string `json:"scope"`
				} `json:"nexthops"`
			} `json:"paths"`
		}
		if json.Unmarshal(raw, &entry) != nil {
			continue // not an RD's entry
		}
		for _, p := range entry.Paths {
			for _, h := range p.NextHops {
				if h.Scope != "link-local" {
					hops[rd] = append(hops[rd], h.IP)
				}
			}
		}
	}
	return hops
}

// peregrineNextHops6 lists the next hops of the VPNv6 paths Peregrine
// learned for prefix, by RD, from its API (/v1/bgp/vpnv6).
func peregrineNextHops6(t *testing.T, sock, prefix string) map[string][]string {
	t.Helper()
	var paths []struct {
		RD      string `json:"rd"`
		Prefix  string `json:"prefix"`
		NextHop string `json:"next-hop"`
		Local   bool   `json:"local"`
	}
	if err := json.Unmarshal(apiGet(t, sock, "/v1/bgp/vpnv6"), &paths); err != nil {
		t.Fatal(err)
	}
	hops := map[string][]string{}
	for _, p := range paths {
		if !p.Local && p.Prefix == prefix {
			hops[p.RD] = append(hops[p.RD], p.NextHop)
		}
	}
	return hops
}

// remotePEProtection is the protection `peregrine show vrf` gives remote
// PE pe in VRF red, from the API (/v1/vrfs).
func remotePEProtection(t *testing.T, sock, pe string) string {
	t.Helper()
	var vrfs []struct {
		Name      string `json:"name"`
		RemotePEs []struct {
			Address    string `json:"address"`
			Protection string `json:"protection"`
		} `json:"remote-pes"`
	}
	if err := json.Unmarshal(apiGet(t, sock, "/v1/vrfs"), &vrfs); err != nil {
		t.Fatal(err)
	}
	for _, v := range vrfs {
		for _, p := range v.RemotePEs {
			if v.Name == "red" && p.Address == pe {
				return p.Protection
			}
		}
	}
	return ""
}

// peregrineLabels reads the labels Peregrine advertises for prefix, by RD,
// from its API's VPNv4 or VPNv6 table (its own paths).
func peregrineLabels(t *testing.T, sock, prefix string) map[string]int {
	t.Helper()
	var paths []struct {
		RD     string `json:"rd"`
		Prefix string `json:"prefix"`
		Label  int    `json:"label"`
		Local  bool   `json:"local"`
	}
	family := "vpnv4"
	if netip.MustParsePrefix(prefix).Addr().Is6() {
		family = "vpnv6"
	}
	if err := json.Unmarshal(apiGet(t, sock, "/v1/bgp/"+family), &paths); err != nil {
		t.Fatal(err)
	}
	labels := map[string]int{}
	for _, p := range paths {
		if p.Local && p.Prefix == prefix {
			labels[p.RD] = p.Label
		}
	}
	return labels
}

// ipIn runs iproute2's ip (labs/vm copies it into the VM) with args in
// ns: netlink's Go package takes an IPv4-mapped address for IPv4.
func ipIn(t *testing.T, ns netns.NsHandle, args ...string) {
	t.Helper()
	ipShow(t, ns, args...)
}
