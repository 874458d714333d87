package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// A far PE that allocates a label per prefix, which FRR 8.4 cannot be
// (frr_vm_test.go): gobgpd (GoBGP 3.37.0's daemon and CLI from bin/tools,
// copied into the VM by labs/vm) advertises VPNv4 and VPNv6 routes, each
// prefix with its own label, and the test programs pe2's kernel MPLS for
// exactly those labels, as a per-prefix PE's LFIB is: some pop and look
// up in the VRF, some pop and forward straight to the CE. Peregrine, the
// near PE, takes the routes from gobgpd over iBGP (AS 65000) between
// connected PEs and allocates per VRF ("the reverse" of TestFRRFarPE's
// per-prefix Peregrine against per-VRF FRR) or per prefix. Toward
// Peregrine, pe2's VRF routes carry the labels gobgpd learned from it.
//
//	red1  ─ ce1 ┐                                           ┌ red (table 10)  ce3 ─ red2  10.2.0.2, 10.22.0.2
//	blue1 ─ ce2 ┤ pe1 peregrined  core ═══ core  pe2 gobgpd  ┤
//	            │ 192.168.0.1            192.168.0.2         └ blue (table 20) ce4 ─ blue2 (the same)
//
// Site 2's CEs answer on a second prefix each, 10.22.0.0/24 and
// fd00:22::/64 (addresses on their loopback), which pe2's VRF tables do
// not route: only its own label leads there.

// farPERoute is one of gobgpd's VPN routes and pe2's MPLS route for its
// label.
type farPERoute struct {
	vrf, rd, rt string
	prefix      string
	host        string // an address of the prefix a CE answers on
	label       int
	lfib        []string // `ip -f mpls route replace LABEL` and these
}

// farPERoutes are gobgpd's routes: a label per prefix, per VRF, per family.
func farPERoutes() []farPERoute {
	var out []farPERoute
	label := 2001
	for _, v := range []struct{ name, rd, rt, ce string }{{"red", "65000:21", "65000:1", "ce3"}, {"blue", "65000:22", "65000:2", "ce4"}} {
		for _, p := range []struct {
			prefix, host string
			lfib         []string
		}{
			{"10.2.0.0/24", "10.2.0.2", []string{"dev", v.name}},
			{"10.22.0.0/24", "10.22.0.2", []string{"via", "inet", "10.2.0.2", "dev", v.ce}},
			{"fd00:2::/64", "fd00:2::2", []string{"dev", v.name}},
			{"fd00:22::/64", "fd00:22::2", []string{"via", "inet6", "fd00:2::2", "dev", v.ce}},
		} {
			out = append(out, farPERoute{vrf: v.name, rd: v.rd, rt: v.rt, prefix: p.prefix, host: p.host, label: label, lfib: p.lfib})
			label++
		}
	}
	return out
}

// goBGPFarPEConf is gobgpd's configuration: iBGP with Peregrine, VPNv4
// and VPNv6.
const goBGPFarPEConf = `[global.config]
  as = 65000
  router-id = "192.168.0.2"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.168.0.1"
    peer-as = 65000
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
  [neighbors.transport.config]
    local-address = "192.168.0.2"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv6-unicast"
`

// requireGoBGP skips outside the VM or without gobgpd and gobgp in it.
func requireGoBGP(t *testing.T) {
	t.Helper()
	requirePeregrined(t)
	for _, p := range []string{"gobgpd", "gobgp"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("GoBGP's %s is not in the VM (labs/vm copies bin/tools/%s: make tools)", p, p)
		}
	}
}

// goBGPFarPE runs gobgpd in ns with goBGPFarPEConf and returns a function
// running the gobgp CLI against it (in ns too: the API listens on ns's
// loopback).
func goBGPFarPE(t *testing.T, ns netns.NsHandle) func(args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "gobgpd.toml")
	if err := os.WriteFile(conf, []byte(goBGPFarPEConf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "gobgpd.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gobgpd", "-f", conf, "--config-strict", "-p", "--pprof-disable", "--api-hosts", "127.0.0.1:50051")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := onThreadIn(ns, cmd.Start); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- gobgpd ---\n%s", b)
		}
	})
	cli := func(args ...string) (string, error) {
		var out []byte
		err := onThreadIn(ns, func() error {
			var err error
			out, err = exec.Command("gobgp", append([]string{"-u", "127.0.0.1", "-p", "50051"}, args...)...).CombinedOutput()
			return err
		})
		return string(out), err
	}
	eventually(t, 10*time.Second, "gobgpd's API", func() string {
		if out, err := cli("global"); err != nil {
			return fmt.Sprintf("%v: %s", err, out)
		}
		return ""
	})
	return cli
}

// TestPerPrefixFarPE: Peregrine (userspace and kernel backends, per-VRF
// and per-prefix labels) against gobgpd and pe2's kernel as a far PE with
// a label per prefix (see above): the CEs ping across, both VRFs with the
// same addresses, IPv4 and IPv6, both directions; toward the far PE each
// prefix's packets carry that prefix's own label as gobgpd advertised it,
// toward Peregrine the label gobgpd learned from it. Then receive-side
// label semantics with real frames from another kernel's MPLS: the far PE
// sends red's traffic under an explicit null (IPv4: 0, IPv6: 2) above the
// VPN label, which Peregrine accepts (the kernel backend pops it with a
// tc filter, which iproute2's tc reads back), and blue's with a label
// below the VPN label, which Peregrine drops (nothing reaches blue1; the
// kernel counts it on vrf-blue).
func TestPerPrefixFarPE(t *testing.T) {
	requireGoBGP(t)
	for _, c := range []struct{ name, backend, labelMode string }{
		{"userspace", "userspace", "per-vrf"},
		{"kernel", "kernel", "per-vrf"},
		{"userspace-per-prefix", "userspace", "per-prefix"},
		{"kernel-per-prefix", "kernel", "per-prefix"},
	} {
		t.Run(c.name, func(t *testing.T) { testPerPrefixFarPE(t, c.backend, c.labelMode) })
	}
}

func testPerPrefixFarPE(t *testing.T, backend, labelMode string) {
	n := newTwoPEs(t)
	farPEKernel(t, n.pe2, "192.168.0.1", n.pe1, "core")
	for _, ce := range []netns.NsHandle{n.red2, n.blue2} {
		ipIn(t, ce, "link", "set", "lo", "up")
		ipIn(t, ce, "addr", "add", "10.22.0.2/32", "dev", "lo")
		ipIn(t, ce, "-6", "addr", "add", "fd00:22::2/128", "dev", "lo", "nodad")
	}
	routes := farPERoutes()
	for _, r := range routes {
		ipIn(t, n.pe2, append([]string{"-f", "mpls", "route", "replace", strconv.Itoa(r.label)}, r.lfib...)...)
	}
	gobgp := goBGPFarPE(t, n.pe2)
	for _, r := range routes {
		family, nextHop := "vpnv4", "192.168.0.2"
		if strings.Contains(r.prefix, ":") {
			family, nextHop = "vpnv6", "::ffff:192.168.0.2" // 6VPE (RFC 4659)
		}
		if out, err := gobgp("global", "rib", "-a", family, "add", r.prefix, "label", strconv.Itoa(r.label),
			"rd", r.rd, "rt", r.rt, "nexthop", nextHop); err != nil {
			t.Fatalf("gobgp add %s %s: %v\n%s", r.rd, r.prefix, err, out)
		}
	}

	sock := filepath.Join(t.TempDir(), "pe1.sock")
	pc := fmt.Sprintf(plainConfig, "192.168.0.1", sock, "192.168.0.2", 1, "ce1", "ce2", backend, "")
	for _, ce := range []string{"ce1", "ce2"} {
		pc = strings.Replace(pc, "interfaces: ["+ce+"]}", "interfaces: ["+ce+"], label-mode: "+labelMode+"}", 1)
	}
	startPeregrined(t, n.pe1, "pe1", pc)
	defer func() {
		if t.Failed() {
			for _, fam := range []string{"vpnv4", "vpnv6"} {
				out, _ := gobgp("global", "rib", "-a", fam)
				t.Logf("gobgpd's %s:\n%s", fam, out)
			}
			t.Logf("pe2's MPLS routes:\n%s", ipShow(t, n.pe2, "-f", "mpls", "route"))
		}
	}()

	// pe2's VPN routes toward Peregrine, with the labels gobgpd learned:
	// what a far PE's RIB would install.
	ours := map[string]int{} // by "RD PREFIX"
	eventually(t, 60*time.Second, "gobgpd learning Peregrine's routes", func() string {
		missing := ""
		for _, fam := range []struct{ family, prefix string }{{"vpnv4", "10.1.0.0/24"}, {"vpnv6", "fd00:1::/64"}} {
			out, _ := gobgp("global", "rib", "-a", fam.family)
			for _, rd := range []string{"65000:11", "65000:12"} {
				label, ok := goBGPLabel(out, rd+":"+fam.prefix)
				if !ok {
					missing += fmt.Sprintf("%s %s not in gobgpd's %s:\n%s\n", rd, fam.prefix, fam.family, out)
				}
				ours[rd+" "+fam.prefix] = label
			}
		}
		return missing
	})
	for _, prefix := range []string{"10.1.0.0/24", "fd00:1::/64"} {
		api := peregrineLabels(t, sock, prefix)
		for _, rd := range []string{"65000:11", "65000:12"} {
			if got := ours[rd+" "+prefix]; got != api[rd] || got < 16 {
				t.Errorf("%s %s: gobgpd learned label %d, Peregrine's API says %d", rd, prefix, got, api[rd])
			}
		}
	}
	// toPeregrine replaces pe2's route to prefix in table with one
	// pushing stack toward Peregrine (IPv6: through its mapped address,
	// see farPEKernel).
	toPeregrine := func(table, prefix string, stack ...int) {
		t.Helper()
		var labels []string
		for _, l := range stack {
			labels = append(labels, strconv.Itoa(l))
		}
		family, via := "-4", "192.168.0.1"
		if strings.Contains(prefix, ":") {
			family, via = "-6", "::ffff:192.168.0.1"
		}
		ipIn(t, n.pe2, family, "route", "replace", prefix, "encap", "mpls", strings.Join(labels, "/"), "via", via, "dev", "core", "table", table)
	}
	for _, v := range []struct{ table, rd string }{{"10", "65000:11"}, {"20", "65000:12"}} {
		for _, prefix := range []string{"10.1.0.0/24", "fd00:1::/64"} {
			toPeregrine(v.table, prefix, ours[v.rd+" "+prefix])
		}
	}

	n.pingAll(t, 131, 60*time.Second, true)
	site1 := map[string]netns.NsHandle{"red": n.red1, "blue": n.blue1}
	site2 := map[string]netns.NsHandle{"red": n.red2, "blue": n.blue2}
	for i, r := range routes {
		from := site1[r.vrf]
		eventually(t, 20*time.Second, fmt.Sprintf("%s 1->2 %s (%s)", r.vrf, r.host, r.prefix), func() string {
			if err := ping(from, r.host, uint16(140+i)); err != nil {
				return err.Error()
			}
			return ""
		})
		got := captureStack(t, n.pe2, "core", func() { _ = ping(from, r.host, uint16(160+i)) })
		if fmt.Sprint(got) != fmt.Sprint([]int{r.label}) {
			t.Errorf("%s %s toward the far PE: label stack %v, want [%d], the prefix's own label gobgpd advertised", r.vrf, r.host, got, r.label)
		}
	}
	for _, c := range []struct{ vrf, rd, host, prefix string }{
		{"red", "65000:11", "10.1.0.2", "10.1.0.0/24"}, {"blue", "65000:12", "10.1.0.2", "10.1.0.0/24"},
		{"red", "65000:11", "fd00:1::2", "fd00:1::/64"}, {"blue", "65000:12", "fd00:1::2", "fd00:1::/64"},
	} {
		want := []int{ours[c.rd+" "+c.prefix]}
		if got := captureStack(t, n.pe1, "core", func() { _ = ping(site2[c.vrf], c.host, 180) }); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s %s toward Peregrine: label stack %v, want %v (Peregrine's, as gobgpd learned it)", c.vrf, c.host, got, want)
		}
	}

	// Explicit null on top, as a far PE whose penultimate hop keeps a
	// label sends it (RFC 3032): accepted, in the VRF the label below
	// names.
	for _, c := range []struct {
		prefix, host string
		null         int
	}{{"10.1.0.0/24", "10.1.0.2", 0}, {"fd00:1::/64", "fd00:1::2", 2}} {
		vpn := ours["65000:11 "+c.prefix]
		toPeregrine("10", c.prefix, c.null, vpn)
		want := []int{c.null, vpn}
		if got := wireStack(t, n.pe1, "core", func() { _ = ping(n.red2, c.host, 190) }); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("red %s toward Peregrine: label stack %v, want %v", c.host, got, want)
		}
		if err := ping(n.red2, c.host, 191); err != nil {
			t.Errorf("red 2->1 %s under explicit null %d: %v", c.host, c.null, err)
		}
	}

	if backend == "kernel" { // its tc filters, as iproute2 reads them back
		var out []byte
		_ = onThreadIn(n.pe1, func() error {
			out, _ = exec.Command("/sbin/tc", "filter", "show", "dev", "core", "ingress").CombinedOutput()
			return nil
		})
		for _, want := range []string{"mpls_label 0", "mpls_label 2"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("tc filter show dev core ingress on pe1 lacks %q:\n%s", want, out)
			}
		}
		t.Logf("pe1's tc filters:\n%s", out)
	}

	// A label below the VPN label: deeper than a VPN packet is, dropped
	// (nothing reaches blue1) rather than delivered by the VPN label or
	// forwarded as MPLS. The kernel pops the VPN label and hands what is
	// left, still MPLS, to the VRF device, which drops it and counts it
	// in its TX dropped (`ip -s link show vrf-blue`); the userspace
	// backend counts it as unknown-label in fib.Stats.Inbound, which
	// neither the API nor the metrics show (fib/userspace's
	// TestInboundFrame checks its drop reason).
	for _, c := range []struct{ prefix, host string }{{"10.1.0.0/24", "10.1.0.2"}, {"fd00:1::/64", "fd00:1::2"}} {
		vpn := ours["65000:12 "+c.prefix]
		toPeregrine("20", c.prefix, vpn, 999)
		dropped := vrfTxDropped(t, n.pe1, backend)
		want := []int{vpn, 999}
		if got := captureStack(t, n.pe1, "core", func() { _ = ping(n.blue2, c.host, 192) }); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("blue %s toward Peregrine: label stack %v, want %v", c.host, got, want)
		}
		if seen := framesOn(t, n.blue1, "eth0", func() { _ = ping(n.blue2, c.host, 193) }); seen != 0 {
			t.Errorf("blue %s under [%d 999]: %d frames reached blue1, want none", c.host, vpn, seen)
		}
		if err := ping(n.blue2, c.host, 194); err == nil {
			t.Errorf("blue 2->1 %s under [%d 999] answered", c.host, vpn)
		}
		if backend == "kernel" {
			if got := vrfTxDropped(t, n.pe1, backend) - dropped; got < 3 {
				t.Errorf("vrf-blue counted %d TX drops for the 3 frames under [%d 999] (%s)", got, vpn, c.host)
			}
		}
	}
}

// vrfTxDropped is the TX dropped count of the kernel backend's vrf-blue
// in ns (0 with another backend).
func vrfTxDropped(t *testing.T, ns netns.NsHandle, backend string) uint64 {
	t.Helper()
	if backend != "kernel" {
		return 0
	}
	l, err := handle(t, ns).LinkByName("vrf-blue")
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Statistics.TxDropped
}

// goBGPLabel finds the label of the path to key ("RD:PREFIX") in the
// gobgp CLI's table (`gobgp global rib -a vpnv4`: "*> 65000:11:10.1.0.0/24
// [1000] 192.168.0.1 ...").
func goBGPLabel(table, key string) (int, bool) {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		for i, field := range f {
			if field == key && i+1 < len(f) {
				l, err := strconv.Atoi(strings.Trim(f[i+1], "[]"))
				return l, err == nil
			}
		}
	}
	return 0, false
}

// framesOn counts the frames of any protocol but ARP and IPv6 neighbour
// discovery arriving on ifName in ns while f runs (and for 200 ms after).
func framesOn(t *testing.T, ns netns.NsHandle, ifName string, f func()) int {
	t.Helper()
	seen := 0
	for _, fr := range captureFrames(t, ns, ifName, false, f) {
		if fr.proto == unix.ETH_P_ARP {
			continue
		}
		if fr.proto == unix.ETH_P_IPV6 && len(fr.data) >= 41 && fr.data[6] == 58 && fr.data[40] >= 133 && fr.data[40] <= 137 {
			continue // neighbour discovery
		}
		seen++
	}
	return seen
}

// wireStack is captureStack for a frame as it arrived, before any tc
// ingress action (the kernel backend pops explicit nulls there): a tap
// of every protocol (ETH_P_ALL) sees it first, where a socket for MPLS
// sees it after.
func wireStack(t *testing.T, ns netns.NsHandle, ifName string, f func()) []int {
	t.Helper()
	fd := packetSocket(t, ns, ifName, unix.ETH_P_ALL)
	defer unix.Close(fd)
	f()
	tv := unix.Timeval{Usec: 200000}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, 2000)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil
		}
		ll, _ := from.(*unix.SockaddrLinklayer)
		if ll == nil || ll.Pkttype == unix.PACKET_OUTGOING || ll.Protocol != htons(unix.ETH_P_MPLS_UC) {
			continue
		}
		return mplsStack(buf[:n])
	}
}
