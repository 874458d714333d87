package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/peregrine-net/peregrine/labs/peers"
)

// iperfPort is the iperf3 server's port in ce2.
const iperfPort = 5201

// iperfOptions are the client's settings, the same for every variant.
type iperfOptions struct {
	seconds int // -t
	omit    int // -O: seconds of warm-up (slow start, path MTU) left out
	streams int // -P
}

// measurement is one iperf3 run's result as the receiver saw it.
type measurement struct {
	bps         float64 // end.sum_received.bits_per_second
	seconds     float64 // end.sum_received.seconds
	retransmits int     // end.sum_sent.retransmits
	// cpu is the user+sys time the variant's daemons spent over the
	// iperf3 run (warm-up included), when hasCPU.
	cpu    time.Duration
	hasCPU bool
}

// iperfReport is the part of `iperf3 -J` output the benchmark reads.
// sum_received is the figure: what arrived at ce2, after any loss in the
// tunnel, rather than what ce1 managed to push into its socket.
type iperfReport struct {
	Error string `json:"error"`
	End   struct {
		SumSent struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Retransmits   int     `json:"retransmits"`
		} `json:"sum_sent"`
		SumReceived struct {
			Seconds       float64 `json:"seconds"`
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
}

// parseIperf reads `iperf3 -c ... -J` output. iperf3 reports its own
// failures (server busy, connection refused) in the "error" field of the
// same JSON, so that message is returned rather than a parse error.
func parseIperf(out []byte) (measurement, error) {
	var r iperfReport
	if err := json.Unmarshal(out, &r); err != nil {
		return measurement{}, fmt.Errorf("iperf3 output is not JSON: %w", err)
	}
	if r.Error != "" {
		return measurement{}, fmt.Errorf("iperf3: %s", r.Error)
	}
	rx := r.End.SumReceived
	if rx.BitsPerSecond <= 0 || rx.Seconds <= 0 {
		return measurement{}, errors.New("iperf3 reported no received data (end.sum_received is empty)")
	}
	return measurement{bps: rx.BitsPerSecond, seconds: rx.Seconds, retransmits: r.End.SumSent.Retransmits}, nil
}

// runIperf starts a one-shot iperf3 server in ce2, waits until it
// listens, and runs the client in ce1 against it.
func runIperf(ctx context.Context, t *topology, o iperfOptions) (measurement, error) {
	srv, err := t.ce2.Start("iperf3", "-s", "-1", "-B", ce2Addr.String(), "-p", strconv.Itoa(iperfPort))
	if err != nil {
		return measurement{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = peers.Eventually(wctx, func(ctx context.Context) error {
		if exited, err := srv.Exited(); exited {
			return fmt.Errorf("iperf3 server exited (%v): %s", err, srv.LogTail(5))
		}
		out, err := t.ce2.Exec(ctx, "ss", "-Hltn", "sport = :"+strconv.Itoa(iperfPort))
		if err != nil {
			return err
		}
		if len(out) == 0 {
			return errors.New("iperf3 server not listening yet")
		}
		return nil
	})
	if err != nil {
		return measurement{}, err
	}

	args := []string{"iperf3", "-c", ce2Addr.String(), "-p", strconv.Itoa(iperfPort),
		"-t", strconv.Itoa(o.seconds), "-P", strconv.Itoa(o.streams), "-J"}
	if o.omit > 0 {
		args = append(args, "-O", strconv.Itoa(o.omit))
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(o.seconds+o.omit)*time.Second+30*time.Second)
	defer cancel()
	out, runErr := t.ce1.Exec(cctx, args...)
	m, err := parseIperf(out)
	if err != nil && runErr != nil {
		// Prefer iperf3's own message when it printed one.
		var r iperfReport
		if json.Unmarshal(out, &r) == nil && r.Error != "" {
			return measurement{}, err
		}
		return measurement{}, runErr
	}
	return m, err
}
