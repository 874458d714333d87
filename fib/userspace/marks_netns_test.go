package userspace

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/internal/procstat"
)

// The mark tree with real packets, in one namespace: frames are written
// with a packet socket on the far end of a veth (its SO_MARK rides along,
// as it does between two ends in one namespace), the kernel routes them,
// and the out interface whose transmit counter moves says which table
// the packet met:
//
//	ce1p ==veth== ce1 (red, 10.1.0.1/24)      red-out  <- table 101: 10.99.0.0/24, local 10.1.0.1
//	pg-redp ==veth== pg-red (red's "TUN")
//	ce2p ==veth== ce2 (blue, 10.2.0.1/24)     blue-out <- table 102: 10.99.0.0/24
//	core0p ==veth== core0 (the core)          main-out <- main:      10.99.0.0/24
//	                                          ce1 -> ce1p: main's connected 10.1.0.0/24
//
// Each table but main ends in its blackhole default, as syncRoutes makes
// them.

// markLab is the namespace's state: the backend's rules and marks.
type markLab struct {
	t     *testing.T
	h     *netlink.Handle
	sys   *system
	nft   *nftMarks
	marks map[string]uint32
	vrfs  map[string]*fib.VRF
}

func newMarkLab(t *testing.T, h *netlink.Handle) *markLab {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, pair := range [][2]string{{"ce1", "ce1p"}, {"ce2", "ce2p"}, {"core0", "core0p"}, {"red-out", "red-outp"}, {"blue-out", "blue-outp"}, {"main-out", "main-outp"}, {"pg-red", "pg-redp"}} {
		must(h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: pair[0]}, PeerName: pair[1]}))
		for _, n := range pair {
			// No IPv6: its solicitations would move the counters.
			must(os.WriteFile("/proc/sys/net/ipv6/conf/"+n+"/disable_ipv6", []byte("1"), 0o644))
			l, err := h.LinkByName(n)
			must(err)
			must(h.LinkSetUp(l))
		}
	}
	for _, p := range []string{"/proc/sys/net/ipv4/conf/all/rp_filter", "/proc/sys/net/ipv4/conf/default/rp_filter"} {
		must(os.WriteFile(p, []byte("0"), 0o644))
	}
	must(enableForwarding())
	addr := func(dev, a string) {
		l, err := h.LinkByName(dev)
		must(err)
		ad, err := netlink.ParseAddr(a)
		must(err)
		must(h.AddrAdd(l, ad))
	}
	addr("ce1", "10.1.0.1/24")
	addr("ce2", "10.2.0.1/24")
	addr("core0", "192.0.2.1/24")
	route := func(dev string, table int, dst string, neigh string) {
		l, err := h.LinkByName(dev)
		must(err)
		_, n, _ := net.ParseCIDR(dst)
		must(h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: n, Table: table, Scope: netlink.SCOPE_LINK}))
		must(h.NeighAdd(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
			IP: net.ParseIP(neigh), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 9}}))
	}
	route("red-out", 101, "10.99.0.0/24", "10.99.0.5")
	route("blue-out", 102, "10.99.0.0/24", "10.99.0.5")
	route("main-out", unix.RT_TABLE_MAIN, "10.99.0.0/24", "10.99.0.5")
	_ = h.NeighAdd(&netlink.Neigh{LinkIndex: linkIndex(t, h, "ce1"), Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
		IP: net.ParseIP("10.1.0.2"), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 8}})
	// The copy of ce1's local route that syncRoutes puts in red's table.
	must(h.RouteAdd(&netlink.Route{LinkIndex: linkIndex(t, h, "ce1"), Dst: &net.IPNet{IP: net.IP{10, 1, 0, 1}, Mask: net.CIDRMask(32, 32)},
		Table: 101, Type: unix.RTN_LOCAL, Scope: netlink.SCOPE_HOST}))
	for _, table := range []int{101, 102} {
		_, all, _ := net.ParseCIDR("0.0.0.0/0")
		must(h.RouteAdd(&netlink.Route{Dst: all, Table: table, Type: unix.RTN_BLACKHOLE, Priority: unreachableMetric}))
	}
	l := &markLab{t: t, h: h, sys: &system{h: h, prio: DefaultRulePriority}, nft: &nftMarks{},
		vrfs: map[string]*fib.VRF{
			"red":  {Name: "red", Table: 101, Interfaces: []string{"ce1"}},
			"blue": {Name: "blue", Table: 102, Interfaces: []string{"ce2"}},
		}}
	var mt markTable
	l.marks = mt.assign([]string{"red", "blue"})
	// The CE subnets' rules need the addresses, as Apply gives them.
	set := planRules(DefaultRulePriority, l.vrfs, nil, map[string][]netip.Prefix{"ce1": {pfx("10.1.0.1/24")}, "ce2": {pfx("10.2.0.1/24")}})
	addMarkTree(set, DefaultRulePriority, l.vrfs, l.marks)
	addCoreSkip(set, DefaultRulePriority, "core0", func(n string) bool { return n == "ce1" || n == "ce2" })
	must(l.sys.syncRules(set, false))
	must(l.sys.syncRules(set, true))
	t.Cleanup(l.nft.close)
	if err := l.nft.sync(interfaceMarks(l.vrfs, l.marks)); err != nil {
		t.Skipf("nftables unavailable: %v", err)
	}
	return l
}

func linkIndex(t *testing.T, h *netlink.Handle, name string) int {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Index
}

// txPackets is the transmit counter of dev.
func (l *markLab) txPackets(dev string) uint64 {
	l.t.Helper()
	lk, err := l.h.LinkByName(dev)
	if err != nil {
		l.t.Fatal(err)
	}
	return lk.Attrs().Statistics.TxPackets
}

// send writes n IPv4 packets from src to dst on the far end of in's
// veth (inPeer), with skb mark mark, and returns how many left by each
// of the out interfaces.
func (l *markLab) send(inPeer, in, src, dst string, mark uint32, n int) map[string]uint64 {
	l.t.Helper()
	outs := []string{"red-out", "blue-out", "main-out", "ce1"}
	before := map[string]uint64{}
	for _, o := range outs {
		before[o] = l.txPackets(o)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		l.t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(mark)); err != nil {
		l.t.Fatal(err)
	}
	peer, err := l.h.LinkByName(inPeer)
	if err != nil {
		l.t.Fatal(err)
	}
	inLink, err := l.h.LinkByName(in)
	if err != nil {
		l.t.Fatal(err)
	}
	frame := append(append(append([]byte{}, inLink.Attrs().HardwareAddr...), peer.Attrs().HardwareAddr...), 0x08, 0x00)
	frame = append(frame, ipv4(src, dst, 64, 64)...)
	for range n {
		if err := unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: peer.Attrs().Index, Protocol: htons(unix.ETH_P_IP)}); err != nil {
			l.t.Fatal(err)
		}
	}
	got := map[string]uint64{}
	settleCounters(func() any {
		got = map[string]uint64{}
		for _, o := range outs {
			got[o] = l.txPackets(o) - before[o]
		}
		return fmt.Sprint(got)
	})
	return got
}

// settleCounters polls read until its value holds for 100 ms (3 s at most): the
// kernel may route the frames written later, in a softirq (ksoftirqd).
func settleCounters(read func() any) {
	last, since := read(), time.Now()
	for start := time.Now(); time.Since(start) < 3*time.Second; {
		time.Sleep(20 * time.Millisecond)
		if v := read(); v != last {
			last, since = v, time.Now()
		} else if time.Since(since) >= 100*time.Millisecond {
			return
		}
	}
}

// only says whether all n packets left by dev and none by the others.
func only(got map[string]uint64, dev string, n int) bool {
	for o, c := range got {
		if (o == dev) != (c == uint64(n)) || (o != dev && c != 0) {
			return false
		}
	}
	return true
}

// TestMarkTreeSteersCEPackets: a CE's packets reach their VRF's table
// through the tree (its fallback rule deleted), through the fallback
// (the marks deleted), and whatever mark they came with: red's CE
// forging blue's mark reaches red, with the marks or without.
func TestMarkTreeSteersCEPackets(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		l := newMarkLab(t, h)
		const n = 10
		blueMark := fwmark(l.marks["blue"])
		cases := []struct {
			name      string
			mark      uint32
			withMarks bool
		}{
			{"marked", 0, true},
			{"forged blue mark, marked over", blueMark, true},
			{"unmarked: the fallback", 0, false},
			{"forged blue mark, unmarked: the fallback", blueMark, false},
		}
		for _, c := range cases {
			if !c.withMarks {
				if err := l.nft.remove(); err != nil {
					t.Fatal(err)
				}
			}
			if got := l.send("ce1p", "ce1", "10.1.0.2", "10.99.0.5", c.mark, n); !only(got, "red-out", n) {
				t.Errorf("%s: red's CE packets left by %v, want all %d by red-out", c.name, got, n)
			}
			if got := l.send("ce2p", "ce2", "10.2.0.2", "10.99.0.5", 0, n); !only(got, "blue-out", n) {
				t.Errorf("%s: blue's CE packets left by %v, want all %d by blue-out", c.name, got, n)
			}
		}
		// The tree alone: with the marks back and the fallback rules
		// gone, the leaves still steer each CE to its table.
		if err := l.nft.sync(interfaceMarks(l.vrfs, l.marks)); err != nil {
			t.Fatal(err)
		}
		for _, iif := range []string{"ce1", "ce2"} {
			for _, fam := range families {
				if err := h.RuleDel(netlinkRule(ruleKey{family: fam, pref: DefaultRulePriority, iif: iif, table: int(l.vrfs[map[string]string{"ce1": "red", "ce2": "blue"}[iif]].Table)})); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := l.send("ce1p", "ce1", "10.1.0.2", "10.99.0.5", blueMark, n); !only(got, "red-out", n) {
			t.Errorf("tree alone: red's CE packets left by %v, want all %d by red-out", got, n)
		}
		if got := l.send("ce2p", "ce2", "10.2.0.2", "10.99.0.5", 0, n); !only(got, "blue-out", n) {
			t.Errorf("tree alone: blue's CE packets left by %v, want all %d by blue-out", got, n)
		}
	})
}

// TestCorePacketToCEDropped: a packet from the core to a CE's address
// (the main table's connected route would deliver it) is dropped,
// unmarked or carrying red's or blue's mark (the nftables map does
// not name the core, so a mark set on the core's side stays).
func TestCorePacketToCEDropped(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		l := newMarkLab(t, h)
		const n = 10
		for _, mark := range []uint32{0, fwmark(l.marks["red"]), fwmark(l.marks["blue"])} {
			got := l.send("core0p", "core0", "192.0.2.2", "10.1.0.2", mark, n)
			if got["ce1"] != 0 || got["main-out"] != 0 {
				t.Errorf("mark %#x: the core's packets to red's CE left by %v, want none", mark, got)
			}
			// The core still reaches the main table's other routes: the
			// drop is the CE subnet rule's, not a broken setup.
			if got := l.send("core0p", "core0", "192.0.2.2", "10.99.0.5", mark, n); !only(got, "main-out", n) {
				t.Errorf("mark %#x: the core's packets to 10.99.0.5 left by %v, want all %d by main-out", mark, got, n)
			}
		}
	})
}

// ipInDelivers is the namespace's Ip InDelivers counter (/proc/thread-self/net/snmp):
// the packets delivered to its own sockets and protocols.
func ipInDelivers(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/net/snmp") // this thread's namespace; /proc/net is the process's
	if err != nil {
		t.Fatal(err)
	}
	n, err := procstat.ParseSNMP(b, "Ip", "InDelivers")
	if err != nil {
		t.Fatal(err)
	}
	return uint64(n)
}

// TestMarkTreeTUNToPEDropped: a packet out of red's TUN to the PE's
// address on red's CE interface (in red's table, for the CE) is dropped
// by the copy of the TUN-to-PE blackhole in the TUN's bucket, before
// its leaf, with the fallback's blackhole gone; and delivered once that
// copy is gone too (the test's own control).
func TestMarkTreeTUNToPEDropped(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		l := newMarkLab(t, h)
		const n = 10
		sendToPE := func() uint64 {
			before := ipInDelivers(t)
			l.send("pg-redp", "pg-red", "10.99.0.7", "10.1.0.1", 0, n)
			settleCounters(func() any { return ipInDelivers(t) })
			return ipInDelivers(t) - before
		}
		if got := sendToPE(); got != 0 {
			t.Errorf("%d of %d packets from the TUN to the PE's address delivered", got, n)
		}
		del := func(pref int) {
			k := ruleKey{family: netlink.FAMILY_V4, pref: pref, iif: "pg-red", dst: pfx("10.1.0.1/32")}
			if err := h.RuleDel(netlinkRule(k)); err != nil {
				t.Fatalf("ip rule del %v: %v", k, err)
			}
		}
		del(DefaultRulePriority + tunToPERuleOffset)
		if got := sendToPE(); got != 0 {
			t.Errorf("fallback blackhole deleted: %d of %d packets from the TUN to the PE's address delivered", got, n)
		}
		del(blackholePriority(DefaultRulePriority, bucketOf(l.marks["red"])))
		if got := sendToPE(); got != n {
			t.Errorf("every blackhole deleted: %d of %d packets delivered; the test does not see a delivery", got, n)
		}
	})
}
