package kernel

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// plainConfig is a PE with backend %[7]s, iBGP VPNv4 and VPNv6 to the
// other PE, red and blue, and the other PE unprotected: plain MPLS on its
// core interface alone, with %[8]s appended under dataplane (a transport
// label, or nothing).
const plainConfig = `router: {id: %[1]s, asn: 65000}
control: {socket: %[2]s}
bgp:
  api: ''
  neighbors: [{address: %[3]s, asn: 65000, local-address: %[1]s, families: [vpnv4, vpnv6], connect-retry: 1s}]
vrfs:
  - {name: red, rd: '65000:%[4]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [%[5]s]}
  - {name: blue, rd: '65000:%[4]d2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [%[6]s]}
ipsec: {unprotected-peers: [%[3]s]}
dataplane:
  backend: %[7]s
  mpls-interfaces: [core]
%[8]s`

// TestPeregrinedPlainMPLSKernelToUserspace: CE - PE1 - PE2 - CE, PE1
// peregrined with the kernel backend, PE2 with the userspace backend (its
// namespace's kernel MPLS left off: no platform labels, no input), each
// declaring the other unprotected. The kernel's own MPLS (PE1's
// encapsulation and LFIB) is the independent implementation the userspace
// framing and label parsing must agree with: pings cross in both VRFs,
// both directions, IPv4 and IPv6; the labels on the core are the ones the
// receiving PE allocated (distinct for red and blue), no ESP; PE1 has MPLS
// input on its core only.
func TestPeregrinedPlainMPLSKernelToUserspace(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	dir := t.TempDir()
	startPeregrined(t, n.pe1, "pe1", fmt.Sprintf(plainConfig, "192.168.0.1", filepath.Join(dir, "pe1.sock"), "192.168.0.2", 1, "ce1", "ce2", "kernel", ""))
	startPeregrined(t, n.pe2, "pe2", fmt.Sprintf(plainConfig, "192.168.0.2", filepath.Join(dir, "pe2.sock"), "192.168.0.1", 2, "ce3", "ce4", "userspace", ""))
	n.pingAll(t, 71, 90*time.Second, true)

	checkMPLSInput(t, n.pe1, map[string]string{"core": "1", "ce1": "0", "ce2": "0"})
	labels := map[string][]int{}
	for i, c := range []struct {
		name, capIf string
		capNS, from netns.NsHandle
		dst         string
	}{
		{"red 1->2", "core", n.pe2, n.red1, "10.2.0.2"}, {"blue 1->2", "core", n.pe2, n.blue1, "10.2.0.2"},
		{"red 2->1", "core", n.pe1, n.red2, "10.1.0.2"}, {"blue 2->1", "core", n.pe1, n.blue2, "10.1.0.2"},
	} {
		labels[c.name] = captureStack(t, c.capNS, c.capIf, func() { _ = ping(c.from, c.dst, uint16(80+i)) })
	}
	t.Logf("label stacks on the core: %v", labels)
	for _, dir := range []string{"1->2", "2->1"} {
		red, blue := labels["red "+dir], labels["blue "+dir]
		if len(red) != 1 || len(blue) != 1 || red[0] < 16 || blue[0] < 16 || red[0] == blue[0] {
			t.Errorf("%s: stacks red %v, blue %v; want one allocated label each, distinct (implicit null toward a connected PE)", dir, red, blue)
		}
	}
}

// TestPeregrinedPlainMPLSAcrossP: the same PEs across a P router that
// knows no customer prefix and switches transport labels configured on
// the PEs (dataplane.transport-labels): toward PE2 (userspace) it swaps
// 16002 for an explicit null, toward PE1 (kernel) it pops 16001
// (penultimate hop popping). Pings cross in both VRFs and directions; P
// sees the transport label above the VPN label.
func TestPeregrinedPlainMPLSAcrossP(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEsAcrossP(t)
	dir := t.TempDir()
	tl := func(remote string, label int) string {
		return fmt.Sprintf("  transport-labels: [{remote: %s, label: %d}]\n", remote, label)
	}
	startPeregrined(t, n.pe1, "pe1", fmt.Sprintf(plainConfig, "192.168.1.1", filepath.Join(dir, "pe1.sock"), "192.168.2.2", 1, "ce1", "ce2", "kernel", tl("192.168.2.2", 16002)))
	startPeregrined(t, n.pe2, "pe2", fmt.Sprintf(plainConfig, "192.168.2.2", filepath.Join(dir, "pe2.sock"), "192.168.1.1", 2, "ce3", "ce4", "userspace", tl("192.168.1.1", 16001)))
	n.pingAll(t, 91, 90*time.Second, true)

	toPE2 := captureStack(t, n.p, "p1", func() { _ = ping(n.red1, "10.2.0.2", 95) })
	toPE1 := captureStack(t, n.p, "p2", func() { _ = ping(n.red2, "10.1.0.2", 96) })
	atPE2 := captureStack(t, n.pe2, "core", func() { _ = ping(n.blue1, "10.2.0.2", 97) })
	t.Logf("into P toward pe2 %v, toward pe1 %v; at pe2 %v", toPE2, toPE1, atPE2)
	if len(toPE2) != 2 || toPE2[0] != 16002 || toPE2[1] < 16 {
		t.Errorf("into P toward pe2: %v, want [16002 VPN]", toPE2)
	}
	if len(toPE1) != 2 || toPE1[0] != 16001 || toPE1[1] < 16 {
		t.Errorf("into P toward pe1: %v, want [16001 VPN]", toPE1)
	}
	if len(atPE2) != 2 || atPE2[0] != 0 || atPE2[1] < 16 {
		t.Errorf("at pe2: %v, want [0 VPN] (explicit null)", atPE2)
	}
}

// twoPEsAcrossP is newTwoPEs's topology with a P router on the core:
// pe1 core 192.168.1.1 - p1 P p2 - 192.168.2.2 core pe2.
type twoPEsAcrossP struct {
	twoPEs
	p netns.NsHandle
}

func newTwoPEsAcrossP(t *testing.T) *twoPEsAcrossP {
	t.Helper()
	n := &twoPEsAcrossP{p: newNS(t)}
	n.twoPEs = *newCEs(t)
	link(t, n.pe1, "core", "192.168.1.1/30", n.p, "p1", "192.168.1.2/30")
	link(t, n.p, "p2", "192.168.2.1/30", n.pe2, "core", "192.168.2.2/30")
	routeVia(t, n.pe1, "192.168.2.0/30", "192.168.1.2")
	routeVia(t, n.pe2, "192.168.1.0/30", "192.168.2.1")
	err := onThreadIn(n.p, func() error {
		for _, k := range []string{"net/mpls/platform_labels=20000", "net/mpls/conf/p1/input=1", "net/mpls/conf/p2/input=1", "net/ipv4/ip_forward=1"} {
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
	h := handle(t, n.p)
	for _, r := range []struct {
		in      int
		out     []int // nil: pop
		gw, ifn string
	}{
		{16002, []int{0}, "192.168.2.2", "p2"}, // swap for IPv4 explicit null
		{16001, nil, "192.168.1.1", "p1"},      // penultimate hop popping
	} {
		l, err := h.LinkByName(r.ifn)
		if err != nil {
			t.Fatal(err)
		}
		in := r.in
		rt := &netlink.Route{Family: netlink.FAMILY_MPLS, MPLSDst: &in, LinkIndex: l.Attrs().Index, Via: via(net.ParseIP(r.gw))}
		if r.out != nil {
			rt.NewDst = &netlink.MPLSDestination{Labels: r.out}
		}
		if err := h.RouteAdd(rt); err != nil {
			t.Fatalf("P: label %d: %v", r.in, err)
		}
	}
	return n
}

// captureStack returns the label stack (outermost first) of the first
// MPLS frame arriving on ifName in ns while f runs, or nil.
func captureStack(t *testing.T, ns netns.NsHandle, ifName string, f func()) []int {
	t.Helper()
	fd := packetSocket(t, ns, ifName, unix.ETH_P_MPLS_UC)
	defer unix.Close(fd)
	f()
	tv := unix.Timeval{Usec: 200000}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, 2000)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return nil
	}
	return mplsStack(buf[:n])
}

// mplsStack reads the labels of the stack at the start of b, outermost
// first, up to the bottom of the stack (at most 8).
func mplsStack(b []byte) []int {
	var out []int
	for off := 0; off+4 <= len(b) && len(out) < 8; off += 4 {
		e := binary.BigEndian.Uint32(b[off:])
		out = append(out, int(e>>12))
		if e&0x100 != 0 {
			break
		}
	}
	return out
}

// checkMPLSInput compares net.mpls.conf.IF.input in ns with want.
func checkMPLSInput(t *testing.T, ns netns.NsHandle, want map[string]string) {
	t.Helper()
	_ = onThreadIn(ns, func() error {
		for ifn, w := range want {
			b, err := os.ReadFile("/proc/sys/net/mpls/conf/" + ifn + "/input")
			if got := strings.TrimSpace(string(b)); err != nil || got != w {
				t.Errorf("net.mpls.conf.%s.input = %q (%v), want %s", ifn, got, err, w)
			}
		}
		return nil
	})
}
