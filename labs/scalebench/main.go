// Command scalebench measures what a userspace-backend peregrined costs
// as its VRF count grows (issue 23, item 4): for each count N it builds a
// fresh lab (topology.go draws it), starts the daemon with N VRFs, each
// with a CE veth, ten static routes and one VPNv4 route imported from a
// gobgpd, and prints:
//
//	bring-up     daemon spawned -> every VRF's imports in the local API
//	             and a route through a TUN in the kernel for each
//	reload       SIGHUP with one VRF added -> that VRF's route installed
//	cpu          the daemon's user+system CPU time over each of those
//	rss, threads /proc/PID/status after bring-up, once the RSS settles
//	heap, gorout go_memstats_heap_alloc_bytes and go_goroutines, /metrics
//	ping         ce1 to ce2 through the first and the last VRF (ESP to
//	             a second peregrined, pe2, which holds those two VRFs)
//
// It writes the table to OUT/scale.csv and, with gnuplot installed, a
// plot of each cost against N to OUT/scale.png. N=0 is allowed: the
// empty daemon, the baseline per-VRF costs are read against.
//
// Runs as root (`make bench-scale VRFS="100 500"`); not part of CI. The
// machine is shared and small: read wall times next to CPU times.
// Traffic never leaves the lab's namespaces.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	vrfsFlag := flag.String("vrfs", "100 500 1000 2000", "VRF counts to measure, space separated")
	bin := flag.String("peregrined", "bin/peregrined", "the peregrined binary")
	out := flag.String("out", "build/bench-scale", "directory for scale.csv and scale.png")
	timeout := flag.Duration("timeout", 30*time.Minute, "longest bring-up or reload to wait for")
	plotOnly := flag.String("plot", "", "only plot this `csv` (e.g. make bench-scale-vm's) next to it, titled with -title")
	title := flag.String("title", "kernel backend", "the backend -plot's title names")
	flag.Parse()
	if *plotOnly != "" {
		png, err := plotCSV(context.Background(), *plotOnly, *title)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scalebench:", err)
			os.Exit(1)
		}
		fmt.Println("plot:", png)
		return
	}
	var counts []int
	for _, f := range strings.Fields(*vrfsFlag) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 16000 {
			fmt.Fprintf(os.Stderr, "scalebench: -vrfs: bad count %q\n", f)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	binPath, err := filepath.Abs(*bin)
	if err == nil {
		_, err = os.Stat(binPath)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "scalebench: -peregrined: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
	var results []result
	printHeader(os.Stdout)
	for _, n := range counts {
		r, err := runOne(ctx, log, binPath, n, *timeout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "scalebench: %d VRFs: %v\n", n, err)
			if ctx.Err() != nil {
				os.Exit(130)
			}
			continue
		}
		printRow(os.Stdout, r)
		results = append(results, r)
	}
	printPerVRF(os.Stdout, results)
	csvPath := filepath.Join(*out, "scale.csv")
	if err := writeCSV(csvPath, results); err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
	fmt.Println("table:", csvPath)
	png := filepath.Join(*out, "scale.png")
	if err := plot(ctx, csvPath, png); err != nil {
		fmt.Println("plot: none:", err)
	} else {
		fmt.Println("plot:", png)
	}
	if len(results) < len(counts) {
		os.Exit(1)
	}
}
