package kernel

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/internal/procstat"
)

// BenchmarkKernelScale is issue 23 item 4's kernel half: what a
// kernel-backend peregrined costs as its VRF count grows, in labs/vm's VM
// (make bench-scale-vm). For each count N of PEREGRINE_SCALE_VRFS it
// starts /bin/peregrined in a fresh namespace with N VRFs, each a VRF
// device with a CE interface (a dummy; a veth to a CE namespace for the
// first and the last VRF), ten static routes and one VPNv4 route imported
// from an in-process GoBGP speaker in the VM's root namespace, and prints
// the row scalebench prints for the userspace backend (same columns, so
// that its plot reads both):
//
//	bring-up     peregrined spawned -> every VRF's imported MPLS route and
//	             its ten static routes in the kernel
//	reload       SIGHUP with one VRF added -> its MPLS route in the kernel
//	cpu          peregrined's user+system CPU time over each of those
//	rss, threads /proc/PID/status once the RSS settles
//	heap, gorout go_memstats_heap_alloc_bytes and go_goroutines, /metrics
//	ping         the first and the last VRF's CE to the PE's address in
//	             its VRF (through the VRF device, not across the core)
//
// Each row is also sent to the host as a line of scale.csv (labs/vm -out).
// The VM is emulated (TCG): absolute times are many times the host's;
// read the growth per VRF, not the figures.
func BenchmarkKernelScale(b *testing.B) {
	counts := scaleCounts(b)
	if _, err := os.Stat("/bin/peregrined"); err != nil {
		b.Skip("peregrined is not in the VM (labs/vm -cmd ./cmd/peregrined)")
	}
	fmt.Println(scaleOut(strings.Join(scaleColumns, ",")))
	for _, n := range counts {
		b.Run(fmt.Sprintf("vrfs=%d", n), func(b *testing.B) {
			r := runScale(b, n)
			fmt.Printf("scale: %s\n", r.table())
			fmt.Println(scaleOut(strings.Join(r.fields(), ",")))
			b.ReportMetric(r.bringUp.Seconds(), "bringup-s")
			b.ReportMetric(r.bringUpCPU.Seconds(), "bringup-cpu-s")
			b.ReportMetric(r.reload.Seconds(), "reload-s")
		})
	}
}

// scaleCounts is PEREGRINE_SCALE_VRFS's counts; the benchmark skips
// without it, so that make bench-vm's "-bench ." stays short.
func scaleCounts(b *testing.B) []int {
	if os.Getenv("PEREGRINE_VM") == "" {
		b.Skip("needs a kernel with MPLS forwarding and VRF devices: run make bench-scale-vm")
	}
	env := os.Getenv("PEREGRINE_SCALE_VRFS")
	if env == "" {
		b.Skip("PEREGRINE_SCALE_VRFS (VRF counts) is not set: run make bench-scale-vm")
	}
	var counts []int
	for _, f := range strings.Fields(env) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 2 || n > 16000 {
			b.Fatalf("PEREGRINE_SCALE_VRFS: bad count %q (2 to 16000)", f)
		}
		counts = append(counts, n)
	}
	return counts
}

// scaleOut is a console line labs/vm -out writes into scale.csv.
func scaleOut(line string) string { return "PEREGRINE-VM-OUT scale.csv: " + line }

// The lab's addresses, inside the VM only.
var (
	scalePE    = netip.MustParseAddr("192.168.254.1") // pe1's core address
	scaleSpk   = netip.MustParseAddr("192.168.254.2") // the speaker's, in the root namespace
	scaleCE    = netip.MustParseAddr("100.64.0.0")    // VRF i's CE link is scaleCE+4i /30
	scaleVPN   = netip.MustParsePrefix("198.51.100.0/24")
	scaleASN   = uint32(65000)
	scaleLimit = 30 * time.Minute // longest bring-up or reload waited for
)

// scaleLink is VRF i's CE link: the PE's address is .1, the CE's .2.
func scaleLink(i int) netip.Prefix {
	a := scaleCE.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) + uint32(4*i)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 30)
}

func scaleHost(i, host int) netip.Addr {
	a := scaleLink(i).Addr()
	for range host {
		a = a.Next()
	}
	return a
}

func scaleIf(i int) string { return fmt.Sprintf("c%d", i) }
func scaleRT(i int) string { return fmt.Sprintf("%d:%d", scaleASN, 1000+i) }

// scaleConfig is pe1's configuration with vrfs VRFs.
func scaleConfig(sock string, vrfs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `router: {id: %[1]s, asn: %[2]d}
log: {level: %[5]s}
control: {socket: %[3]s}
metrics: {listen: '%[1]s:9101'}
dataplane: {backend: kernel}
bgp:
  api: ''
  neighbors: [{address: %[4]s, asn: %[2]d, local-address: %[1]s, families: [vpnv4], connect-retry: 1s}]
vrfs:
`, scalePE, scaleASN, sock, scaleSpk, scaleLogLevel())
	for i := range vrfs {
		fmt.Fprintf(&b, "  - name: v%d\n    rd: '%d:%d'\n    import-targets: ['%s']\n    export-targets: ['%s']\n    interfaces: [%s]\n    static-routes:\n      - {prefix: %s}\n",
			i, scaleASN, i+1, scaleRT(i), scaleRT(i), scaleIf(i), scaleLink(i))
		for j := range 9 {
			fmt.Fprintf(&b, "      - {prefix: 172.16.%d.0/24, next-hop: %s}\n", j, scaleHost(i, 2))
		}
	}
	return b.String()
}

// scaleResult is one row; its columns are labs/scalebench's.
type scaleResult struct {
	vrfs                int
	bringUp, bringUpCPU time.Duration
	reload, reloadCPU   time.Duration
	rss, heap           int64
	threads, goroutines int
	pingFirst, pingLast string
	// calib is how long calibrate's fixed work took just before the
	// bring-up: the emulated CPU's speed varies with its host's load,
	// and rows are compared divided by it.
	calib time.Duration
}

var scaleColumns = []string{"vrfs", "bringup_s", "bringup_cpu_s", "reload_s", "reload_cpu_s",
	"rss_mb", "heap_mb", "threads", "goroutines", "ping_first", "ping_last", "calib_ms"}

func (r scaleResult) fields() []string {
	s := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	mb := func(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }
	return []string{strconv.Itoa(r.vrfs), s(r.bringUp), s(r.bringUpCPU), s(r.reload), s(r.reloadCPU),
		mb(r.rss), mb(r.heap), strconv.Itoa(r.threads), strconv.Itoa(r.goroutines), r.pingFirst, r.pingLast,
		strconv.FormatInt(r.calib.Milliseconds(), 10)}
}

func (r scaleResult) table() string {
	var b strings.Builder
	for i, f := range r.fields() {
		fmt.Fprintf(&b, "%s=%s ", scaleColumns[i], f)
	}
	n := float64(r.vrfs)
	fmt.Fprintf(&b, "| per VRF: bring-up %.2f ms wall, %.2f ms CPU; bring-up CPU / calib %.1f, reload CPU / calib %.1f",
		r.bringUp.Seconds()*1000/n, r.bringUpCPU.Seconds()*1000/n, r.bringUpCPU.Seconds()/r.calib.Seconds(), r.reloadCPU.Seconds()/r.calib.Seconds())
	return b.String()
}

// runScale builds the lab for n VRFs, measures, and tears it down with b.
func runScale(b *testing.B, n int) scaleResult {
	r := scaleResult{vrfs: n}
	root, err := netns.Get()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { root.Close() })
	pe := newNS(b)
	spkIf := fmt.Sprintf("spk%d", n)
	link(b, pe, "core", netip.PrefixFrom(scalePE, 30).String(), root, spkIf, netip.PrefixFrom(scaleSpk, 30).String())
	b.Cleanup(func() {
		if l, err := netlink.LinkByName(spkIf); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	ceFirst, ceLast := scaleCEs(b, pe, n)
	startScaleSpeaker(b, n+1)

	dir := b.TempDir()
	conf := filepath.Join(dir, "pe1.yml")
	if err := os.WriteFile(conf, []byte(scaleConfig(filepath.Join(dir, "pe1.sock"), n)), 0o600); err != nil {
		b.Fatal(err)
	}
	h := handle(b, pe)
	r.calib = calibrate()
	start := time.Now()
	p := startScaleDaemon(b, pe, conf, filepath.Join(dir, "pe1.log"))
	waitScale(b, p, h, n, 10*n)
	r.bringUp = time.Since(start)
	r.bringUpCPU = procCPU(b, p.Pid)

	r.rss, r.threads = settledRSS(b, p.Pid)
	r.heap, r.goroutines = scaleMetrics(b)
	r.pingFirst = scalePing(ceFirst, scaleHost(0, 1).String())
	r.pingLast = scalePing(ceLast, scaleHost(n-1, 1).String())

	if err := os.WriteFile(conf, []byte(scaleConfig(filepath.Join(dir, "pe1.sock"), n+1)), 0o600); err != nil {
		b.Fatal(err)
	}
	cpu := procCPU(b, p.Pid)
	start = time.Now()
	if err := p.Signal(syscall.SIGHUP); err != nil {
		b.Fatal(err)
	}
	waitScale(b, p, h, n+1, 0)
	r.reload = time.Since(start)
	r.reloadCPU = procCPU(b, p.Pid) - cpu
	printApplies(b, filepath.Join(dir, "pe1.log"))
	return r
}

// calibrate times a fixed amount of CPU work (hashing 16 MB, one
// thread): the yardstick the rows' times are divided by.
func calibrate() time.Duration {
	buf := make([]byte, 1<<20)
	start := time.Now()
	for range 16 {
		sha256.Sum256(buf)
	}
	return time.Since(start)
}

// scaleLogLevel is peregrined's log level: debug with
// PEREGRINE_SCALE_APPLIES set, for printApplies (the debug log costs
// time of its own), else warn.
func scaleLogLevel() string {
	if os.Getenv("PEREGRINE_SCALE_APPLIES") != "" {
		return "debug"
	}
	return "warn"
}

// printApplies prints the reconciler's "fib: applied" lines of the log at
// logPath (debug level only): how many Applies a bring-up and a reload
// took and how long each one was, the backend's share of the time.
func printApplies(b *testing.B, logPath string) {
	if scaleLogLevel() != "debug" {
		return
	}
	raw, err := os.ReadFile(logPath)
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, "fib: applied") {
			fmt.Println("scale-apply:", l)
		}
	}
}

// scaleCEs makes VRF i's CE interface c<i> in pe for i up to n (one more
// than n, for the reload): a veth to a CE namespace for the first and the
// last VRF, a dummy for the others, each with .1 of its /30.
func scaleCEs(b *testing.B, pe netns.NsHandle, n int) (first, last netns.NsHandle) {
	first, last = newNS(b), newNS(b)
	for _, c := range []struct {
		i  int
		ns netns.NsHandle
	}{{0, first}, {n - 1, last}} {
		link(b, pe, scaleIf(c.i), netip.PrefixFrom(scaleHost(c.i, 1), 30).String(), c.ns, "eth0", netip.PrefixFrom(scaleHost(c.i, 2), 30).String())
	}
	h := handle(b, pe)
	for i := range n + 1 {
		if i == 0 || i == n-1 {
			continue
		}
		d := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: scaleIf(i)}}
		if err := h.LinkAdd(d); err != nil {
			b.Fatalf("dummy %s: %v", scaleIf(i), err)
		}
		a := scaleHost(i, 1)
		if err := h.AddrAdd(d, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(a, 30))}); err != nil {
			b.Fatalf("address of %s: %v", scaleIf(i), err)
		}
		if err := h.LinkSetUp(d); err != nil {
			b.Fatal(err)
		}
	}
	return first, last
}

// startScaleDaemon runs /bin/peregrined in ns on conf, its output in
// logPath, shown if b fails.
func startScaleDaemon(b *testing.B, ns netns.NsHandle, conf, logPath string) *os.Process {
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("/bin/peregrined", "-c", conf, "-state-dir", filepath.Join(filepath.Dir(logPath), "state"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := onThreadIn(ns, cmd.Start); err != nil { // the child inherits the thread's namespace
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if b.Failed() {
			out, _ := os.ReadFile(logPath)
			b.Logf("--- peregrined log ---\n%s", out)
		}
	})
	return cmd.Process
}

// waitScale polls pe's routes of protocol 204, every table, until vrfs
// VRF tables hold an MPLS route (the imported one) and at least statics
// other unicast routes, or scaleLimit passes. The VM has one CPU, which
// the dump takes from peregrined: the next poll waits four times as long
// as the last dump took (at least 250 ms), so that polling takes at most
// a fifth of it, at the price of a time that may be late by that much.
func waitScale(b *testing.B, p *os.Process, h *netlink.Handle, vrfs, statics int) {
	deadline := time.Now().Add(scaleLimit)
	var mpls, plain int
	for time.Now().Before(deadline) {
		if err := p.Signal(syscall.Signal(0)); err != nil {
			b.Fatalf("peregrined is gone: %v", err)
		}
		dumpStart := time.Now()
		rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 0, Protocol: RTProto}, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			b.Fatal(err)
		}
		mpls, plain = 0, 0
		for _, r := range rs {
			switch {
			case r.Encap != nil:
				mpls++
			case r.Type == 1 && r.Dst != nil: // RTN_UNICAST, not the unreachable default
				plain++
			}
		}
		if mpls >= vrfs && plain >= statics {
			return
		}
		time.Sleep(max(250*time.Millisecond, 4*time.Since(dumpStart)))
	}
	b.Fatalf("after %v: %d MPLS routes (want %d), %d other unicast routes (want %d)", scaleLimit, mpls, vrfs, plain, statics)
}

// scalePing pings dst from ns, three tries (the first waits for ARP).
func scalePing(ns netns.NsHandle, dst string) string {
	for range 3 {
		if ping(ns, dst, 77) == nil {
			return "ok"
		}
	}
	return "FAIL"
}

// procCPU is the process's user plus system CPU time (/proc/PID/stat).
func procCPU(b *testing.B, pid int) time.Duration {
	d, err := procstat.CPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// settledRSS reads VmRSS and Threads every half second, up to 15 s, until
// the RSS moves by less than 1% between two readings.
func settledRSS(b *testing.B, pid int) (rss int64, threads int) {
	var prev int64
	for range 30 {
		time.Sleep(500 * time.Millisecond)
		var err error
		if rss, threads, err = procstat.Status(pid); err != nil {
			b.Fatal(err)
		}
		if d := rss - prev; prev > 0 && d*100 < prev && -d*100 < prev {
			break
		}
		prev = rss
	}
	return rss, threads
}

// scaleMetrics reads the Go heap in use and the goroutine count from
// peregrined's /metrics, which listens on pe1's core address: the root
// namespace reaches it over the speaker's link.
func scaleMetrics(b *testing.B) (heap int64, goroutines int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body, err := httpGet(ctx, "http://"+scalePE.String()+":9101/metrics")
	if err != nil {
		b.Fatalf("metrics: %v", err)
	}
	m := procstat.ParseMetrics([]byte(body))
	return int64(m["go_memstats_heap_alloc_bytes"]), int(m["go_goroutines"])
}

// TestScaleConfigParses: the configuration BenchmarkKernelScale gives
// peregrined is one config.Parse accepts, with the VRFs, interfaces and
// static routes the benchmark counts on; it runs on the host, so that a
// config change shows here before a VM run of many minutes.
func TestScaleConfigParses(t *testing.T) {
	c, err := config.Parse([]byte(scaleConfig("/run/pe1.sock", 3)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.VRFs) != 3 {
		t.Fatalf("%d VRFs, want 3", len(c.VRFs))
	}
	last := c.VRFs[2]
	if last.Name != "v2" || len(last.Interfaces) != 1 || last.Interfaces[0] != "c2" || len(last.StaticRoutes) != 10 {
		t.Errorf("VRF v2: %+v", last)
	}
}
