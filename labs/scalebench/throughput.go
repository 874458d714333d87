package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/peregrine-net/peregrine/labs/peers"
)

// The busy-VRF check (issue 23): "throughput of one VRF with 1,999 idle
// VRFs beside it at least 0.9x the same VRF alone". Two labs stand at
// once, one whose pe1 holds that VRF alone and one whose pe1 holds it
// beside vrfs-1 idle ones, and iperf3 runs through the first VRF of
// each in turn, rounds times, so that both meet the same load from the
// rest of the machine:
//
//	ce1 --c0--> pe1 (v0: ESP) --core--> pe2 (first) --d0--> ce2 iperf3 -s
//
// The figure is the median of the busy lab's runs over the alone lab's.

// busyOptions are the iperf3 runs' settings.
type busyOptions struct {
	vrfs    int           // VRFs in the busy lab's pe1
	rounds  int           // runs in each lab, alternated
	seconds int           // iperf3 -t
	omit    int           // iperf3 -O: warm-up seconds left out
	timeout time.Duration // longest bring-up to wait for
}

// busyResult is the check's outcome: each lab's runs in bits per second.
type busyResult struct {
	vrfs          int
	alone, beside []float64
}

// ratio is the median beside over the median alone.
func (r busyResult) ratio() float64 {
	a := median(r.alone)
	if a == 0 {
		return 0
	}
	return median(r.beside) / a
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runBusy brings up both labs, waits until each has its routes, and
// alternates the iperf3 runs.
func runBusy(ctx context.Context, log *slog.Logger, bin string, o busyOptions) (busyResult, error) {
	r := busyResult{vrfs: o.vrfs}
	labs := make([]*labRun, 2)
	for i, n := range []int{1, o.vrfs} {
		l, err := startLab(ctx, log, bin, n)
		if err != nil {
			return r, fmt.Errorf("lab with %d VRFs: %w", n, err)
		}
		defer l.close(log)
		if err := waitFor(ctx, o.timeout, func(ctx context.Context) (bool, error) {
			return installed(ctx, l.api, l.t.pe1, n)
		}); err != nil {
			return r, l.fail(fmt.Sprintf("bring-up of %d VRFs", n), err)
		}
		labs[i] = l
	}
	for range o.rounds {
		for i, l := range labs {
			bps, err := iperf(ctx, l, o)
			if err != nil {
				return r, l.fail("iperf3", err)
			}
			if i == 0 {
				r.alone = append(r.alone, bps)
			} else {
				r.beside = append(r.beside, bps)
			}
		}
	}
	return r, nil
}

// iperf runs one iperf3 TCP stream from ce1 to ce2 through the lab's
// first VRF and returns what ce2 received, in bits per second.
func iperf(ctx context.Context, l *labRun, o busyOptions) (float64, error) {
	dst := nth(farFirst, 2).String()
	const port = "5201"
	srv, err := l.t.ce2.Start("iperf3", "-s", "-1", "-B", dst, "-p", port)
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := peers.Eventually(wctx, func(ctx context.Context) error {
		if exited, err := srv.Exited(); exited {
			return fmt.Errorf("iperf3 server exited (%v): %s", err, srv.LogTail(5))
		}
		out, err := l.t.ce2.Exec(ctx, "ss", "-Hltn", "sport = :"+port)
		if err == nil && len(out) == 0 {
			err = errors.New("iperf3 server not listening yet")
		}
		return err
	}); err != nil {
		return 0, err
	}
	cctx, cancel2 := context.WithTimeout(ctx, time.Duration(o.seconds+o.omit)*time.Second+30*time.Second)
	defer cancel2()
	out, runErr := l.t.ce1.Exec(cctx, "iperf3", "-c", dst, "-p", port, "-t", strconv.Itoa(o.seconds),
		"-O", strconv.Itoa(o.omit), "-J")
	bps, err := parseIperfReceived(out)
	if err != nil {
		return 0, errors.Join(err, runErr)
	}
	return bps, nil
}

// parseIperfReceived reads end.sum_received.bits_per_second from `iperf3
// -J` output (what arrived at the server), or iperf3's own error.
func parseIperfReceived(out []byte) (float64, error) {
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("iperf3 output is not JSON: %w", err)
	}
	if r.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", r.Error)
	}
	if r.End.SumReceived.BitsPerSecond <= 0 {
		return 0, errors.New("iperf3 reported no received data")
	}
	return r.End.SumReceived.BitsPerSecond, nil
}

// printBusy writes each run and the ratio.
func printBusy(w io.Writer, r busyResult, o busyOptions) {
	fmt.Fprintf(w, "busy VRF: iperf3 TCP ce1 -> ce2 through one VRF, %d s after %d s warm-up, %d rounds alternated\n",
		o.seconds, o.omit, o.rounds)
	for i := range r.alone {
		fmt.Fprintf(w, "round %d: alone %.0f Mbit/s, beside %d idle VRFs %.0f Mbit/s\n",
			i+1, r.alone[i]/1e6, r.vrfs-1, r.beside[i]/1e6)
	}
	fmt.Fprintf(w, "median: alone %.0f Mbit/s, beside %d idle VRFs %.0f Mbit/s: ratio %.2f (target at least 0.90)\n",
		median(r.alone)/1e6, r.vrfs-1, median(r.beside)/1e6, r.ratio())
}
