package kernel

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// The kernel-resident protected path, in the VM:
//
//	red1  --ce1--.                                  .--ce3-- red2
//	              PE1 ==core 192.168.0.0/30 (ESP)== PE2
//	blue1 --ce2--'   pgmpls-c0a80002 / pgmpls-c0a80001  '--ce4-- blue2
//
// Both PEs run peregrined with the kernel backend and raw ESP
// (ipsec.encapsulation: esp), so each tunnel can take the kernel path;
// one test puts the userspace backend on PE2 instead.

// rawESPConfig is espConfig with ESP as IP protocol 50, which the kernel
// path carries (it leaves ESP in UDP to the gateway).
var rawESPConfig = strings.Replace(espConfig, "encapsulation: udp", "encapsulation: esp", 1)

// kernelPathPEs writes the two manual keys into dir and returns the
// configuration of each PE over backend1 and backend2, with raw ESP and
// kernel-esp as given.
func kernelPathPEs(t *testing.T, dir, backend1, backend2, kernelESP string) (pe1, pe2 string) {
	t.Helper()
	pe1, pe2 = manualESPConfigs(t, dir, rawESPConfig, false)
	dataplane := func(c, backend string) string {
		return strings.Replace(c, "dataplane: {backend: kernel}", "dataplane: {backend: "+backend+", kernel-esp: "+kernelESP+"}", 1)
	}
	return dataplane(pe1, backend1), dataplane(pe2, backend2)
}

// TestKernelESPPath: two kernel-backend PEs on the kernel-resident path.
// CE pings cross in both VRFs (IPv4 and IPv6); PE1's log names the path;
// the core carries raw ESP only (no MPLS frame, no protocol 137 in
// clear), and every ESP packet from PE1, opened with the configured key
// by Peregrine's own ESP code (twoPEs.espLabels), has next header 137 and one of the two
// labels PE2 advertised (distinct for red and blue) over an IPv4 packet.
// No pgesp TUN exists: the gateway carries nothing.
func TestKernelESPPath(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	dir := t.TempDir()
	c1, c2 := kernelPathPEs(t, dir, "kernel", "kernel", "auto")
	log1 := startPeregrined(t, n.pe1, "pe1", c1)
	startPeregrined(t, n.pe2, "pe2", c2)
	n.pingAll(t, 71, 60*time.Second, true)
	if b, _ := os.ReadFile(log1); !strings.Contains(string(b), `msg="protected path: kernel-resident ESP (XFRM, mplsip)" component=kernel remote=192.168.0.2 device=pgmpls-c0a80002`) {
		t.Errorf("pe1's log does not say the kernel path carries 192.168.0.2:\n%s", b)
	}
	labels := n.espLabels(t, 72, true)
	if labels["red"] < 16 || labels["blue"] < 16 || labels["red"] == labels["blue"] {
		t.Errorf("labels inside ESP: red %d, blue %d; want two distinct allocated labels", labels["red"], labels["blue"])
	}
	// show ipsec sa: the kernel's states with their counters, no key.
	sas := apiGet(t, filepath.Join(dir, "pe1.sock"), "/v1/ipsec/sa")
	var saList []struct {
		SPI       uint32
		Direction string
		Packets   uint64
	}
	if err := json.Unmarshal(sas, &saList); err != nil || len(saList) != 2 {
		t.Errorf("/v1/ipsec/sa: %v: %s", err, sas)
	}
	for _, sa := range saList {
		if want := map[string]uint32{"out": 1002, "in": 2001}[sa.Direction]; sa.SPI != want || sa.Packets == 0 {
			t.Errorf("show ipsec sa: %s SPI %d with %d packets, want SPI %d with packets counted", sa.Direction, sa.SPI, sa.Packets, want)
		}
	}
	if strings.Contains(string(sas), keyPE1toPE2[:16]) || strings.Contains(string(sas), keyPE2toPE1[:16]) {
		t.Error("a key appears in show output")
	}
	h := handle(t, n.pe1)
	links, _ := h.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "pgesp-") && l.Attrs().Name != "pgesp-in" {
			t.Errorf("pe1 has gateway TUN %s although its only tunnel is on the kernel path", l.Attrs().Name)
		}
	}
}

// TestKernelESPPathAgainstUserspacePE: wire compatibility. PE1 seals in
// the kernel (XFRM over mplsip), PE2 runs the userspace backend, whose
// ESP engine opens and seals in Go: pings cross in both VRFs and both
// directions, so each end opens the other's packets.
func TestKernelESPPathAgainstUserspacePE(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	dir := t.TempDir()
	c1, c2 := kernelPathPEs(t, dir, "kernel", "userspace", "auto")
	log1 := startPeregrined(t, n.pe1, "pe1", c1)
	startPeregrined(t, n.pe2, "pe2", c2)
	n.pingAll(t, 81, 60*time.Second, true)
	if b, _ := os.ReadFile(log1); !strings.Contains(string(b), "protected path: kernel-resident ESP") {
		t.Errorf("pe1 is not on the kernel path:\n%s", b)
	}
	n.espLabels(t, 82, true)
	// The userspace PE's packets, opened by PE1's kernel: its inbound
	// state counts them, with no integrity failure.
	h := xfrmHandle(t, n.pe1)
	st, err := h.XfrmStateGet(&netlink.XfrmState{Src: net.IP{192, 168, 0, 2}, Dst: net.IP{192, 168, 0, 1}, Proto: netlink.XFRM_PROTO_ESP, Spi: 2001})
	if err != nil {
		t.Fatalf("pe1's inbound state: %v", err)
	}
	if st.Statistics.Packets == 0 || st.Statistics.Failed != 0 {
		t.Errorf("pe1's kernel opened %d packets of the userspace PE, %d failed", st.Statistics.Packets, st.Statistics.Failed)
	}
}

// xfrmHandle is a netlink handle for XFRM in ns, closed with the test.
func xfrmHandle(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_XFRM)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// TestKernelESPPathSequenceAfterRestart: a manually keyed outbound SA in
// the kernel must not count from 1 again after a restart (AES-GCM nonce
// reuse). PE1 seals some packets, is killed (SIGKILL: nothing runs on
// the way out), and the kernel keeps the state and both policies, so
// traffic stays sealed. The state's hard packet limit is the mark the
// sequence store wrote (2^20 above the start). PE1 restarts with the
// same state directory: its new state's output sequence number starts
// above that mark, and pings cross again.
func TestKernelESPPathSequenceAfterRestart(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	dir := t.TempDir()
	c1, c2 := kernelPathPEs(t, dir, "kernel", "kernel", "auto")
	state1 := filepath.Join(dir, "pe1-state")
	_, pe1, _ := startPeregrinedIn(t, n.pe1, "pe1", c1, state1)
	startPeregrined(t, n.pe2, "pe2", c2)
	n.pingAll(t, 91, 60*time.Second, false)
	h := xfrmHandle(t, n.pe1)
	out := &netlink.XfrmState{Src: net.IP{192, 168, 0, 1}, Dst: net.IP{192, 168, 0, 2}, Proto: netlink.XFRM_PROTO_ESP, Spi: 1002}
	st, err := h.XfrmStateGet(out)
	if err != nil || st.Replay == nil {
		t.Fatalf("pe1's outbound state: %v %+v", err, st)
	}
	before := st.Replay.OSeq
	if before == 0 || before > 1000 || st.Limits.PacketHard != 1<<20 {
		t.Errorf("first start: oseq %d, hard packet limit %d; want a few packets sealed from 1 and the limit at the store's first mark, %d", before, st.Limits.PacketHard, 1<<20)
	}
	_ = pe1.Signal(syscall.SIGKILL)
	_, _ = pe1.Wait()
	// Crashed: the kernel still has the state and both policies, so
	// traffic to PE2 is still sealed.
	if _, err := h.XfrmStateGet(out); err != nil {
		t.Errorf("after a crash the kernel lost the outbound state: %v", err)
	}
	pols, _ := h.XfrmPolicyList(netlink.FAMILY_V4)
	if len(pols) != 2 {
		t.Errorf("after a crash the kernel has %d XFRM policies, want the 2 of the tunnel: %v", len(pols), pols)
	}
	// PE2 withdraws PE1's routes when the session drops, so only the
	// echo requests cross: sealed, with the state's counter going on.
	frames := captureCore(t, n.pe2, "core", func() { _ = ping(n.red1, "10.2.0.2", 92) })
	sealed := 0
	for _, pkt := range rawESPOnCore(t, "after a crash", frames) {
		if binary.BigEndian.Uint32(pkt[rawESPAt:]) == 1002 {
			sealed++
		}
	}
	if sealed == 0 {
		t.Error("after a crash no ESP packet from pe1 crossed the core during a ping")
	}

	againLog, _, _ := startPeregrinedIn(t, n.pe1, "pe1-again", c1, state1)
	// Until the new daemon has replaced it, the old state goes on
	// sealing (up to its hard limit): wait for the replacement.
	var after *netlink.XfrmState
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if x, err := h.XfrmStateGet(out); err == nil && x.Statistics.AddTime != st.Statistics.AddTime {
			after = x
			break
		}
	}
	if after == nil {
		t.Fatal("the restarted daemon did not replace the outbound state within 30 s")
	}
	// Its first Apply holds no imported route yet: wait for BGP to
	// bring them back before pinging.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if b, _ := os.ReadFile(againLog); strings.Contains(string(b), `msg="Peer Up"`) {
			break
		}
	}
	time.Sleep(2 * time.Second) // the routes reach the FIB after the session is up
	n.pingAll(t, 94, 60*time.Second, false)
	st, err = h.XfrmStateGet(out)
	if err != nil || st.Replay == nil {
		t.Fatalf("pe1's outbound state after the restart: %v", err)
	}
	if st.Replay.OSeq <= 1<<20 || st.Limits.PacketHard != 1<<20 {
		t.Errorf("after a restart the outbound state has oseq %d and hard limit %d; want above the first mark %d (else sequence numbers, GCM nonces, repeat) and the limit at the second mark", st.Replay.OSeq, st.Limits.PacketHard, 1<<20)
	}
	t.Logf("oseq before the crash %d, after the restart %d; hard limit %d", before, st.Replay.OSeq, st.Limits.PacketHard)
	n.espLabels(t, 95, true)
}

// TestKernelESPPathThroughput: one TCP stream red1 -> red2 for a few
// seconds over the kernel path, then over the ESP gateway (kernel-esp:
// off), each in fresh namespaces, three rounds alternating, in the same
// VM run; it logs each rate and the ratio of the medians. The VM
// emulates its CPU (TCG) and shares the host, so only the ratio means
// anything.
func TestKernelESPPathThroughput(t *testing.T) {
	requirePeregrined(t)
	rates := map[string][]float64{}
	for round := 0; round < 3; round++ {
		for _, mode := range []string{"auto", "off"} {
			n := newTwoPEs(t)
			dir := t.TempDir()
			c1, c2 := kernelPathPEs(t, dir, "kernel", "kernel", mode)
			_, p1, _ := startPeregrinedProc(t, n.pe1, "pe1-"+mode, c1)
			_, p2, _ := startPeregrinedProc(t, n.pe2, "pe2-"+mode, c2)
			n.pingAll(t, 101, 60*time.Second, false)
			r := tcpRate(t, n.red1, n.red2, "10.2.0.2", 4*time.Second)
			// The next round runs alone: these daemons stop (their
			// namespaces keep what they programmed, unused).
			_ = p1.Kill()
			_ = p2.Kill()
			if r == 0 {
				t.Fatalf("round %d, kernel-esp %s: the stream moved nothing", round, mode)
			}
			rates[mode] = append(rates[mode], r)
			t.Logf("round %d, kernel-esp %s: %.2f Mbit/s", round, mode, r*8/1e6)
		}
	}
	k, g := median(rates["auto"]), median(rates["off"])
	t.Logf("TCP red1 -> red2, median of 3: kernel path %.2f Mbit/s, ESP gateway %.2f Mbit/s, ratio kernel/gateway %.2f", k*8/1e6, g*8/1e6, k/g)
}

// tcpRate sends one TCP stream from ns src to dst:5201 in ns dstNS for d
// and returns the bytes per second the receiver counted.
func tcpRate(t *testing.T, src, dstNS netns.NsHandle, dst string, d time.Duration) float64 {
	t.Helper()
	var ln net.Listener
	if err := onThreadIn(dstNS, func() (err error) { ln, err = net.Listen("tcp4", ":5201"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan float64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- 0
			return
		}
		defer c.Close()
		start := time.Now()
		n, _ := io.Copy(io.Discard, c)
		got <- float64(n) / time.Since(start).Seconds()
	}()
	var c net.Conn
	if err := onThreadIn(src, func() (err error) { c, err = net.DialTimeout("tcp4", dst+":5201", 5*time.Second); return err }); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	_ = c.SetWriteDeadline(time.Now().Add(d))
	for {
		if _, err := c.Write(buf); err != nil {
			break
		}
	}
	c.Close()
	select {
	case r := <-got:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver did not finish")
		return 0
	}
}

// TestKernelESPStateSequenceControls: what the sequence store's hold on a
// kernel SA rests on. A state added with a replay oseq continues above
// it; raising its hard packet limit with an update keeps the counter.
func TestKernelESPStateSequenceControls(t *testing.T) {
	requireVM(t)
	a, b := newNS(t), newNS(t)
	link(t, a, "eth0", "10.9.0.1/24", b, "eth0", "10.9.0.2/24")
	h := xfrmHandle(t, a)
	tun := &fib.Tunnel{Remote: addr("10.9.0.2"),
		Out: &fib.SAParams{SPI: 0x1001, Cipher: esp.AES128GCM16, Key: make([]byte, 20)},
		In:  &fib.SAParams{SPI: 0x2001, Cipher: esp.AES128GCM16, Key: make([]byte, 20)}}
	p := newKernelPeer(addr("10.9.0.1"), tun)
	st, err := p.outState(1<<20, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.XfrmStateAdd(st); err != nil {
		t.Fatal(err)
	}
	got, err := h.XfrmStateGet(st)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("added: replay %v limits hard %d", got.Replay, got.Limits.PacketHard)
	if got.Replay == nil || got.Replay.OSeq != 1<<20 || got.Limits.PacketHard != 1000 {
		t.Errorf("state added with oseq %d and hard limit 1000 reads back replay %v, hard limit %d", 1<<20, got.Replay, got.Limits.PacketHard)
	}
	for _, pol := range p.policies() {
		if err := h.XfrmPolicyUpdate(pol); err != nil {
			t.Fatal(err)
		}
	}
	send := func(n int) { sendMPLSInIP(t, a, n, false) }
	oseq := func() uint32 {
		got, err := h.XfrmStateGet(st)
		if err != nil || got.Replay == nil {
			t.Fatalf("%v %v", err, got)
		}
		return got.Replay.OSeq
	}
	send(3)
	t.Logf("after 3 packets: oseq %#x", oseq())
	if err := h.XfrmStateDel(st); err != nil {
		t.Fatal(err)
	}
	st2, _ := p.outState(2<<20, 1000)
	if err := h.XfrmStateAdd(st2); err != nil {
		t.Fatal(err)
	}
	t.Logf("re-added: oseq %#x", oseq())
	send(3)
	if o := oseq(); o != 2<<20+3 {
		t.Errorf("re-added at %#x, 3 packets later oseq %#x", 2<<20, o)
	}
}

// sendMPLSInIP sends n packets of MPLS in IP (protocol 137) from ns to
// 10.9.0.2, each a label (S=1) over the start of an IPv4 header, for an
// XFRM policy to seal. A send the kernel refuses fails the test unless
// ignoreRefused.
func sendMPLSInIP(t *testing.T, ns netns.NsHandle, n int, ignoreRefused bool) {
	t.Helper()
	err := onThreadIn(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, ipProtoMPLS)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for range n {
			err := unix.Sendto(fd, []byte{0, 1, 1, 64, 0x45, 0, 0, 20}, 0, &unix.SockaddrInet4{Addr: [4]byte{10, 9, 0, 2}})
			if err != nil && !ignoreRefused {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKernelESPSequenceWatch: the sequence store's hold on a kernel SA
// while the daemon runs, with blocks of 64 numbers. Packets sent in
// batches of 10 with pauses cross the first block's end: the watch asks
// for more half way, the store writes, the state's hard limit rises, and
// the state keeps sealing. A burst larger than what is left of the
// reservation meets the hard limit: the kernel drops the state rather
// than seal above the mark on disk.
func TestKernelESPSequenceWatch(t *testing.T) {
	requireVM(t)
	a, b := newNS(t), newNS(t)
	link(t, a, "eth0", "10.9.0.1/24", b, "eth0", "10.9.0.2/24")
	h, err := netlink.NewHandleAt(a, unix.NETLINK_ROUTE, unix.NETLINK_XFRM)
	if err != nil {
		t.Fatal(err)
	}
	store := seqstore.Open(t.TempDir(), nil, seqstore.Options{Block: 64})
	defer store.Close()
	k := newKernelESP(slog.New(slog.DiscardHandler), h, store)
	defer k.close()
	key := make([]byte, 20)
	tun := &fib.Tunnel{Remote: addr("10.9.0.2"),
		Out: &fib.SAParams{SPI: 0x1001, Cipher: esp.AES128GCM16, Key: key, PersistSequence: true},
		In:  &fib.SAParams{SPI: 0x2001, Cipher: esp.AES128GCM16, Key: key}}
	devs, rest := k.apply(addr("10.9.0.1"), map[netip.Addr]*fib.Tunnel{tun.Remote: tun})
	if devs[tun.Remote] != "pgmpls-0a090002" || len(rest) != 0 {
		t.Fatalf("kernel path devices %v, left to the gateway %v", devs, rest)
	}
	out := &netlink.XfrmState{Src: net.IP{10, 9, 0, 1}, Dst: net.IP{10, 9, 0, 2}, Proto: netlink.XFRM_PROTO_ESP, Spi: 0x1001}
	// Past the hard limit the kernel may refuse sends: not an error here.
	send := func(n int) { sendMPLSInIP(t, a, n, true) }
	for i := 0; i < 20; i++ {
		send(10)
		time.Sleep(300 * time.Millisecond)
	}
	st, err := h.XfrmStateGet(out)
	if err != nil || st.Replay == nil {
		t.Fatalf("after 200 packets in batches the state is gone: %v", err)
	}
	if st.Replay.OSeq != 200 || st.Limits.PacketHard <= 200 {
		t.Errorf("after 200 packets: oseq %d, hard packet limit %d; want 200 sealed and the limit raised past them", st.Replay.OSeq, st.Limits.PacketHard)
	}
	limit := st.Limits.PacketHard
	send(int(limit) + 10)
	// The kernel marks the state expired at the limit and deletes it
	// from a timer: until then it may still be listed, but never
	// having sealed past the limit.
	gone := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !gone; time.Sleep(100 * time.Millisecond) {
		st, err := h.XfrmStateGet(out)
		gone = err != nil
		if err == nil && uint64(st.Replay.OSeq) > limit {
			t.Fatalf("a burst past the reservation: oseq %d above the hard limit %d (the mark on disk)", st.Replay.OSeq, limit)
		}
	}
	if !gone {
		t.Errorf("a burst past the reservation: the state is still there 2 s later; want it dropped at the limit %d", limit)
	}
	t.Logf("hard limit after 200 packets in batches: %d; a burst of %d then ended the state", limit, limit+10)
}

// TestKernelESPPathWithIKE: the PEs keyed by IKEv2 with raw ESP and
// short child lifetimes. The children take the kernel path (an IKE
// child's key is fresh, so no sequence store is involved); traffic
// crosses in both VRFs before and after the children are rekeyed (the
// SPI on the core changes), and the kernel keeps no more than the
// current outbound state and the inbound ones still accepted.
func TestKernelESPPathWithIKE(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	raw := strings.Replace(peregrinedConfig+ikeConfig, "ipsec:\n", "ipsec:\n  encapsulation: esp\n", 1)
	log1 := startIKEPEs(t, n, t.TempDir(), raw)
	n.pingAll(t, 111, 60*time.Second, true)
	if b, _ := os.ReadFile(log1); !strings.Contains(string(b), "protected path: kernel-resident ESP") {
		t.Errorf("pe1 is not on the kernel path:\n%s", b)
	}
	n.checkChildRekeyed(t, 112, true)
	h := xfrmHandle(t, n.pe1)
	states, _ := h.XfrmStateList(netlink.FAMILY_V4)
	outs := 0
	for _, st := range states {
		if st.Src.Equal(net.IP{192, 168, 0, 1}) {
			outs++
		}
	}
	if outs != 1 || len(states) > 4 {
		t.Errorf("pe1's kernel has %d outbound and %d states in all after rekeys; want 1 outbound and the inbound ones still accepted", outs, len(states))
	}
}

// TestKernelESPPathRefusesClearMPLS: fail closed inbound. From the core,
// a frame carrying MPLS in IP in clear (protocol 137, PE2's address as
// source, pe1's red label over an echo request to red1) is injected on
// PE2's core interface, below PE2's XFRM. PE1's inbound policy wants ESP
// for protocol 137 from PE2, so the mplsip tunnel drops it: red1 never
// sees the echo. With the inbound policy deleted the same frame reaches
// red1, which shows the injection itself works.
func TestKernelESPPathRefusesClearMPLS(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	dir := t.TempDir()
	c1, c2 := kernelPathPEs(t, dir, "kernel", "kernel", "auto")
	startPeregrined(t, n.pe1, "pe1", c1)
	startPeregrined(t, n.pe2, "pe2", c2)
	n.pingAll(t, 121, 60*time.Second, false)

	h1 := handle(t, n.pe1)
	vrf, err := h1.LinkByName("vrf-red")
	if err != nil {
		t.Fatal(err)
	}
	mplsRoutes, err := h1.RouteListFiltered(netlink.FAMILY_MPLS, &netlink.Route{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	label := -1
	for _, r := range mplsRoutes {
		if r.MPLSDst != nil && r.LinkIndex == vrf.Attrs().Index {
			label = *r.MPLSDst
		}
	}
	if label < 16 {
		t.Fatalf("no label of pe1 pops into vrf-red: %v", mplsRoutes)
	}
	core1, _ := h1.LinkByName("core")
	core2, _ := handle(t, n.pe2).LinkByName("core")

	// Ethernet | IPv4 192.168.0.2 -> .1 proto 137 | label S=1 TTL 64 | IPv4 10.2.0.2 -> 10.1.0.2 ICMP echo id 0xc1ea
	frame := make([]byte, 14+20+4+28)
	copy(frame[0:], core1.Attrs().HardwareAddr)
	copy(frame[6:], core2.Attrs().HardwareAddr)
	binary.BigEndian.PutUint16(frame[12:], unix.ETH_P_IP)
	_ = wire.PutIPv4(frame[14:], wire.IPv4Fields{Src: addr("192.168.0.2"), Dst: addr("192.168.0.1"), Protocol: ipProtoMPLS, TTL: 64, PayloadLen: 4 + 28})
	binary.BigEndian.PutUint32(frame[34:], uint32(label)<<12|1<<8|64)
	_ = wire.PutIPv4(frame[38:], wire.IPv4Fields{Src: addr("10.2.0.2"), Dst: addr("10.1.0.2"), Protocol: 1, TTL: 64, PayloadLen: 8})
	icmp := frame[58:]
	icmp[0] = 8
	binary.BigEndian.PutUint16(icmp[4:], 0xc1ea)
	binary.BigEndian.PutUint16(icmp[2:], wire.Checksum(icmp))
	inject := func() int {
		t.Helper()
		got := captureCore(t, n.red1, "eth0", func() {
			err := onThreadIn(n.pe2, func() error {
				fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
				if err != nil {
					return err
				}
				defer unix.Close(fd)
				return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: core2.Attrs().Index, Halen: 6})
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		echoes := 0
		for _, f := range got {
			if f.proto == unix.ETH_P_IP && len(f.data) >= 28 && f.data[9] == 1 && f.data[20] == 8 && binary.BigEndian.Uint16(f.data[24:]) == 0xc1ea {
				echoes++
			}
		}
		return echoes
	}
	if got := inject(); got != 0 {
		t.Errorf("a clear MPLS-in-IP packet from the core reached red1 (%d echoes) although pe1's policy wants ESP", got)
	}
	hx := xfrmHandle(t, n.pe1)
	pols, _ := hx.XfrmPolicyList(netlink.FAMILY_V4)
	for i := range pols {
		if pols[i].Dir == netlink.XFRM_DIR_IN {
			if err := hx.XfrmPolicyDel(&pols[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := inject(); got == 0 {
		t.Error("control: without pe1's inbound policy the injected frame did not reach red1 either, so the test shows nothing")
	}
}

// TestKernelESPInUDPWire: what the kernel path would send as ESP in UDP
// (`encap espinudp 4500 4500` on the outbound state), which it does not
// take today only because the ESP gateway owns UDP port 4500 (inbound
// the kernel opens ESP-in-UDP only on a socket of its own with UDP_ENCAP
// set). A route `encap mpls 100 dev pgmpls-0a090002` in A sends an echo
// through the mplsip tunnel and XFRM; B receives the datagrams on a
// plain UDP socket on port 4500 and opens them with ipsec/esp: UDP 4500
// -> 4500, ESP with next header 137, label 100 (S=1) over the echo,
// the bytes the gateway sends in UDP mode.
func TestKernelESPInUDPWire(t *testing.T) {
	requireVM(t)
	a, b := newNS(t), newNS(t)
	link(t, a, "eth0", "10.9.0.1/24", b, "eth0", "10.9.0.2/24")
	h, err := netlink.NewHandleAt(a, unix.NETLINK_ROUTE, unix.NETLINK_XFRM)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	key, _ := hex.DecodeString(keyPE1toPE2)
	tun := &fib.Tunnel{Remote: addr("10.9.0.2"), UDP: true,
		Out: &fib.SAParams{SPI: 0x1001, Cipher: esp.AES128GCM16, Key: key},
		In:  &fib.SAParams{SPI: 0x2001, Cipher: esp.AES128GCM16, Key: key}}
	p := newKernelPeer(addr("10.9.0.1"), tun)
	for _, pol := range p.policies() {
		if err := h.XfrmPolicyUpdate(pol); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := p.outState(0, 0)
	st.Encap = &netlink.XfrmStateEncap{Type: netlink.XFRM_ENCAP_ESPINUDP, SrcPort: 4500, DstPort: 4500}
	if err := h.XfrmStateAdd(st); err != nil {
		t.Fatal(err)
	}
	k := &kernelESP{h: h}
	if err := k.device(p); err != nil {
		t.Fatal(err)
	}
	dev, _ := h.LinkByName(kernelDev(tun.Remote))
	dst := &net.IPNet{IP: net.IP{10, 77, 0, 0}, Mask: net.CIDRMask(24, 32)}
	if err := h.RouteAdd(&netlink.Route{Dst: dst, LinkIndex: dev.Attrs().Index, Scope: netlink.SCOPE_LINK,
		Encap: &netlink.MPLSEncap{Labels: []int{100}}}); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	ready := make(chan error, 1)
	go func() {
		_ = onThreadIn(b, func() error {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: 4500})
			ready <- err
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 2048)
			n, from, err := c.ReadFromUDP(buf)
			if err == nil && from.Port == 4500 {
				got <- buf[:n]
			}
			close(got)
			return nil
		})
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	_ = pingFrom(a, addr("10.9.0.1"), "10.77.0.1", 0x77)
	pkt, ok := <-got
	if !ok {
		t.Fatal("no datagram from 10.9.0.1:4500 on B's port 4500")
	}
	sa, err := esp.NewSA(esp.Config{SPI: 0x1001, Cipher: esp.AES128GCM16, Key: key, NoAntiReplay: true})
	if err != nil {
		t.Fatal(err)
	}
	buf := append(make([]byte, esp.ScratchLen), pkt...) // Open's scratch room in front
	payload, nh, err := sa.Open(buf, esp.ScratchLen, len(pkt))
	if err != nil {
		t.Fatalf("opening the kernel's ESP-in-UDP datagram: %v (% x)", err, pkt[:min(len(pkt), 16)])
	}
	if nh != esp.NextHeaderMPLS || len(payload) < 4+28 || binary.BigEndian.Uint32(payload)>>12 != 100 || payload[2]&1 == 0 ||
		payload[4]>>4 != 4 || payload[4+9] != 1 || binary.BigEndian.Uint16(payload[4+24:]) != 0x77 {
		t.Errorf("ESP payload is not label 100 over the echo: next header %d, % x", nh, payload[:min(len(payload), 32)])
	}
}

// TestKernelESPPathOverIPv6Core: over an IPv6 core the kernel path
// stands aside (Linux's ip6tnl carries no MPLS) and the log says so; the
// ESP gateway carries raw ESP over IPv6 instead: IPv4 and IPv6 CEs ping
// in both VRFs, and pe1's ESP right after the IPv6 header opens with the
// configured key to next header 137 and a label.
func TestKernelESPPathOverIPv6Core(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	addr6(t, n.pe1, "core", "fd00:c::1/64")
	addr6(t, n.pe2, "core", "fd00:c::2/64")
	c1, c2 := manualESPConfigs(t, t.TempDir(), rawESPConfig, true)
	log1 := startPeregrined(t, n.pe1, "pe1", c1)
	startPeregrined(t, n.pe2, "pe2", c2)
	n.pingAll(t, 131, 60*time.Second, true)
	if b, _ := os.ReadFile(log1); !strings.Contains(string(b), `msg="protected path: userspace ESP gateway" component=kernel remote=fd00:c::2 reason="an IPv6 core`) {
		t.Errorf("pe1's log does not say why fd00:c::2 is on the gateway:\n%s", b)
	}
	key, _ := hex.DecodeString(keyPE1toPE2)
	frames := captureCore(t, n.pe2, "core", func() {
		if err := ping(n.red1, "10.2.0.2", 132); err != nil {
			t.Error(err)
		}
		if err := ping(n.blue1, "fd00:2::2", 133); err != nil {
			t.Error(err)
		}
	})
	opened := 0
	for _, f := range frames {
		switch {
		case f.proto == unix.ETH_P_IPV6 && len(f.data) >= 48 && f.data[6] == unix.IPPROTO_ESP && binary.BigEndian.Uint32(f.data[40:]) == 1002:
			sa, err := esp.NewSA(esp.Config{SPI: 1002, Cipher: esp.AES128GCM16, Key: key, NoAntiReplay: true})
			if err != nil {
				t.Fatal(err)
			}
			payload, nh, err := sa.Open(f.data, 40, len(f.data)-40)
			if err != nil || nh != esp.NextHeaderMPLS || len(payload) < 4 || payload[2]&1 == 0 || binary.BigEndian.Uint32(payload)>>12 < 16 {
				t.Errorf("pe1's ESP over IPv6: next header %d, %v, % x", nh, err, payload[:min(len(payload), 8)])
				continue
			}
			opened++
		case f.proto == unix.ETH_P_IPV6 && len(f.data) >= 40 && (f.data[6] == unix.IPPROTO_ESP || f.data[6] == unix.IPPROTO_TCP || f.data[6] == unix.IPPROTO_ICMPV6 || f.data[6] == 0):
			// pe2's replies come back sealed too; BGP, ND, MLD
		default:
			t.Errorf("frame %#04x on the IPv6 core, neither ESP over IPv6, BGP nor ND: % x", f.proto, f.data[:min(len(f.data), 48)])
		}
	}
	if opened < 2 {
		t.Errorf("%d ESP packets from pe1 (SPI 1002) opened during two pings, want at least 2", opened)
	}
}

// TestKernelESPPathFallsBackWhenInstallFails: a tunnel the plan accepts
// but the kernel refuses (ChaCha20-Poly1305, whose kernel modules the VM
// does not load: adding the state fails) goes to the ESP gateway, with
// the reason in the log; nothing of the failed install stays in the
// kernel (no XFRM state or policy, no pgmpls device: rollback, and
// removeStale after it), and pings cross in both VRFs through the
// gateway, which could attach the manual key.
func TestKernelESPPathFallsBackWhenInstallFails(t *testing.T) {
	requirePeregrined(t)
	n := newTwoPEs(t)
	dir := t.TempDir()
	c1, c2 := kernelPathPEs(t, dir, "kernel", "kernel", "auto")
	chacha := func(c string) string { return strings.ReplaceAll(c, "aes128gcm16", "chacha20poly1305") }
	keys := map[string]string{"pe1-pe2.key": keyPE1toPE2 + keyPE2toPE1[:32], "pe2-pe1.key": keyPE2toPE1 + keyPE1toPE2[:32]}
	for name, key := range keys {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	log1 := startPeregrined(t, n.pe1, "pe1", chacha(c1))
	startPeregrined(t, n.pe2, "pe2", chacha(c2))
	n.pingAll(t, 141, 60*time.Second, false)
	b, _ := os.ReadFile(log1)
	if !strings.Contains(string(b), `msg="protected path: userspace ESP gateway" component=kernel remote=192.168.0.2 reason="installing it failed`) {
		t.Errorf("pe1's log does not say the install failed and the gateway took the tunnel:\n%s", b)
	}
	hx := xfrmHandle(t, n.pe1)
	states, _ := hx.XfrmStateList(netlink.FAMILY_V4)
	pols, _ := hx.XfrmPolicyList(netlink.FAMILY_V4)
	if len(states) != 0 || len(pols) != 0 {
		t.Errorf("after a failed install pe1's kernel keeps %d XFRM states and %d policies, want none", len(states), len(pols))
	}
	if _, err := handle(t, n.pe1).LinkByName("pgmpls-c0a80002"); err == nil {
		t.Error("after a failed install pe1 keeps its pgmpls device")
	}
}
