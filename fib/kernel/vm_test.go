package kernel

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/mpls"
)

// requireVM skips unless the test runs in labs/vm's VM, whose kernel has
// MPLS forwarding and VRF devices.
func requireVM(t *testing.T) {
	t.Helper()
	if os.Getenv("PEREGRINE_VM") == "" {
		t.Skip("needs a kernel with MPLS forwarding and VRF devices: run make vm-test")
	}
}

// newNS makes an unnamed network namespace and returns its handle; the
// calling goroutine's thread stays where it was.
func newNS(t testing.TB) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	err := func() error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer func() { _ = netns.Set(orig); orig.Close() }()
		ns, err = netns.New()
		return err
	}()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// handle is a netlink handle in ns, closed with the test.
func handle(t testing.TB, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// link joins aIf in a and bIf in b with a veth pair and addresses them.
func link(t testing.TB, a netns.NsHandle, aIf, aAddr string, b netns.NsHandle, bIf, bAddr string) {
	t.Helper()
	tmpA, tmpB := "t"+aIf+"x", "t"+bIf+"y"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: tmpA}, PeerName: tmpB}); err != nil {
		t.Fatalf("veth %s-%s: %v", aIf, bIf, err)
	}
	for _, e := range []struct {
		tmp, name, addr string
		ns              netns.NsHandle
	}{{tmpA, aIf, aAddr, a}, {tmpB, bIf, bAddr, b}} {
		l, err := netlink.LinkByName(e.tmp)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetNsFd(l, int(e.ns)); err != nil {
			t.Fatal(err)
		}
		h := handle(t, e.ns)
		l, err = h.LinkByName(e.tmp)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetName(l, e.name); err != nil {
			t.Fatal(err)
		}
		if e.addr != "" {
			ad, err := netlink.ParseAddr(e.addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.AddrAdd(l, ad); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		lo, _ := h.LinkByName("lo")
		_ = h.LinkSetUp(lo)
	}
}

func defaultVia(t testing.TB, ns netns.NsHandle, gw string) {
	t.Helper()
	h := handle(t, ns)
	if err := h.RouteAdd(&netlink.Route{Gw: net.ParseIP(gw).To4()}); err != nil {
		t.Fatalf("default via %s: %v", gw, err)
	}
}

// ping sends one ICMP or ICMPv6 echo from ns to dst and waits up to a
// second for the reply.
func ping(ns netns.NsHandle, dst string, id uint16) error {
	return pingFrom(ns, netip.Addr{}, dst, id)
}

// pingFrom is ping with the echo sent from source src (a loopback's
// address, say) where src is valid, rather than the outgoing interface's.
func pingFrom(ns netns.NsHandle, src netip.Addr, dst string, id uint16) error {
	a := netip.MustParseAddr(dst)
	return onThreadIn(ns, func() error {
		family, proto, request, reply := unix.AF_INET, unix.IPPROTO_ICMP, byte(8), byte(0)
		var to unix.Sockaddr
		if a.Is4() {
			to = &unix.SockaddrInet4{Addr: a.As4()}
		} else {
			family, proto, request, reply = unix.AF_INET6, unix.IPPROTO_ICMPV6, 128, 129
			to = &unix.SockaddrInet6{Addr: a.As16()}
		}
		fd, err := unix.Socket(family, unix.SOCK_RAW, proto)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if src.IsValid() {
			var from unix.Sockaddr = &unix.SockaddrInet6{Addr: src.As16()}
			if src.Is4() {
				from = &unix.SockaddrInet4{Addr: src.As4()}
			}
			if err := unix.Bind(fd, from); err != nil {
				return fmt.Errorf("bind %s: %w", src, err)
			}
		}
		tv := unix.Timeval{Sec: 1}
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		msg := make([]byte, 16)
		msg[0] = request
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], 1)
		if a.Is4() { // the kernel fills in ICMPv6's checksum, not ICMP's
			var sum uint32
			for i := 0; i < len(msg); i += 2 {
				sum += uint32(binary.BigEndian.Uint16(msg[i:]))
			}
			for sum > 0xffff {
				sum = sum>>16 + sum&0xffff
			}
			binary.BigEndian.PutUint16(msg[2:], ^uint16(sum))
		}
		if err := unix.Sendto(fd, msg, 0, to); err != nil {
			return err
		}
		buf := make([]byte, 1500)
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return fmt.Errorf("no echo reply from %s: %v", dst, err)
			}
			icmp := buf[:n]
			if a.Is4() { // a raw IPv4 socket gives the IP header too
				icmp = icmp[min(n, int(buf[0]&0x0f)*4):]
			}
			if len(icmp) >= 8 && icmp[0] == reply && binary.BigEndian.Uint16(icmp[4:]) == id {
				return nil
			}
		}
		return fmt.Errorf("no echo reply from %s", dst)
	})
}

// captureMPLS returns the top label of the first MPLS frame arriving on
// ifName in ns within the time f takes to run, or -1.
func captureMPLS(t *testing.T, ns netns.NsHandle, ifName string, f func()) int {
	t.Helper()
	if s := captureStack(t, ns, ifName, f); len(s) > 0 {
		return s[0]
	}
	return -1
}

// packetSocket opens a packet socket in ns bound to ifName for the
// EtherType proto (unix.ETH_P_ALL: every frame), L3 bytes only.
func packetSocket(t *testing.T, ns netns.NsHandle, ifName string, proto uint16) int {
	t.Helper()
	var fd int
	err := onThreadIn(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(proto)))
		if err != nil {
			return err
		}
		l, err := netlink.LinkByName(ifName)
		if err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: l.Attrs().Index}); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("packet socket on %s: %v", ifName, err)
	}
	return fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// peState is one PE's forwarding state: red and blue with the same CE
// subnet, the other PE's subnet behind its labels.
func peState(local, remote string, peer netip.Addr, ifRed, ifBlue string, myRed, myBlue, theirRed, theirBlue mpls.Label) *fib.State {
	vrf := func(name string, table uint32, ifn string, their mpls.Label) *fib.VRF {
		return &fib.VRF{Name: name, Table: table, Interfaces: []string{ifn}, Routes: map[netip.Prefix]fib.Route{
			pfx(local):  {Prefix: pfx(local), Interface: ifn},
			pfx(remote): {Prefix: pfx(remote), Remote: peer, Labels: []mpls.Label{their}},
		}}
	}
	return &fib.State{
		VRFs: map[string]*fib.VRF{"red": vrf("red", 1000, ifRed, theirRed), "blue": vrf("blue", 1001, ifBlue, theirBlue)},
		Labels: map[mpls.Label]fib.LabelAction{
			myRed: {Kind: fib.PopLookup, VRF: "red"}, myBlue: {Kind: fib.PopLookup, VRF: "blue"},
		},
	}
}

// TestTwoPEsForwardByKernelMPLS: CE - PE1 - PE2 - CE in two VRFs with the
// same addresses, PE1 and PE2 programmed by this backend, the kernel's
// MPLS forwarding in between. Pings cross in both VRFs, the core carries
// the VPN label, blue cannot reach red's CE, and a second Apply (a
// restarted daemon's) keeps everything working.
func TestTwoPEsForwardByKernelMPLS(t *testing.T) {
	requireVM(t)
	n := newCEsIPv4(t)
	pe1, p, pe2 := n.pe1, newNS(t), n.pe2
	red1, blue1, blue2 := n.red1, n.blue1, n.blue2
	// CE - PE1 - P - PE2 - CE. P is a plain kernel label switch: it has
	// no route to any customer prefix, so a packet crosses it only by
	// its label.
	link(t, pe1, "core", "192.168.1.1/30", p, "p1", "192.168.1.2/30")
	link(t, p, "p2", "192.168.2.1/30", pe2, "core", "192.168.2.2/30")
	routeVia(t, pe1, "192.168.2.0/30", "192.168.1.2")
	routeVia(t, pe2, "192.168.1.0/30", "192.168.2.1")
	labelSwitch(t, p, map[int]string{2001: "192.168.2.2 p2", 2002: "192.168.2.2 p2", 1001: "192.168.1.1 p1", 1002: "192.168.1.1 p1"})

	s1 := peState("10.1.0.0/24", "10.2.0.0/24", addr("192.168.2.2"), "ce1", "ce2", 1001, 1002, 2001, 2002)
	s2 := peState("10.2.0.0/24", "10.1.0.0/24", addr("192.168.1.1"), "ce3", "ce4", 2001, 2002, 1001, 1002)
	applyState(t, pe1, s1)
	applyState(t, pe2, s2)
	checkLines(t, pe1, s1, "testdata/pe1.golden")

	n.pingEach(t, 7, 3)
	if label := captureMPLS(t, p, "p1", func() { _ = ping(red1, "10.2.0.2", 8) }); label != 2001 {
		t.Errorf("frame from pe1 into P carries label %d, want red's 2001", label)
	}
	if label := captureMPLS(t, pe2, "core", func() { _ = ping(red1, "10.2.0.2", 8) }); label != 2001 {
		t.Errorf("core frame toward pe2 carries label %d, want red's 2001", label)
	}
	if label := captureMPLS(t, pe2, "core", func() { _ = ping(blue1, "10.2.0.2", 9) }); label != 2002 {
		t.Errorf("core frame toward pe2 carries label %d, want blue's 2002", label)
	}

	// Isolation: with blue-2 unplugged, blue-1 reaches nothing, though
	// red-2 has the same address.
	h := handle(t, blue2)
	l, _ := h.LinkByName("eth0")
	_ = h.LinkSetDown(l)
	if err := ping(blue1, "10.2.0.2", 10); err == nil {
		t.Error("blue-1 got an answer from 10.2.0.2 with blue-2 down: it reached red")
	}
	_ = h.LinkSetUp(l)

	// A restarted daemon applies the same state again: nothing breaks.
	applyState(t, pe1, s1)
	if err := ping(red1, "10.2.0.2", 11); err != nil {
		t.Errorf("after a second Apply: %v", err)
	}
}

// TestRefusesTunnels: without an ESP gateway, a State that wants
// traffic protected is refused rather than sent in clear.
func TestRefusesTunnels(t *testing.T) {
	b := &Backend{}
	s := &fib.State{Tunnels: map[netip.Addr]*fib.Tunnel{addr("192.0.2.2"): {Remote: addr("192.0.2.2")}}}
	if err := b.Apply(context.Background(), s); err == nil {
		t.Fatal("a State with ESP tunnels was accepted")
	}
}

// checkLines compares the kernel state the backend reads back with a
// golden file written by hand from the design, and its label routes with
// the fake backend's lines for the same State: two backends, one LFIB.
func checkLines(t *testing.T, ns netns.NsHandle, s *fib.State, golden string) {
	t.Helper()
	b, err := New(nil, Options{NetNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Lines()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, "\n") + "\n"; g != string(want) {
		t.Errorf("kernel state differs from %s:\n got:\n%s\nwant:\n%s", golden, g, want)
	}
	var fakeLabels, gotLabels []string
	for _, l := range fake.Lines(s) {
		if strings.HasPrefix(l, "ip -f mpls") {
			fakeLabels = append(fakeLabels, l)
		}
	}
	for _, l := range got {
		if strings.HasPrefix(l, "ip -f mpls") {
			gotLabels = append(gotLabels, l)
		}
	}
	if strings.Join(fakeLabels, "\n") != strings.Join(gotLabels, "\n") {
		t.Errorf("LFIB: kernel\n%s\nfake backend\n%s", strings.Join(gotLabels, "\n"), strings.Join(fakeLabels, "\n"))
	}
}

func routeVia(t *testing.T, ns netns.NsHandle, dst, gw string) {
	t.Helper()
	_, d, _ := net.ParseCIDR(dst)
	if err := handle(t, ns).RouteAdd(&netlink.Route{Dst: d, Gw: net.ParseIP(gw).To4()}); err != nil {
		t.Fatalf("route %s via %s: %v", dst, gw, err)
	}
}

// labelSwitch makes ns a P router: MPLS input on every interface and, for
// each label, `ip -f mpls route add L as L via inet GW dev IF`.
func labelSwitch(t *testing.T, ns netns.NsHandle, routes map[int]string) {
	t.Helper()
	h := handle(t, ns)
	err := onThreadIn(ns, func() error {
		for _, k := range []string{"net/mpls/platform_labels=4096", "net/mpls/conf/p1/input=1", "net/mpls/conf/p2/input=1", "net/ipv4/ip_forward=1"} {
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
	for label, to := range routes {
		gw, ifn, _ := strings.Cut(to, " ")
		l, err := h.LinkByName(ifn)
		if err != nil {
			t.Fatal(err)
		}
		in := label
		r := &netlink.Route{Family: netlink.FAMILY_MPLS, MPLSDst: &in, LinkIndex: l.Attrs().Index,
			NewDst: &netlink.MPLSDestination{Labels: []int{label}}, Via: via(net.ParseIP(gw))}
		if err := h.RouteAdd(r); err != nil {
			t.Fatalf("P: label %d to %s: %v", label, to, err)
		}
	}
}
