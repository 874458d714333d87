package userspace

// No clear text out of a VRF and no way into one,
// in every state of the backend. One PE, as containerlab builds a node:
// its main table has a default route out of a management interface.
//
//	ce-red-1  eth0 ─── red  ┐                    ┌ core ─── core  p     192.0.2.2/24, 10/8 and fd00::/8 via pe1
//	10.1.0.2/24, fd00:1::2  pe1 (pe1State)      │
//	ce-blue-1 eth0 ─── blue ┘ default via mgmt ──┴ mgmt ─── mgmt  sink  198.51.100.2/24, 10/8 via pe1; no forwarding
//	10.1.0.2/24                192.0.2.1/24, 198.51.100.1/24
//
// tcpdump runs on every interface of pe1 that carries no ESP: mgmt, core
// (pe1's peer PE never runs, so nothing on the core is ESP), red and
// blue. Checked, with the backend running: a CE pings its PE-side address
// and connects to its port 179, but reaches none of the PE's core,
// management or loopback addresses (ping, TCP 179 and 9100); p and the sink reach no CE, while they still reach the PE's
// own address and port 179. After a reload that removes VRF blue, blue's
// packets go nowhere; after SIGTERM (Close; a failed start closes the
// backend the same way), no VRF's do. A new run adopts the quarantine (red
// works again) and releases an interface its State does not name.

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// newEdgeLab builds the lab and starts tcpdump on pe1's interfaces.
func newEdgeLab(t *testing.T) (*lab, map[string]*capture) {
	if testing.Short() {
		t.Skip("-short: skipping the namespace lab")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	l := &lab{t: t, lab: netns.NewLab(t), node: map[string]*netns.Node{}}
	l.buildEdge()
	return l, l.startCaptures()
}

// checkCaptures stops tcpdump and fails for every packet that must not
// have left pe1 where it did.
func checkCaptures(t *testing.T, caps map[string]*capture) {
	for name, c := range caps {
		if got := c.stop(t); len(got) > 0 {
			t.Errorf("pe1 %s carried %d packets in clear it must not have:\n%s", name, len(got), strings.Join(got, "\n"))
		}
	}
}

// TestNetnsIsolation: with the backend running, CEs
// reach only their VRF, and nothing from the core or the management
// network reaches a CE.
func TestNetnsIsolation(t *testing.T) {
	l, caps := newEdgeLab(t)
	pe := l.startPEWith("pe1", "none")
	l.ping("ce-red-1", "10.1.0.1", true)   // its PE-side address
	l.ping("ce-red-1", "fd00:1::1", true)  // the same, IPv6 (ND through the VRF table)
	l.ping("ce-red-1", "192.0.2.1", false) // the PE's core address
	l.ping("ce-red-1", "198.51.100.1", false)
	l.ping("ce-red-1", "198.51.100.2", false) // the sink, through the main table's default
	l.ping("ce-blue-1", "198.51.100.2", false)
	l.ping("ce-red-1", "192.0.2.99", false) // the PE's loopback address
	for _, dst := range []string{"192.0.2.1", "198.51.100.1", "192.0.2.99"} {
		l.tcp("ce-red-1", dst+":179", false)
		l.tcp("ce-red-1", dst+":9100", false)
	}
	l.tcp("ce-red-1", "[fd00:1::1]:179", true) // its PE-side address: the PE-CE session's
	echos := l.inEchos("ce-red-1")
	l.ping("p", "10.1.0.2", false) // from the core into a CE subnet
	l.ping("p", "fd00:1::2", false)
	l.ping("sink", "10.1.0.2", false)
	if n := l.inEchos("ce-red-1") - echos; n != 0 {
		t.Errorf("ce-red-1 received %d echo requests from outside its VRF", n)
	}
	l.ping("p", "192.0.2.1", true) // the PE itself stays reachable from the core
	l.tcp("p", "192.0.2.1:179", true)
	l.tcp("sink", "198.51.100.1:179", true)
	l.stopPE(pe)
	checkCaptures(t, caps)
}

// TestNetnsQuarantine: after a reload that removes a
// VRF, after Close, and after a start that fails, no CE's packet leaves
// pe1, and the next run takes the quarantine over.
func TestNetnsQuarantine(t *testing.T) {
	l, caps := newEdgeLab(t)
	pe := l.startPEWith("pe1", "none")
	l.ping("ce-red-1", "10.1.0.1", true)

	// A reload that removes VRF blue: its CE stays cut off.
	if err := syscall.Kill(pe.Pid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	waitLine(t, pe.LogPath(), "NOBLUE", func() bool { ok, _ := pe.Exited(); return ok })
	l.ping("ce-blue-1", "198.51.100.2", false)
	l.ping("ce-blue-1", "203.0.113.1", false)
	l.ping("ce-red-1", "10.1.0.1", true)

	// SIGTERM: Close, with both CEs sending to the core and the
	// management network throughout (the captures see what leaks while
	// Close takes the rules, routes and TUNs down). Nothing from either
	// CE gets anywhere, then or after.
	var floods []*netns.Process
	for _, ce := range []string{"ce-red-1", "ce-blue-1"} {
		for _, dst := range []string{"198.51.100.2", "192.0.2.2"} {
			p, err := l.node[ce].StartCommand(netns.Command{Path: "ping", Args: []string{"-n", "-q", "-i", "0.01", "-w", "4", dst}, LogName: "flood-" + ce + "-" + dst})
			if err != nil {
				t.Fatal(err)
			}
			floods = append(floods, p)
		}
	}
	time.Sleep(500 * time.Millisecond)
	l.stopPE(pe)
	for _, p := range floods {
		<-p.Done()
	}
	quarantine := l.exec("pe1", "ip", "rule", "show", "protocol", "204")
	for _, ifname := range []string{"red", "blue"} {
		if !strings.Contains(quarantine, "iif "+ifname+" blackhole") {
			t.Errorf("after Close, no quarantine rule for %s:\n%s", ifname, quarantine)
		}
	}
	// The host skip and the anchor stay, in both families: Close prunes
	// the host skip with the rest and adds it back.
	for _, fam := range []string{"-4", "-6"} {
		rules := l.exec("pe1", "ip", fam, "rule", "show", "protocol", "204")
		for _, want := range []string{"iif lo goto", "nop"} {
			if !strings.Contains(rules, want) {
				t.Errorf("after Close, ip %s rule has no %q rule:\n%s", fam, want, rules)
			}
		}
	}
	for _, ce := range []string{"ce-red-1", "ce-blue-1"} {
		l.ping(ce, "198.51.100.2", false)
		l.ping(ce, "203.0.113.1", false)
		l.ping(ce, "10.2.0.2", false)
	}
	l.ping("ce-red-1", "fd00:2::2", false)
	l.ping("p", "10.1.0.2", false)

	// A start that fails before its first Apply closes a Backend that
	// never applied: the quarantine is not its to release.
	failed, err := l.node["pe1"].StartCommand(netns.Command{
		Path: os.Args[0], Args: []string{"-test.run=^TestHelperPE$", "-test.v"},
		Env: []string{helperEnv + "=pe1", helperNoApplyEnv + "=1"}, LogName: "backend-noapply",
	})
	if err != nil {
		t.Fatal(err)
	}
	waitLine(t, failed.LogPath(), "CLOSED", func() bool { ok, _ := failed.Exited(); return ok })
	if after := l.exec("pe1", "ip", "rule", "show", "protocol", "204"); after != quarantine {
		t.Errorf("a backend closed without an Apply changed the quarantine from\n%s\nto\n%s", quarantine, after)
	}
	l.ping("ce-red-1", "198.51.100.2", false)

	// The next run adopts red's quarantine, and releases blue, which its
	// State does not name.
	pe = l.startPEWith("pe1", "blue")
	l.ping("ce-red-1", "10.1.0.1", true)
	if rules := l.exec("pe1", "ip", "rule", "show", "protocol", "204"); strings.Contains(rules, "iif blue") {
		t.Errorf("a run without blue still holds it:\n%s", rules)
	}
	l.stopPE(pe)
	checkCaptures(t, caps)
}

// buildEdge builds the one-PE lab of TestNetnsIsolation and
// TestNetnsQuarantine.
func (l *lab) buildEdge() {
	l.addNodes("pe1", "ce-red-1", "ce-blue-1", "p", "sink")
	must := l.must
	must(l.lab.Link(l.node["pe1"], "core", l.node["p"], "core"))
	must(l.lab.Link(l.node["pe1"], "mgmt", l.node["sink"], "mgmt"))
	must(l.node["pe1"].AddAddr("core", pfx("192.0.2.1/24")))
	must(l.node["p"].AddAddr("core", pfx("192.0.2.2/24")))
	must(l.node["p"].AddAddr("core", pfx("2001:db8::2/64")))
	must(l.node["pe1"].AddAddr("core", pfx("2001:db8::1/64")))
	must(l.node["pe1"].AddAddr("mgmt", pfx("198.51.100.1/24")))
	must(l.node["pe1"].AddAddr("lo", pfx("192.0.2.99/32")))
	must(l.node["sink"].AddAddr("mgmt", pfx("198.51.100.2/24")))
	l.exec("pe1", "ip", "route", "add", "default", "via", "198.51.100.2")
	l.exec("p", "ip", "route", "add", "10.0.0.0/8", "via", "192.0.2.1")
	l.exec("p", "ip", "-6", "route", "add", "fd00::/8", "via", "2001:db8::1")
	l.exec("sink", "ip", "route", "add", "10.0.0.0/8", "via", "198.51.100.1")
	for _, vrf := range []string{"red", "blue"} {
		ce := l.node["ce-"+vrf+"-1"]
		must(l.lab.Link(l.node["pe1"], vrf, ce, "eth0"))
		must(l.node["pe1"].AddAddr(vrf, pfx("10.1.0.1/24")))
		must(ce.AddAddr("eth0", pfx("10.1.0.2/24")))
		l.exec(ce.Name(), "ip", "route", "add", "default", "via", "10.1.0.1")
	}
	must(l.node["pe1"].AddAddr("red", pfx("fd00:1::1/64")))
	must(l.node["ce-red-1"].AddAddr("eth0", pfx("fd00:1::2/64")))
	l.exec("ce-red-1", "ip", "-6", "route", "add", "default", "via", "fd00:1::1")
	time.Sleep(2 * time.Second) // IPv6 duplicate address detection
}

// startPEWith starts pe1's helper with VRF without left out of its State
// ("none": all of it) and a listener on TCP port 179.
func (l *lab) startPEWith(pe, without string) *netns.Process {
	l.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	p, err := l.node[pe].StartCommand(netns.Command{
		Path: exe, Args: []string{"-test.run=^TestHelperPE$", "-test.v"},
		Env: []string{helperEnv + "=" + pe, helperWithoutEnv + "=" + without}, LogName: "backend",
	})
	if err != nil {
		l.t.Fatal(err)
	}
	if ready := waitLine(l.t, p.LogPath(), "READY", func() bool { ok, _ := p.Exited(); return ok }); ready != "READY 0" {
		l.t.Errorf("%s: a second Apply of the same State changed %s rules and routes, want none", pe, strings.TrimPrefix(ready, "READY "))
	}
	return p
}

// tcp connects from node to dst and checks that the connection was
// accepted, or not.
func (l *lab) tcp(node, dst string, want bool) {
	l.t.Helper()
	host, port, _ := strings.Cut(dst, ":")
	if strings.HasPrefix(dst, "[") {
		host, port, _ = strings.Cut(dst[1:], "]:")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := l.node[node].Exec(ctx, "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/"+host+"/"+port)
	if ok := err == nil; ok != want {
		l.t.Errorf("tcp %s -> %s: connected %v, want %v\n%s%v", node, dst, ok, want, out, err)
	}
}

// capture is tcpdump on one of pe1's interfaces, writing to a file, and
// the filter of the packets that must not be there.
type capture struct {
	node   *netns.Node
	proc   *netns.Process
	file   string
	forbid string
}

// startCaptures starts tcpdump on what pe1 sends out of each of its
// interfaces that carry no ESP: out of mgmt and core, nothing to or from a
// CE address may pass; out of the CE interfaces, nothing from the core's or
// the management network's addresses.
func (l *lab) startCaptures() map[string]*capture {
	ceNets := "net 10.0.0.0/8 or net fd00::/8"
	outside := "src net 192.0.2.0/24 or src net 198.51.100.0/24 or src net 2001:db8::/64"
	caps := map[string]*capture{}
	for ifname, forbid := range map[string]string{"mgmt": ceNets, "core": ceNets, "red": outside, "blue": outside} {
		c := &capture{node: l.node["pe1"], file: l.lab.Dir() + "/leak-" + ifname + ".pcap", forbid: forbid}
		p, err := l.node["pe1"].StartCommand(netns.Command{Path: "tcpdump", LogName: "tcpdump-" + ifname,
			Args: []string{"--immediate-mode", "-Q", "out", "-i", ifname, "-n", "-U", "-Z", "root", "-w", c.file}})
		if err != nil {
			l.t.Fatal(err)
		}
		c.proc, caps[ifname] = p, c
	}
	time.Sleep(500 * time.Millisecond) // tcpdump opens the interfaces
	return caps
}

// stop stops tcpdump and returns the forbidden packets it saw.
func (c *capture) stop(t *testing.T) []string {
	settle(c.file)
	_ = c.proc.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := c.node.Exec(ctx, "tcpdump", "-n", "-r", c.file, c.forbid)
	if err != nil {
		t.Errorf("reading %s: %v\n%s", c.file, err, out)
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.HasPrefix(line, "reading from") {
			lines = append(lines, line)
		}
	}
	return lines
}
