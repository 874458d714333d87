package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/internal/procstat"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// result is one row of the table: the costs of one VRF count.
type result struct {
	VRFs       int
	BringUp    time.Duration // peregrined started -> every VRF's routes installed
	BringUpCPU time.Duration // the daemon's CPU time (user+system) over the same span
	Reload     time.Duration // SIGHUP adding one VRF -> its routes installed
	ReloadCPU  time.Duration
	RSSUp      int64         // bytes, /proc/PID/status VmRSS, right after bring-up
	HeapUp     int64         // bytes, go_memstats_heap_alloc_bytes, right after bring-up
	Settle     time.Duration // bring-up -> the RSS settled (settle.go)
	Settled    bool          // false: settleTimeout ran out first
	RSS        int64         // bytes, VmRSS once settled: the idle VRFs' cost
	Heap       int64         // bytes, go_memstats_heap_alloc_bytes once settled
	Threads    int           // /proc/PID/status Threads once settled
	Goroutines int           // go_goroutines once settled
	Mem        memClasses    // spans, held free heap and stacks once settled
	PingFirst  string
	PingLast   string
	Stop       time.Duration // SIGTERM -> the daemon's exit (stopTimeout if it did not)
}

// stopTimeout bounds the wait for the daemon to stop, then it is killed.
const stopTimeout = 60 * time.Second

// labRun is one lab with its daemons started: pe1 with the VRFs under
// test, pe2 and gobgpd.
type labRun struct {
	lab   *netns.Lab
	t     *topology
	k     keys
	sock  string // pe1's API socket
	api   *apiClient
	pe1   *netns.Process
	pe2   *netns.Process // nil with no VRFs
	start time.Time      // pe1 spawned
}

// startLab builds a fresh lab for vrfs VRFs and starts its daemons. The
// caller closes it.
func startLab(ctx context.Context, log *slog.Logger, bin string, vrfs int) (_ *labRun, err error) {
	lab, err := netns.New(log)
	if err != nil {
		return nil, err
	}
	l := &labRun{lab: lab}
	defer func() {
		if err != nil {
			l.close(log)
		}
	}()
	if l.t, err = buildTopology(ctx, lab, vrfs); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	if l.k, err = writeKeys(lab.Dir()); err != nil {
		return nil, err
	}
	if err := l.t.startSpeaker(ctx); err != nil {
		return nil, fmt.Errorf("gobgpd: %w", err)
	}
	if vrfs > 0 {
		if l.pe2, err = peers.StartPeregrined(l.t.pe2, bin, pe2Config(pe2Sock(lab), vrfs, l.k)); err != nil {
			return nil, err
		}
		// pe1 comes up in a running network, as a PE that restarts or
		// joins one does: its neighbours up and dialing it. A speaker
		// that has just started only listens for 8 s (bgp/startlisten.go),
		// so two started together would wait that out: a constant, not
		// a cost of the VRFs, and longer than the bring-up of thousands.
		if err := waitDialing(ctx, l.t.pe2, time.Minute); err != nil {
			return nil, fmt.Errorf("pe2 never dialed pe1: %w", err)
		}
	}
	l.sock = filepath.Join(lab.Dir(), "pe1.sock")
	l.api = newAPIClient(l.sock)
	// StartPeregrined runs `peregrined -check` first and returns once
	// the daemon is spawned: the clock starts then.
	if l.pe1, err = peers.StartPeregrined(l.t.pe1, bin, pe1Config(l.sock, vrfs, l.k)); err != nil {
		return nil, err
	}
	l.start = time.Now()
	return l, nil
}

func (l *labRun) close(log *slog.Logger) {
	if err := l.lab.Close(); err != nil {
		log.Warn("closing lab", "err", err)
	}
}

// fail wraps a failure of pe1's with its state and the end of its log.
func (l *labRun) fail(what string, err error) error {
	if exited, xerr := l.pe1.Exited(); exited {
		err = fmt.Errorf("peregrined exited (%v): %w", xerr, err)
	}
	return fmt.Errorf("%s: %w\n--- pe1 log ---\n%s", what, err, l.pe1.LogTail(20))
}

// runOne builds a fresh lab for vrfs VRFs, measures, and tears it down.
func runOne(ctx context.Context, log *slog.Logger, bin string, vrfs int, timeout time.Duration) (r result, err error) {
	r.VRFs = vrfs
	l, err := startLab(ctx, log, bin, vrfs)
	if err != nil {
		return r, err
	}
	defer l.close(log)
	t, k, sock, api, p, start, fail := l.t, l.k, l.sock, l.api, l.pe1, l.start, l.fail
	if err := waitFor(ctx, timeout, func(ctx context.Context) (bool, error) {
		return installed(ctx, api, t.pe1, vrfs)
	}); err != nil {
		return r, fail("bring-up", err)
	}
	r.BringUp = time.Since(start)
	r.BringUpCPU, _ = procstat.CPU(p.Pid())

	if r.RSSUp, _, err = procstat.Status(p.Pid()); err != nil {
		return r, err
	}
	if r.HeapUp, _, err = goMetrics(ctx, t.pe1); err != nil {
		return r, fail("metrics", err)
	}
	settleStart := time.Now()
	if r.RSS, r.Threads, r.Settled, err = settledStatus(ctx, p.Pid(), t.pe1, settleWindow, settleTimeout); err != nil {
		return r, err
	}
	r.Settle = time.Since(settleStart)
	if r.Heap, r.Goroutines, err = goMetrics(ctx, t.pe1); err != nil {
		return r, fail("metrics", err)
	}
	if r.Mem, err = goMemClasses(ctx, t.pe1); err != nil {
		return r, fail("metrics", err)
	}
	r.PingFirst, r.PingLast = "-", "-"
	if vrfs > 0 {
		r.PingFirst = t.ping(ctx, nth(farFirst, 2).String())
		r.PingLast = t.ping(ctx, nth(farLast, 2).String())
		if r.PingFirst != "ok" || r.PingLast != "ok" {
			l.explainPingFailure(ctx, bin)
		}
	}

	// Reload: one VRF more, its veth and gobgpd's route already there.
	conf := filepath.Join(l.lab.Dir(), "pe1-peregrined", "peregrined.yml")
	if err := os.WriteFile(conf, []byte(pe1Config(sock, vrfs+1, k)), 0o600); err != nil {
		return r, err
	}
	cpu0, _ := procstat.CPU(p.Pid())
	start = time.Now()
	if err := syscall.Kill(p.Pid(), syscall.SIGHUP); err != nil {
		return r, err
	}
	if err := waitFor(ctx, timeout, func(ctx context.Context) (bool, error) {
		got, err := api.vrfImports(ctx)
		if err != nil || got[vrfName(vrfs)] < 1 {
			return false, nil
		}
		n, err := kernelTUNRoutes(ctx, t.pe1)
		return n >= expectedImports(vrfs)+1, err
	}); err != nil {
		return r, fail("reload", err)
	}
	r.Reload = time.Since(start)
	cpu1, _ := procstat.CPU(p.Pid())
	r.ReloadCPU = cpu1 - cpu0

	// Stop: the lab's own stop kills after 5 s, so time it here.
	start = time.Now()
	if err := syscall.Kill(p.Pid(), syscall.SIGTERM); err != nil {
		return r, err
	}
	select {
	case <-p.Done():
	case <-time.After(stopTimeout):
	}
	r.Stop = time.Since(start)
	return r, nil
}

// expectedImports is how many imported routes vrfs VRFs hold: gobgpd's in
// each, and pe2's in the first and the last.
func expectedImports(vrfs int) int {
	switch vrfs {
	case 0:
		return 0
	case 1:
		return 2
	}
	return vrfs + 2
}

// startSpeaker starts gobgpd in spk, peering with pe1, and originates one
// route per VRF (and one for the VRF the reload adds) with the VRF's
// target and pe2 as next hop, so that pe1 sends it through its tunnel.
func (t *topology) startSpeaker(ctx context.Context) error {
	g, err := peers.StartGoBGP(ctx, t.spk, peers.GoBGPConfig{Config: peers.Config{
		RouterID: spkAddr, ASN: asn,
		Neighbors: []peers.NeighborConfig{{Address: pe1Spk, RemoteAS: asn, LocalAddress: spkAddr}},
	}})
	if err != nil {
		return err
	}
	// The CLI takes one route per call: a few calls at a time.
	idx := make(chan int)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				if err := g.AddRoute(ctx, peers.VPNRoute{RD: fmt.Sprintf("%d:%d", asn+1, i+1), Prefix: spkNet,
					Label: uint32(1000 + i), RTs: []string{rt(i)}, NextHop: pe2Core}); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	for i := range t.vrfs + 1 {
		select {
		case idx <- i:
		case err := <-errs:
			close(idx)
			wg.Wait()
			return err
		}
	}
	close(idx)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return nil
}

// ping sends up to 10 echo requests, one a second, from ce1 to addr and
// says "ok" at the first answer, else "FAIL".
func (t *topology) ping(ctx context.Context, addr string) string {
	for range 10 {
		if _, err := t.ce1.Exec(ctx, "ping", "-n", "-q", "-c", "1", "-W", "1", addr); err == nil {
			return "ok"
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			break
		}
	}
	return "FAIL"
}

// explainPingFailure prints to stderr what the lab's PEs say of their BGP
// sessions, tunnels and VRFs, and the end of their logs: a failed ping
// leaves no other trace once the lab is gone.
func (l *labRun) explainPingFailure(ctx context.Context, bin string) {
	cli := filepath.Join(filepath.Dir(bin), "peregrine")
	for _, pe := range []struct {
		name, sock, vrf string
		p               *netns.Process
	}{
		{"pe1", l.sock, vrfName(0), l.pe1},
		{"pe2", pe2Sock(l.lab), "first", l.pe2},
	} {
		for _, args := range [][]string{{"show", "bgp", "summary"}, {"show", "ipsec", "sa"}, {"show", "route", "vrf", pe.vrf}, {"show", "dataplane"}} {
			out, err := exec.CommandContext(ctx, cli, append([]string{"-s", pe.sock}, args...)...).CombinedOutput()
			fmt.Fprintf(os.Stderr, "--- %s: peregrine %s (%v)\n%s", pe.name, strings.Join(args, " "), err, out)
		}
		fmt.Fprintf(os.Stderr, "--- %s: log tail\n%s\n", pe.name, pe.p.LogTail(30))
	}
	// pe1's fast path and kernel, on the way back into the first VRF:
	// what the replies out of its TUN meet.
	out, err := exec.CommandContext(ctx, cli, "-s", l.sock, "show", "interfaces").CombinedOutput()
	fmt.Fprintf(os.Stderr, "--- pe1: peregrine show interfaces, the first VRF's (%v)\n", err)
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); err != nil || len(f) > 1 && (f[0] == "Interface" || f[1] == vrfName(0)) {
			fmt.Fprintln(os.Stderr, line)
		}
	}
	// One more ping, seen on every interface of pe1: what goes out of
	// the first VRF's TUN and comes back into it, and what the core
	// carries.
	ce, far := nth(ceLink(0), 2).String(), nth(farFirst, 2).String()
	capture, err := l.t.pe1.Start("timeout", "4", "tcpdump", "-n", "-l", "-i", "any", "ip", "and", "not", "tcp", "port", "179")
	if err == nil {
		time.Sleep(time.Second)
		_, _ = l.t.ce1.Exec(ctx, "ping", "-n", "-q", "-c", "1", "-W", "1", far)
		<-capture.Done()
		fmt.Fprintf(os.Stderr, "--- pe1: tcpdump during one ping\n%s\n", capture.LogTail(40))
	}
	for _, args := range [][]string{
		{"sh", "-c", "ip rule show | head -12; ip rule show | wc -l; ip -6 rule show | wc -l"},
		{"sh", "-c", "ip rule show | grep -wE '" + fib.TUNName(vrfName(0)) + "|" + ceIf(0) + "'"},
		{"sh", "-c", "ip route show table all dev " + ceIf(0) + "; ip route show table all dev " + fib.TUNName(vrfName(0)) + " | head -20"},
		// A healthy lab: 14 IPv4 routes of the backend's per VRF (and
		// 2), one of them the VRF's CE subnet's.
		{"sh", "-c", "ip -4 route show table all proto 204 | wc -l; ip -4 route show table all proto 204 | grep -c '^" + ceSubnetsRE() + "'; ip -6 route show table all proto 204 | wc -l"},
		{"ip", "route", "get", ce, "from", far, "iif", fib.TUNName(vrfName(0))},
		{"ip", "-s", "link", "show", fib.TUNName(vrfName(0))},
		{"ip", "-s", "link", "show", ceIf(0)},
		{"nstat", "-as"},
	} {
		out, err := l.t.pe1.Exec(ctx, args...)
		fmt.Fprintf(os.Stderr, "--- pe1: %s (%v)\n%s", strings.Join(args, " "), err, out)
	}
}

// ceSubnetsRE matches the start of an address in the CE links' /16.
func ceSubnetsRE() string {
	a := ceBase.As4()
	return fmt.Sprintf(`%d\.%d\.`, a[0], a[1])
}

// pe2Sock is pe2's API socket in lab.
func pe2Sock(lab *netns.Lab) string { return filepath.Join(lab.Dir(), "pe2.sock") }
