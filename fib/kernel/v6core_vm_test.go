package kernel

// VPNv4 over an IPv6 core with the kernel's MPLS: the same
// CE - PE1 - P - PE2 - CE as TestTwoPEsForwardByKernelMPLS, but the core
// has IPv6 addresses only, and the remote PEs (the routes' BGP next hops,
// as RFC 8950 lets VPNv4 routes carry) are IPv6. Each PE's IPv4 VRF
// route then goes `encap mpls L via inet6 GW`: an IPv4 packet, labelled,
// to an IPv6 neighbour (RTA_VIA), and P switches labels toward IPv6
// neighbours too.
//
//	pe1 core fd00:c1::1 ── p1 fd00:c1::2 │ P │ p2 fd00:c2::1 ── core fd00:c2::2 pe2

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func TestVPNv4OverIPv6CoreByKernelMPLS(t *testing.T) {
	requireVM(t)
	n := newCEsIPv4(t)
	pe1, p, pe2 := n.pe1, newNS(t), n.pe2
	link(t, pe1, "core", "", p, "p1", "")
	link(t, p, "p2", "", pe2, "core", "")
	addr6(t, pe1, "core", "fd00:c1::1/64")
	addr6(t, p, "p1", "fd00:c1::2/64")
	addr6(t, p, "p2", "fd00:c2::1/64")
	addr6(t, pe2, "core", "fd00:c2::2/64")
	routeVia6(t, pe1, "fd00:c2::/64", "fd00:c1::2")
	routeVia6(t, pe2, "fd00:c1::/64", "fd00:c2::1")
	labelSwitch(t, p, map[int]string{2001: "fd00:c2::2 p2", 2002: "fd00:c2::2 p2", 1001: "fd00:c1::1 p1", 1002: "fd00:c1::1 p1"})

	s1 := peState("10.1.0.0/24", "10.2.0.0/24", addr("fd00:c2::2"), "ce1", "ce2", 1001, 1002, 2001, 2002)
	s2 := peState("10.2.0.0/24", "10.1.0.0/24", addr("fd00:c1::1"), "ce3", "ce4", 2001, 2002, 1001, 1002)
	applyState(t, pe1, s1)
	applyState(t, pe2, s2)
	checkLines(t, pe1, s1, "testdata/pe1-v6core.golden")

	n.pingEach(t, 21, 3)
	if label := captureMPLS(t, pe2, "core", func() { _ = ping(n.blue1, "10.2.0.2", 22) }); label != 2002 {
		t.Errorf("core frame toward pe2 carries label %d, want blue's 2002", label)
	}
}

// addr6 adds an IPv6 address without duplicate address detection, so that
// it is usable at once.
func addr6(t *testing.T, ns netns.NsHandle, ifName, prefix string) {
	t.Helper()
	h := handle(t, ns)
	l, err := h.LinkByName(ifName)
	if err != nil {
		t.Fatal(err)
	}
	a, err := netlink.ParseAddr(prefix)
	if err != nil {
		t.Fatal(err)
	}
	a.Flags = 0x02 // IFA_F_NODAD
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("%s %s: %v", ifName, prefix, err)
	}
}

func routeVia6(t *testing.T, ns netns.NsHandle, dst, gw string) {
	t.Helper()
	_, d, _ := net.ParseCIDR(dst)
	if err := handle(t, ns).RouteAdd(&netlink.Route{Dst: d, Gw: net.ParseIP(gw)}); err != nil {
		t.Fatalf("route %s via %s: %v", dst, gw, err)
	}
}

// TestPeregrinedWithKernelBackendAndESPOverIPv6Core: the ESP topology of
// TestPeregrinedWithKernelBackendAndESP with the PEs' BGP session and ESP
// endpoints on IPv6 core addresses and no bgp.listen-address:
// VPNv4 routes arrive with IPv6 next hops (RFC 8950), the kernel keeps
// the VRFs and labels, the ESP gateway seals toward the IPv6 remote PE.
// IPv4 and IPv6 CEs ping in both VRFs, and every frame pe2 receives on
// the core during a ping is IPv6: ESP in UDP 4500, or BGP and neighbour
// discovery; no MPLS, no IPv4.
func TestPeregrinedWithKernelBackendAndESPOverIPv6Core(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	addr6(t, n.pe1, "core", "fd00:c::1/64")
	addr6(t, n.pe2, "core", "fd00:c::2/64")
	c1, c2 := manualESPConfigs(t, t.TempDir(), espConfig, true)
	startPeregrined(t, n.pe1, "pe1", c1)
	startPeregrined(t, n.pe2, "pe2", c2)
	n.pingAll(t, 51, 60*time.Second, true)

	frames := captureCore(t, n.pe2, "core", func() {
		if err := ping(n.red1, "10.2.0.2", 52); err != nil {
			t.Error(err)
		}
		if err := ping(n.blue1, "fd00:2::2", 53); err != nil {
			t.Error(err)
		}
	})
	esp6 := 0
	for _, f := range frames {
		switch {
		case f.proto == unix.ETH_P_IPV6 && len(f.data) >= 48 && f.data[6] == unix.IPPROTO_UDP &&
			binary.BigEndian.Uint16(f.data[42:44]) == 4500 && binary.BigEndian.Uint32(f.data[48:]) == 1002:
			esp6++
		case f.proto == unix.ETH_P_IPV6 && len(f.data) >= 40 && (f.data[6] == unix.IPPROTO_TCP || f.data[6] == unix.IPPROTO_ICMPV6 || f.data[6] == 0):
			// BGP keepalives, neighbour discovery, MLD
		default:
			t.Errorf("frame %#04x on the IPv6 core, neither ESP over IPv6, BGP nor ND: % x", f.proto, f.data[:min(len(f.data), 48)])
		}
	}
	if esp6 < 2 {
		t.Errorf("%d ESP-in-UDP over IPv6 packets from pe1 (SPI 1002) during two pings, want at least 2", esp6)
	}
}
