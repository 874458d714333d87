package userspace

// Plain MPLS to an unprotected peer, next to ESP to a protected one, with
// the userspace backend in each PE's namespace (helper processes, as
// netns_test.go; the States are built by hand):
//
//	ce-red-1  eth0 ── red  ┐                                   ┌ red  ── ce-red-2   (ESP, protected)
//	ce-blue-1 eth0 ── blue ┤ pe1 core ════════════════════ core pe2
//	10.1.0.2/24            │     192.0.2.1/24      192.0.2.2/24 └ blue ── ce-blue-2
//	(red: fd00:1::2)       │
//	                       └     core3 ═══════════════════ core pe3     (plain MPLS, unprotected)
//	                             198.51.100.1/24  198.51.100.3/24 ├ red  ── ce-red-3  10.3.0.2/24, fd00:3::2
//	                                                              └ blue ── ce-blue-3 10.3.0.2/24
//
//	pe1: ESP to pe2 (pe1State); 198.51.100.3 unprotected, mpls-interfaces [core3];
//	     10.4.0.0/24 via 198.51.100.4: neither protected nor unprotected
//	pe3: 198.51.100.1 unprotected, mpls-interfaces [core]; labels red 3001, blue 3002
//
// Checked: red and blue ping between sites 1 and 3 both ways (IPv4, and
// IPv6 in red), each landing in its own VRF; tshark on core3 finds MPLS
// frames with pe3's labels one way and pe1's the other, the pings inside,
// and no ESP; red still pings pe2 over ESP; the route via 198.51.100.4
// drops (no-tunnel); a labelled frame for pe1's red label sent into
// pe1's CE interface never reaches a VRF (the kernel counts it in
// rx_nohandler), while the same frame sent on core3 by pe3 does, and
// a frame on core3 from a MAC address other than pe3's (pe1's next hop
// toward 198.51.100.3) is dropped and counted (bad-source); a reload that
// takes 198.51.100.3 out of the unprotected peers stops the traffic with
// nothing on core3 and pe3's labelled frames no longer taken, and one
// that puts it back starts it again.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/mpls"
	"golang.org/x/sys/unix"
)

var (
	pe1Core3 = addr("198.51.100.1")
	pe3Addr  = addr("198.51.100.3")
	pe4Addr  = addr("198.51.100.4") // in no list, with no tunnel
)

// pe1MixedState is pe1State with pe3 unprotected and a route via a PE
// that is neither.
func pe1MixedState() *fib.State {
	s := pe1State()
	red, blue := s.VRFs["red"], s.VRFs["blue"]
	for _, r := range []fib.Route{remote("10.3.0.0/24", pe3Addr, 3001), remote("fd00:3::/64", pe3Addr, 3001),
		remote("10.4.0.0/24", pe4Addr, 4001)} {
		red.Routes[r.Prefix] = r
	}
	blue.Routes[pfx("10.3.0.0/24")] = remote("10.3.0.0/24", pe3Addr, 3002)
	s.UnprotectedPeers = []netip.Prefix{pfx("198.51.100.3/32")}
	s.MPLSInterfaces = []string{"core3"}
	return s
}

// pe3PlainState is pe3's State: no tunnel at all.
func pe3PlainState() *fib.State {
	return &fib.State{
		VRFs: map[string]*fib.VRF{
			"red": vrfOf("red", 101, local("10.3.0.0/24", "red"), local("fd00:3::/64", "red"),
				remote("10.1.0.0/24", pe1Core3, 1001), remote("fd00:1::/64", pe1Core3, 1001)),
			"blue": vrfOf("blue", 102, local("10.3.0.0/24", "blue"), remote("10.1.0.0/24", pe1Core3, 1002)),
		},
		Labels: map[mpls.Label]fib.LabelAction{
			3001: {Kind: fib.PopLookup, VRF: "red"},
			3002: {Kind: fib.PopLookup, VRF: "blue"},
		},
		UnprotectedPeers: []netip.Prefix{pfx("198.51.100.1/32")},
		MPLSInterfaces:   []string{"core"},
	}
}

// plainHelperEnv names the State TestHelperPlainPE applies; injectEnv
// makes TestHelperInject send one frame ("IFNAME HEX").
const (
	plainHelperEnv = "PEREGRINE_USERSPACE_PLAIN_HELPER"
	injectEnv      = "PEREGRINE_USERSPACE_INJECT"
)

var plainStates = map[string]func() *fib.State{"pe1": pe1MixedState, "pe2": pe2State, "pe3": pe3PlainState}

// TestHelperPlainPE is a PE's backend for TestNetnsPlainMPLS. It prints
// READY after the first Apply; on SIGUSR1 it applies its State without
// unprotected peers (NOPLAIN), on SIGUSR2 with them again (PLAIN); on
// SIGTERM it prints STATS and closes.
func TestHelperPlainPE(t *testing.T) {
	which := os.Getenv(plainHelperEnv)
	if which == "" {
		t.Skip("a helper process of TestNetnsPlainMPLS")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := New(log.With("pe", which), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Apply(ctx, plainStates[which]()); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	fmt.Println("READY")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2)
	for sig := range sigs {
		if sig == syscall.SIGTERM {
			break
		}
		s, word := plainStates[which](), "PLAIN"
		if sig == syscall.SIGUSR1 {
			s.UnprotectedPeers, word = nil, "NOPLAIN"
		}
		if err := b.Apply(ctx, s); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		fmt.Println(word)
	}
	js, _ := json.Marshal(b.Stats())
	fmt.Printf("STATS %s\n", js)
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestHelperInject sends one Ethernet frame on an interface of its
// namespace with a packet socket.
func TestHelperInject(t *testing.T) {
	spec := os.Getenv(injectEnv)
	if spec == "" {
		t.Skip("a helper process of TestNetnsPlainMPLS")
	}
	ifname, hexFrame, _ := strings.Cut(spec, " ")
	frame, err := hex.DecodeString(hexFrame)
	if err != nil {
		t.Fatal(err)
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index, Protocol: htons(unix.ETH_P_MPLS_UC)}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("SENT")
}

func TestNetnsPlainMPLS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the namespace lab")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	l := &lab{t: t, lab: netns.NewLab(t), node: map[string]*netns.Node{}}
	l.build()
	l.addNodes("pe3", "ce-red-3", "ce-blue-3")
	must := l.must
	must(l.lab.Link(l.node["pe1"], "core3", l.node["pe3"], "core"))
	must(l.node["pe1"].AddAddr("core3", pfx("198.51.100.1/24")))
	must(l.node["pe3"].AddAddr("core", pfx("198.51.100.3/24")))
	for _, vrf := range []string{"red", "blue"} {
		ce := l.node["ce-"+vrf+"-3"]
		must(l.lab.Link(l.node["pe3"], vrf, ce, "eth0"))
		must(l.node["pe3"].AddAddr(vrf, pfx("10.3.0.1/24")))
		must(ce.AddAddr("eth0", pfx("10.3.0.2/24")))
		l.exec(ce.Name(), "ip", "route", "add", "default", "via", "10.3.0.1")
	}
	must(l.node["pe3"].AddAddr("red", pfx("fd00:3::1/64")))
	must(l.node["ce-red-3"].AddAddr("eth0", pfx("fd00:3::2/64")))
	l.exec("ce-red-3", "ip", "-6", "route", "add", "default", "via", "fd00:3::1")

	pes := map[string]*netns.Process{}
	for _, pe := range []string{"pe1", "pe2", "pe3"} {
		pes[pe] = l.startPlainPE(pe)
	}

	capture := l.lab.Dir() + "/core3.pcap"
	dump, err := l.node["pe1"].Start("tcpdump", "--immediate-mode", "-i", "core3", "-n", "-U", "-Z", "root", "-w", capture)
	must(err)
	time.Sleep(500 * time.Millisecond)
	redBefore, blueBefore := l.inEchos("ce-red-3"), l.inEchos("ce-blue-3")
	l.ping("ce-red-1", "10.3.0.2", true)
	l.ping("ce-red-3", "10.1.0.2", true)
	l.ping("ce-red-1", "fd00:3::2", true)
	l.ping("ce-blue-1", "10.3.0.2", true)
	l.ping("ce-blue-3", "10.1.0.2", true)
	if red, blue := l.inEchos("ce-red-3")-redBefore, l.inEchos("ce-blue-3")-blueBefore; red != 3 || blue != 3 {
		t.Errorf("echo requests received: ce-red-3 %d, ce-blue-3 %d; want 3 and 3", red, blue)
	}
	l.ping("ce-red-1", "10.2.0.2", true)  // pe2 over ESP, from the same PE
	l.ping("ce-red-1", "10.4.0.2", false) // via a PE neither protected nor unprotected
	settle(capture)
	_ = dump.Stop()
	checkPlainCapture(t, capture)

	// A labelled frame for pe1's red label, an echo request to ce-red-1:
	// sent on core3 it is taken (the control), sent into pe1's CE
	// interface it must not be.
	pe1Red := l.unhandled("pe1", "red")
	echos := l.inEchos("ce-red-1")
	l.inject("pe3", "core", l.macOf("pe1", "core3"), l.macOf("pe3", "core"), "10.3.0.2")
	waitFor(t, "the frame sent on core3 to reach ce-red-1", func() bool { return l.inEchos("ce-red-1") == echos+1 })
	l.inject("ce-red-1", "eth0", l.macOf("pe1", "red"), l.macOf("ce-red-1", "eth0"), "10.3.0.2")
	time.Sleep(300 * time.Millisecond)
	if got := l.inEchos("ce-red-1"); got != echos+1 {
		t.Errorf("a labelled frame from a CE reached a VRF: ce-red-1 got %d echo requests, want %d", got-echos, 1)
	}
	if after := l.unhandled("pe1", "red"); after < pe1Red+1 {
		t.Errorf("pe1 red: frames dropped unhandled %d -> %d: the labelled frame from the CE was not dropped by the kernel", pe1Red, after)
	}
	// The same frame on core3 from another MAC address (a host on the
	// core segment that is not pe3, pe1's next hop toward 198.51.100.3):
	// dropped (bad-source), while pe3's own frames keep coming in.
	l.inject("pe3", "core", l.macOf("pe1", "core3"), intruderMAC, "10.3.0.2")
	time.Sleep(300 * time.Millisecond)
	if got := l.inEchos("ce-red-1"); got != echos+1 {
		t.Errorf("a labelled frame from %s, no next hop of pe1, reached a VRF: ce-red-1 got %d echo requests, want 1", intruderMAC, got-echos)
	}
	l.ping("ce-red-3", "10.1.0.2", true)

	// Reload without the unprotected peer: nothing leaves on core3.
	must(syscall.Kill(pes["pe1"].Pid(), syscall.SIGUSR1))
	waitLine(t, pes["pe1"].LogPath(), "NOPLAIN", func() bool { ok, _ := pes["pe1"].Exited(); return ok })
	capture2 := l.lab.Dir() + "/core3-noplain.pcap"
	dump, err = l.node["pe1"].StartCommand(netns.Command{Path: "tcpdump", LogName: "tcpdump-noplain",
		Args: []string{"--immediate-mode", "-i", "core3", "-n", "-U", "-Z", "root", "-w", capture2, "mpls or ip"}})
	must(err)
	time.Sleep(500 * time.Millisecond)
	l.ping("ce-red-1", "10.3.0.2", false)
	l.ping("ce-red-1", "10.2.0.2", true) // the protected peer untouched
	settle(capture2)
	_ = dump.Stop()
	if frames := tshark(t, capture2, false, "eth.src == "+l.macOf("pe1", "core3"), "eth.type", "mpls.label"); len(frames) > 0 {
		t.Errorf("with 198.51.100.3 no longer unprotected, pe1 still sent on core3:\n%s", strings.Join(frames, "\n"))
	}
	// Nor does pe1 take pe3's frames any more: pe3 is no next hop of
	// an unprotected peer (bad-source), though its label still names red.
	echos = l.inEchos("ce-red-1")
	l.inject("pe3", "core", l.macOf("pe1", "core3"), l.macOf("pe3", "core"), "10.3.0.2")
	time.Sleep(300 * time.Millisecond)
	if got := l.inEchos("ce-red-1"); got != echos {
		t.Errorf("with 198.51.100.3 no longer unprotected, pe3's labelled frame reached a VRF: ce-red-1 got %d echo requests, want 0", got-echos)
	}
	must(syscall.Kill(pes["pe1"].Pid(), syscall.SIGUSR2))
	waitLine(t, pes["pe1"].LogPath(), "PLAIN", func() bool { ok, _ := pes["pe1"].Exited(); return ok })
	waitFor(t, "red to reach pe3 again", func() bool { return l.pingOnce("ce-red-1", "10.3.0.2") })

	stats := l.stopPlainPE(pes["pe1"])
	red := stats.VRFs["red"]
	t.Logf("pe1 red: out %d in %d; out drops %+v; plain frames in %d", red.OutPackets, red.InPackets, red.OutDrops, stats.PlainIn)
	if red.OutDrops.NoTunnel < 3+3 || stats.PlainIn < 7 {
		t.Errorf("pe1 counters: red out drops %+v, plain frames in %d", red.OutDrops, stats.PlainIn)
	}
	if stats.Inbound.BadSource != 2 {
		t.Errorf("pe1 inbound drops %+v: want bad-source 2 (the frame from %s, pe3's once not unprotected)", stats.Inbound, intruderMAC)
	}
}

// intruderMAC is a host's on pe1's core3 segment that is not pe3.
const intruderMAC = "02:00:5e:00:53:99"

// checkPlainCapture: on core3, pings inside MPLS frames with pe3's labels
// (3001 red, 3002 blue) toward pe3 and pe1's (1001, 1002) back, and
// nothing else but ARP and IPv6's link-local chatter.
func checkPlainCapture(t *testing.T, file string) {
	t.Helper()
	seen := map[string]int{}
	// Not ARP, neighbour discovery or MLD, which IPv6 sends on any link.
	const notLinkLocal = "!arp && !(ipv6.dst == ff02::/16) && !(icmpv6.type >= 133 && icmpv6.type <= 137)"
	for _, f := range tshark(t, file, false, notLinkLocal, "eth.type", "mpls.label", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "esp.spi") {
		fields := strings.Split(f, "\t")
		if fields[0] != "0x8847" {
			t.Errorf("a frame on core3 that is not MPLS: %q", f)
			continue
		}
		if fields[len(fields)-1] != "" {
			t.Errorf("ESP on core3: %q", f)
		}
		seen[strings.Join(fields[1:6], " ")]++
	}
	for _, want := range []string{
		"3001 10.1.0.2 10.3.0.2  ", "1001 10.3.0.2 10.1.0.2  ", // red, both ways
		"3002 10.1.0.2 10.3.0.2  ", "1002 10.3.0.2 10.1.0.2  ", // blue
		"3001   fd00:1::2 fd00:3::2", "1001   fd00:3::2 fd00:1::2", // red IPv6
	} {
		if seen[want] < 3 {
			t.Errorf("core3: %d frames of label, addresses %q, want at least 3; saw %v", seen[want], want, seen)
		}
	}
}

func (l *lab) startPlainPE(pe string) *netns.Process {
	l.t.Helper()
	exe, err := os.Executable()
	l.must(err)
	p, err := l.node[pe].StartCommand(netns.Command{
		Path: exe, Args: []string{"-test.run=^TestHelperPlainPE$", "-test.v"},
		Env: []string{plainHelperEnv + "=" + pe}, LogName: "plain-backend",
	})
	l.must(err)
	waitLine(l.t, p.LogPath(), "READY", func() bool { ok, _ := p.Exited(); return ok })
	return p
}

func (l *lab) stopPlainPE(p *netns.Process) fib.Stats {
	l.t.Helper()
	l.must(p.Stop())
	var s fib.Stats
	line := waitLine(l.t, p.LogPath(), "STATS ", func() bool { return true })
	l.must(json.Unmarshal([]byte(strings.TrimPrefix(line, "STATS ")), &s))
	return s
}

// inject sends, from node's interface ifname, an MPLS frame to dstMAC
// carrying pe1's red label 1001 over an ICMP echo request from src to
// ce-red-1 (10.1.0.2).
func (l *lab) inject(node, ifname, dstMAC, srcMAC, src string) {
	l.t.Helper()
	dst, err := net.ParseMAC(dstMAC)
	l.must(err)
	srcm, err := net.ParseMAC(srcMAC)
	l.must(err)
	f := append(append(append([]byte{}, dst...), srcm...), 0x88, 0x47)
	var e [4]byte
	mpls.EncodeEntry(e[:], 1001, 0, true, 64)
	f = append(f, e[:]...)
	echo := ipv4(src, "10.1.0.2", 64, 64)
	binary.BigEndian.PutUint16(echo[22:], 0)
	binary.BigEndian.PutUint16(echo[22:], ^foldSum(echo[20:]))
	f = append(f, echo...)
	exe, err := os.Executable()
	l.must(err)
	p, err := l.node[node].StartCommand(netns.Command{
		Path: exe, Args: []string{"-test.run=^TestHelperInject$", "-test.v"},
		Env: []string{injectEnv + "=" + ifname + " " + hex.EncodeToString(f)}, LogName: "inject-" + node,
	})
	l.must(err)
	<-p.Done()
	waitLine(l.t, p.LogPath(), "SENT", func() bool { return true })
}

// unhandled is how many frames node's interface ifname dropped for want
// of a protocol handler: rx_nohandler, or rx_dropped where the kernel
// (6.x, a frame not for an exact-match handler) counts them there.
func (l *lab) unhandled(node, ifname string) int {
	n := 0
	for _, c := range []string{"rx_nohandler", "rx_dropped"} {
		n += atoi(l.t, l.exec(node, "cat", "/sys/class/net/"+ifname+"/statistics/"+c))
	}
	return n
}

// macOf is node's interface's MAC address.
func (l *lab) macOf(node, ifname string) string {
	return strings.TrimSpace(l.exec(node, "cat", "/sys/class/net/"+ifname+"/address"))
}

// pingOnce reports whether one echo from node to dst is answered.
func (l *lab) pingOnce(node, dst string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := l.node[node].Exec(ctx, "ping", "-n", "-c", "1", "-W", "1", dst)
	return err == nil
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for range 50 {
		if ok() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
