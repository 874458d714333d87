package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/peregrine-net/peregrine/internal/procstat"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// waitConverged watches every PE in its own goroutine, each polling its PE
// every pollEvery until it has converged, so that a slow PE's API does
// not delay another's reading; once per pollEvery it also samples the
// RRs' counters into the timeline and, every 10 s, prints progress. A
// PE that exits fails the run with its log; so does timeout.
func waitConverged(ctx context.Context, m *meshLab, rrs []*peers.FRR, procs []*netns.Process, apis []*apiClient, start time.Time,
	timeout time.Duration, progress func(string, ...any)) ([]peRow, []tick, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var st struct {
		sync.Mutex
		rows   []peRow
		last   []meshProgress
		done   int
		failed error
	}
	st.rows, st.last = make([]peRow, m.pes), make([]meshProgress, m.pes)
	for i := range m.pes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if exited, xerr := procs[i].Exited(); exited {
					st.Lock()
					st.failed = cmp.Or(st.failed, fmt.Errorf("pe%d: peregrined exited (%v)\n%s", i+1, xerr, procs[i].LogTail(20)))
					st.Unlock()
					return
				}
				if g, err := readProgress(ctx, apis[i], m.pe[i], m.pes); err == nil { // else not up yet
					row := peRow{PE: i + 1, Converged: time.Since(start), TUNRoutes: g.tunRoutes}
					row.CPU, _ = procstat.CPU(procs[i].Pid())
					st.Lock()
					st.last[i] = g
					if g.converged(m.pes, m.vrfs) {
						st.rows[i] = row
						st.done++
					}
					st.Unlock()
					if g.converged(m.pes, m.vrfs) {
						return
					}
				}
				if waitTick(ctx, pollEvery) != nil {
					return
				}
			}
		}()
	}
	var timeline []tick
	lastPrint := time.Now()
	for {
		if err := waitTick(ctx, pollEvery); err != nil {
			return nil, nil, err
		}
		var rrc []rrCounters
		for _, rr := range rrs {
			c, _ := readRR(ctx, rr)
			rrc = append(rrc, c)
		}
		st.Lock()
		tk := tick{T: time.Since(start), Converged: st.done, RR: rrc}
		for _, g := range st.last {
			tk.FullVRFs, tk.TUNRoutes = tk.FullVRFs+g.fullVRFs, tk.TUNRoutes+g.tunRoutes
		}
		rows, last, failed := slices.Clone(st.rows), slices.Clone(st.last), st.failed
		st.Unlock()
		if failed != nil {
			return nil, nil, failed
		}
		timeline = append(timeline, tk)
		if time.Since(lastPrint) >= 10*time.Second || tk.Converged == m.pes {
			lastPrint = time.Now()
			progress("%d/%d PEs converged; VRFs complete %d/%d; TUN routes %d/%d",
				tk.Converged, m.pes, tk.FullVRFs, m.pes*m.vrfs, tk.TUNRoutes, m.pes*m.vrfs*(m.pes-1))
		}
		if tk.Converged == m.pes {
			return rows, timeline, nil
		}
		if time.Since(start) > timeout {
			var stuck []string
			for i, g := range last {
				if rows[i].Converged == 0 {
					stuck = append(stuck, fmt.Sprintf("pe%d: %d/%d VRFs, %d TUN routes, unprotected %q", i+1, g.fullVRFs, m.vrfs, g.tunRoutes, g.unprotoVRF))
				}
			}
			return nil, nil, fmt.Errorf("not converged after %v: %v", timeout, stuck)
		}
	}
}

// pollEvery is the convergence poll's period, the resolution of the
// convergence times: each poll costs an API call and an `ip route` per
// PE not yet converged, and a vtysh per RR, CPU the PEs share.
const pollEvery = 250 * time.Millisecond

// tick is one convergence poll: PEs converged, VRFs complete and TUN
// routes over all PEs, and each RR's UPDATE counters.
type tick struct {
	T                              time.Duration
	Converged, FullVRFs, TUNRoutes int
	RR                             []rrCounters
}

// peakUpdates is RR rr's highest UPDATE rate (received plus sent) over
// any window of at least a second between two ticks.
func peakUpdates(ts []tick, rr int) float64 {
	var peak float64
	j := 0
	for i := range ts {
		for j+1 < i && ts[i].T-ts[j+1].T >= time.Second {
			j++
		}
		dt := (ts[i].T - ts[j].T).Seconds()
		if dt < 1 || rr >= len(ts[i].RR) || rr >= len(ts[j].RR) {
			continue
		}
		n := ts[i].RR[rr].updatesRecv + ts[i].RR[rr].updatesSent - ts[j].RR[rr].updatesRecv - ts[j].RR[rr].updatesSent
		peak = max(peak, float64(n)/dt)
	}
	return peak
}
