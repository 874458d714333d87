package userspace

// The userspace backend alone (no daemon, States built by hand), one per PE
// namespace, each in a helper process (helper_test.go):
//
//	ce-red-1  eth0 ─── red  ┐                                  ┌ red  ─── eth0 ce-red-2
//	10.1.0.2/24, fd00:1::2  pe1 core ══════════════════ core pe2   10.2.0.2/24, fd00:2::2
//	ce-blue-1 eth0 ─── blue ┘ 192.0.2.1/24      192.0.2.2/24 └ blue ─── eth0 ce-blue-2
//	10.1.0.2/24 (red's address)                               10.2.0.2/24 (red's address),
//	                                                          and 10.9.9.9/32 on lo (blue only)
//
//	pe1: red and blue both 10.1.0.1/24 (red also fd00:1::1/64); pe2: 10.2.0.1/24, fd00:2::1/64
//	labels: pe1 red 1001, blue 1002; pe2 red 2001, blue 2002
//	tunnel: ESP-in-UDP 4500, aes128gcm16, SPI 0x1001 pe1->pe2, 0x2001 pe2->pe1, fixed keys
//
// Checked: red pings across the core both ways, IPv4 and IPv6; the ping
// lands on ce-red-2, never on ce-blue-2 at the same address; red cannot
// reach blue's 10.9.9.9 and blue can; the core carries only ESP-in-UDP
// between the PEs (tshark without keys finds no CE address, with the keys
// it finds the pings inside, labelled per VRF); a PE killed with SIGKILL
// leaves rules behind that its successor's Apply takes over; without an
// outbound SA nothing leaves and the drops are counted; Close leaves no
// route (its quarantine rules are leaks_test.go's).

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/internal/procstat"
	"github.com/peregrine-net/peregrine/labs/netns"
)

type lab struct {
	t    *testing.T
	lab  *netns.Lab
	node map[string]*netns.Node
}

func TestNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the namespace lab")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	l := &lab{t: t, lab: netns.NewLab(t), node: map[string]*netns.Node{}}
	l.build()

	pe1 := l.startPE("pe1")
	l.startPE("pe2")

	// A crash: pe1 dies without Close. Its TUNs go with it; its rules and
	// routes stay, and the next backend's Apply must take them over.
	if err := syscall.Kill(pe1.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-pe1.Done()
	if out := l.exec("pe1", "ip", "rule", "show", "protocol", "204"); !strings.Contains(out, "lookup 101") {
		t.Fatalf("expected a crashed run's rules, got:\n%s", out)
	}
	pe1 = l.startPE("pe1")

	capture := l.lab.Dir() + "/core.pcap"
	dump, err := l.node["pe1"].Start("tcpdump", "--immediate-mode", "-i", "core", "-n", "-U", "-Z", "root", "-w", capture)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // tcpdump opens the interface

	redBefore, blueBefore := l.inEchos("ce-red-2"), l.inEchos("ce-blue-2")
	l.ping("ce-red-1", "10.2.0.2", true)
	l.ping("ce-red-2", "10.1.0.2", true)
	l.ping("ce-red-1", "fd00:2::2", true)
	l.ping("ce-red-2", "fd00:1::2", true)
	l.ping("ce-blue-1", "10.2.0.2", true)
	// Three IPv4 echo requests each: red's reached ce-red-2 only, although
	// ce-blue-2 has the same address.
	if red, blue := l.inEchos("ce-red-2")-redBefore, l.inEchos("ce-blue-2")-blueBefore; red != 3 || blue != 3 {
		t.Errorf("echo requests received: ce-red-2 %d, ce-blue-2 %d; want 3 and 3", red, blue)
	}
	l.ping("ce-red-1", "10.9.9.9", false) // blue's, not red's
	l.ping("ce-blue-1", "10.9.9.9", true)
	settle(capture)
	if err := dump.Stop(); err != nil {
		t.Error(err)
	}
	checkCapture(t, capture)

	// Fail closed: pe1 loses its outbound SA; nothing leaves in clear.
	if err := syscall.Kill(pe1.Pid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitLine(t, pe1.LogPath(), "NOSA", func() bool { ok, _ := pe1.Exited(); return ok })
	capture2 := l.lab.Dir() + "/core-nosa.pcap"
	dump, err = l.node["pe1"].StartCommand(netns.Command{Path: "tcpdump", LogName: "tcpdump-nosa",
		Args: []string{"--immediate-mode", "-i", "core", "-n", "-U", "-Z", "root", "-w", capture2, "ip"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	l.ping("ce-red-1", "10.2.0.2", false)
	settle(capture2)
	_ = dump.Stop()
	if frames := tshark(t, capture2, false, "ip", "ip.src", "ip.dst"); len(frames) > 0 {
		t.Errorf("without an outbound SA, pe1 still sent %d packets:\n%s", len(frames), strings.Join(frames, "\n"))
	}

	stats := l.stopPE(pe1)
	red := stats.VRFs["red"]
	t.Logf("pe1 red: out %d packets %d bytes, in %d packets; out drops %+v", red.OutPackets, red.OutBytes, red.InPackets, red.OutDrops)
	if red.OutDrops.NoSA < 2 || red.OutPackets < 6 || red.InPackets < 6 {
		t.Errorf("pe1 red counters: %+v", red)
	}
	if out := l.exec("pe1", "ip", "link", "show"); strings.Contains(out, "pg-") {
		t.Errorf("TUN devices left after Close:\n%s", out)
	}
}

// settle waits until tcpdump has stopped writing to file (it is given
// packets a little after they cross), up to 3 s.
func settle(file string) {
	last := int64(-1)
	for range 30 {
		time.Sleep(300 * time.Millisecond)
		fi, err := os.Stat(file)
		if err == nil && fi.Size() == last {
			return
		}
		if err == nil {
			last = fi.Size()
		}
	}
}

// addNodes adds a namespace for each name to the lab.
func (l *lab) addNodes(names ...string) {
	for _, n := range names {
		node, err := l.lab.AddNode(n)
		l.must(err)
		l.node[n] = node
	}
}

// must fails the test on err, for the lab's set-up steps.
func (l *lab) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) build() {
	l.addNodes("pe1", "pe2", "ce-red-1", "ce-blue-1", "ce-red-2", "ce-blue-2")
	must := l.must
	must(l.lab.Link(l.node["pe1"], "core", l.node["pe2"], "core"))
	must(l.node["pe1"].AddAddr("core", pfx("192.0.2.1/24")))
	must(l.node["pe2"].AddAddr("core", pfx("192.0.2.2/24")))
	for _, site := range []string{"1", "2"} {
		for _, vrf := range []string{"red", "blue"} {
			ce := l.node["ce-"+vrf+"-"+site]
			pe := l.node["pe"+site]
			must(l.lab.Link(pe, vrf, ce, "eth0"))
			must(pe.AddAddr(vrf, pfx("10."+site+".0.1/24")))
			must(ce.AddAddr("eth0", pfx("10."+site+".0.2/24")))
			l.exec(ce.Name(), "ip", "route", "add", "default", "via", "10."+site+".0.1")
			if vrf == "red" {
				must(pe.AddAddr(vrf, pfx("fd00:"+site+"::1/64")))
				must(ce.AddAddr("eth0", pfx("fd00:"+site+"::2/64")))
				l.exec(ce.Name(), "ip", "-6", "route", "add", "default", "via", "fd00:"+site+"::1")
			}
		}
	}
	must(l.node["ce-blue-2"].AddAddr("lo", pfx("10.9.9.9/32")))
}

func (l *lab) exec(node string, args ...string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := l.node[node].Exec(ctx, args...)
	if err != nil {
		l.t.Fatalf("%v", err)
	}
	return string(out)
}

// startPE starts a PE's helper and waits until its backend has applied.
func (l *lab) startPE(pe string) *netns.Process { l.t.Helper(); return l.startPEAs(pe, pe) }

// startPEAs starts a helper in PE pe's namespace that applies
// helperStates[state].
func (l *lab) startPEAs(pe, state string) *netns.Process {
	l.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	p, err := l.node[pe].StartCommand(netns.Command{
		Path: exe, Args: []string{"-test.run=^TestHelperPE$", "-test.v"},
		Env: []string{helperEnv + "=" + state}, LogName: "backend",
	})
	if err != nil {
		l.t.Fatal(err)
	}
	if ready := waitLine(l.t, p.LogPath(), "READY", func() bool { ok, _ := p.Exited(); return ok }); ready != "READY 0" {
		l.t.Errorf("%s: a second Apply of the same State changed %s rules and routes, want none", pe, strings.TrimPrefix(ready, "READY "))
	}
	return p
}

// stopPE stops a helper with SIGTERM and returns the counters it printed;
// it checks that Close left nothing behind.
func (l *lab) stopPE(p *netns.Process) fib.Stats {
	l.t.Helper()
	if err := p.Stop(); err != nil {
		l.t.Fatal(err)
	}
	exited := func() bool { return true }
	var s fib.Stats
	line := waitLine(l.t, p.LogPath(), "STATS ", exited)
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "STATS ")), &s); err != nil {
		l.t.Fatal(err)
	}
	if closed := waitLine(l.t, p.LogPath(), "CLOSED ", exited); closed != "CLOSED 0" {
		l.t.Errorf("after Close: %s routes of protocol 204 left", strings.TrimPrefix(closed, "CLOSED "))
	}
	return s
}

// ping pings dst from node and checks that it got answers, or none.
func (l *lab) ping(node, dst string, want bool) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := l.node[node].Exec(ctx, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", dst)
	if ok := err == nil; ok != want {
		l.t.Errorf("ping %s -> %s: got answers %v, want %v\n%s%v", node, dst, ok, want, out, err)
		return
	}
	l.t.Logf("ping %s -> %s: %s", node, dst, lastLines(string(out), 2))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// inEchos reads the node's count of ICMP echo requests received.
func (l *lab) inEchos(node string) int {
	n, err := procstat.ParseSNMP([]byte(l.exec(node, "cat", "/proc/net/snmp")), "Icmp", "InEchos")
	if err != nil {
		l.t.Fatalf("%s: %v", node, err)
	}
	return int(n)
}

var cePrefixes = []netip.Prefix{pfx("10.0.0.0/8"), pfx("fd00::/8")}
