package main

// The PE mode (`-pes N`, `make bench-scale PES=16`): N userspace-backend
// peregrined PEs with V VRFs each, two FRR route reflectors, manual-key
// ESP between every pair of PEs (pes_lab.go draws it). It measures
//
//	converge     all PEs started at once -> every PE holds, for each of
//	             its VRFs, the other N-1 PEs' prefixes in its API and a
//	             route through a TUN for each in the kernel, every remote
//	             PE "protected" (ESP); per PE and the slowest, polled
//	             every 250 ms (pes_converge.go)
//	updates/s    UPDATEs each RR received and sent (FRR's messageStats
//	             over its neighbors) divided by the convergence time, and
//	             the peak over any window of a second or more
//	rss, heap    each PE's VmRSS once the lab's total settles, and its Go
//	             heap (/metrics); median and max
//	cpu          user+system CPU of the PEs and of the RRs up to convergence
//	ping         from the first and the last VRF's CE at PE i to the same
//	             VRF's CE at PE i%N+1 (every PE a source and a
//	             destination once), counting echo requests that reached
//	             each of the two CEs at the far PE that share the address:
//	             the one in the other VRF must see none
//	wire         tcpdump on the core during the pings: ESP only, nothing
//	             plain (pes_wire.go)
//
// Output: a summary and a per-PE table on stdout, OUT/pes-summary.csv,
// OUT/pes.csv, OUT/pes-timeline.csv and, with gnuplot, OUT/pes.png. The
// exit status is 1 unless every ping, the isolation and the wire check
// pass.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/peregrine-net/peregrine/internal/procstat"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// peRow is one PE's figures.
type peRow struct {
	PE         int
	Converged  time.Duration // since the first PE was spawned
	CPU        time.Duration // user+system at its convergence
	RSS        int64
	Heap       int64
	Threads    int
	Goroutines int
	TUNRoutes  int
}

// rrRow is one route reflector's figures over the convergence window.
type rrRow struct {
	Name                     string
	UpdatesRecv, UpdatesSent int64
	CPU                      time.Duration
}

// meshResult is one run of the PE mode.
type meshResult struct {
	PEs, VRFs   int
	LabBuild    time.Duration // namespaces and veths
	Spawn       time.Duration // first PE started -> last PE started
	Converge    time.Duration // first PE started -> the last PE converged
	PERows      []peRow
	RRs         []rrRow
	Pings       []pingResult
	Wire        wireCounts // on the core during the pings
	Timeline    []tick     // sampled while converging
	PingsOK     int
	IsolationOK bool
}

// pingResult is one sampled ping: from PE From's CE in VRF to PE To's.
type pingResult struct {
	VRF              string
	From, To         int
	Sent, Received   int
	DstEchos, Leaked int64 // echo requests seen by the destination CE and by its twin in the other sampled VRF
}

func (p pingResult) ok() bool {
	return p.Received == p.Sent && p.DstEchos >= int64(p.Sent) && p.Leaked == 0
}

// runPEs builds the many-PE lab, measures, and tears it down (also when
// ctx is cancelled by Ctrl-C: Lab.Close removes every namespace).
func runPEs(ctx context.Context, log *slog.Logger, bin string, pes, vrfs int, timeout time.Duration) (r meshResult, err error) {
	r.PEs, r.VRFs = pes, vrfs
	t0 := time.Now()
	progress := func(format string, args ...any) {
		fmt.Printf("[%6.1fs] "+format+"\n", append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	lab, err := netns.New(log)
	if err != nil {
		return r, err
	}
	defer func() {
		progress("tearing the lab down")
		if cerr := lab.Close(); cerr != nil {
			log.Warn("closing lab", "err", cerr)
		}
	}()
	m, err := buildMeshLab(ctx, lab, pes, vrfs, progress)
	if err != nil {
		return r, fmt.Errorf("lab: %w", err)
	}
	r.LabBuild = time.Since(t0)
	if err := writeMeshKeys(lab.Dir(), pes); err != nil {
		return r, err
	}
	rrs, err := startRRs(ctx, m)
	if err != nil {
		return r, fmt.Errorf("route reflectors: %w", err)
	}
	progress("route reflectors up: %d FRR bgpd, %d clients each", len(rrs), pes)
	before := make([]rrCounters, len(rrs))
	rrCPU0 := make([]time.Duration, len(rrs))
	for i, rr := range rrs {
		if before[i], err = readRR(ctx, rr); err != nil {
			return r, err
		}
		rrCPU0[i], _ = procstat.CPU(rr.Process().Pid())
	}

	// A cold start of the whole network: every PE started at once.
	start := time.Now()
	procs, apis, err := spawnPEs(m, bin)
	if err != nil {
		return r, err
	}
	r.Spawn = time.Since(start)
	progress("%d peregrined spawned in %.1fs; waiting for convergence", pes, r.Spawn.Seconds())

	if r.PERows, r.Timeline, err = waitConverged(ctx, m, rrs, procs, apis, start, timeout, progress); err != nil {
		return r, err
	}
	for _, row := range r.PERows { // the slowest PE's time
		r.Converge = max(r.Converge, row.Converged)
	}
	for i, rr := range rrs {
		after, err := readRR(ctx, rr)
		if err != nil {
			return r, err
		}
		cpu, _ := procstat.CPU(rr.Process().Pid())
		r.RRs = append(r.RRs, rrRow{Name: m.rr[i].Name(), UpdatesRecv: after.updatesRecv - before[i].updatesRecv,
			UpdatesSent: after.updatesSent - before[i].updatesSent, CPU: cpu - rrCPU0[i]})
	}
	progress("converged in %.1fs; reading memory", r.Converge.Seconds())
	if err := settledMeshStatus(ctx, procs, r.PERows); err != nil {
		return r, err
	}
	for i := range r.PERows {
		r.PERows[i].Heap, r.PERows[i].Goroutines, _ = goMetrics(ctx, m.pe[i])
	}
	progress("pinging across, tcpdump on the core")
	capture, err := startCoreCapture(ctx, m.core)
	if err != nil {
		return r, err
	}
	r.Pings = meshPings(ctx, m)
	if r.Wire, err = capture.stop(ctx); err != nil {
		return r, err
	}
	r.IsolationOK = true
	for _, p := range r.Pings {
		if p.ok() {
			r.PingsOK++
		}
		if p.Leaked != 0 {
			r.IsolationOK = false
		}
	}
	return r, nil
}

// spawnPEs starts every PE's peregrined at once (peers.StartPeregrined
// checks each config first, `peregrined -check`, then spawns).
func spawnPEs(m *meshLab, bin string) ([]*netns.Process, []*apiClient, error) {
	procs := make([]*netns.Process, m.pes)
	apis := make([]*apiClient, m.pes)
	errs := make([]error, m.pes)
	var wg sync.WaitGroup
	for p := 1; p <= m.pes; p++ {
		sock := filepath.Join(m.lab.Dir(), fmt.Sprintf("pe%d.sock", p))
		apis[p-1] = newAPIClient(sock)
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[p-1], errs[p-1] = peers.StartPeregrined(m.pe[p-1], bin, peMeshConfig(p, m.pes, m.vrfs, sock, m.lab.Dir()))
		}()
	}
	wg.Wait()
	return procs, apis, errors.Join(errs...)
}

// startRRs starts one FRR bgpd per RR node, every PE its client.
func startRRs(ctx context.Context, m *meshLab) ([]*peers.FRR, error) {
	var rrs []*peers.FRR
	for i, n := range m.rr {
		cfg := peers.FRRConfig{Config: peers.Config{RouterID: rrAddrs[i], ASN: asn}, ListenAddr: rrAddrs[i]}
		for p := 1; p <= m.pes; p++ {
			cfg.Neighbors = append(cfg.Neighbors, peers.NeighborConfig{Address: peCore(p), RemoteAS: asn, LocalAddress: rrAddrs[i], RRClient: true})
		}
		f, err := peers.StartFRR(ctx, n, cfg)
		if err != nil {
			return nil, err
		}
		rrs = append(rrs, f)
	}
	return rrs, nil
}

func readRR(ctx context.Context, rr *peers.FRR) (rrCounters, error) {
	out, err := rr.Vtysh(ctx, "show bgp neighbors json")
	if err != nil {
		return rrCounters{}, err
	}
	return parseRRCounters(out)
}

// settledMeshStatus reads every PE's RSS and threads once a second, up to
// 30 s, until the lab's total RSS moves by less than 1% between two
// readings (settledStatus's rule, for all PEs at once).
func settledMeshStatus(ctx context.Context, procs []*netns.Process, rows []peRow) error {
	var prev int64
	for range 30 {
		if err := waitTick(ctx, time.Second); err != nil {
			return err
		}
		var total int64
		for i, p := range procs {
			rss, threads, err := procstat.Status(p.Pid())
			if err != nil {
				return fmt.Errorf("pe%d: %w", i+1, err)
			}
			rows[i].RSS, rows[i].Threads = rss, threads
			total += rss
		}
		if d := total - prev; prev > 0 && d*100 < prev && -d*100 < prev {
			return nil
		}
		prev = total
	}
	return nil
}

// meshPings pings, in the first and the last VRF, from PE i's CE to PE
// i%N+1's, and counts the echo requests at the destination CE and at
// its twin in the other VRF, which has the same address.
func meshPings(ctx context.Context, m *meshLab) []pingResult {
	const count = 3
	type vrfSide struct {
		v        int
		ce, twin []*netns.Node
	}
	sides := []vrfSide{{0, m.first, m.last}}
	if m.vrfs > 1 {
		sides = append(sides, vrfSide{m.vrfs - 1, m.last, m.first})
	}
	var res []pingResult
	for _, s := range sides {
		for i := 1; i <= m.pes; i++ {
			j := i%m.pes + 1
			if i == j {
				continue
			}
			dst := siteCE(j, s.v, m.vrfs).Addr().String()
			pr := pingResult{VRF: meshVRFName(s.v), From: i, To: j, Sent: count}
			d0, _ := snmpInEchos(ctx, s.ce[j-1])
			t0, _ := snmpInEchos(ctx, s.twin[j-1])
			if pingUntil(ctx, s.ce[i-1], dst, 10) {
				pr.Received = pingCount(ctx, s.ce[i-1], dst, count)
			}
			d1, _ := snmpInEchos(ctx, s.ce[j-1])
			t1, _ := snmpInEchos(ctx, s.twin[j-1])
			pr.DstEchos = d1 - d0
			if m.vrfs > 1 {
				pr.Leaked = t1 - t0
			}
			res = append(res, pr)
		}
	}
	return res
}

// median of the values f picks from rows.
func medianOf(rows []peRow, f func(peRow) int64) (median, maximum int64) {
	v := make([]int64, len(rows))
	for i, r := range rows {
		v[i] = f(r)
	}
	if len(v) == 0 {
		return 0, 0
	}
	slices.Sort(v)
	n := len(v)
	median = v[n/2]
	if n%2 == 0 {
		median = (v[n/2-1] + v[n/2]) / 2
	}
	return median, v[n-1]
}
