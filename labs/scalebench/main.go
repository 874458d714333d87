// Command scalebench measures what a userspace-backend peregrined costs
// as its VRF count grows (issue 23, item 4): for each count N it builds a
// fresh lab (topology.go draws it), starts the daemon with N VRFs, each
// with a CE veth, ten static routes and one VPNv4 route imported from a
// gobgpd, and prints:
//
//	bring-up     daemon spawned -> every VRF's imports in the local API
//	             and a route through a TUN in the kernel for each; pe1
//	             starts once pe2 dials it, into a running network
//	reload       SIGHUP with one VRF added -> that VRF's route installed
//	cpu          the daemon's user+system CPU time over each of those
//	rss, threads /proc/PID/status right after bring-up, and settled: once
//	             the RSS holds within 1% for 8 s (settle.go), after the
//	             daemon's own trimmer has returned the bring-up's garbage
//	heap, gorout go_memstats_heap_alloc_bytes and go_goroutines, /metrics
//	spans, held  settled: heap spans in use, free heap not yet returned to
//	stacks       the kernel, goroutine stacks (/metrics): where the RSS goes
//	ping         ce1 to ce2 through the first and the last VRF (ESP to
//	             a second peregrined, pe2, which holds those two VRFs)
//	stop         SIGTERM -> the daemon's exit
//
// With -busy N it measures instead one VRF's iperf3 throughput alone and
// beside N-1 idle VRFs, in two labs up at once, the runs alternated, and
// prints the ratio (throughput.go).
//
// It writes the table to OUT/scale.csv and, with gnuplot installed, a
// plot of each cost against N to OUT/scale.png. N=0 is allowed: the
// empty daemon, the baseline per-VRF costs are read against.
//
// With -pes N it runs the many-PE lab instead (pes.go, issue 23 item 5):
// N PEs of -vrfs-per-pe VRFs, two FRR route reflectors, manual-key ESP
// between every pair (`make bench-scale PES=16`).
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
	pes := flag.Int("pes", 0, "run the many-PE lab with this many PEs instead (pes.go)")
	vrfsPerPE := flag.Int("vrfs-per-pe", 50, "VRFs on each PE of the many-PE lab")
	busy := flag.Int("busy", 0, "if not 0, instead of the table: one VRF's iperf3 throughput alone and beside `N`-1 idle VRFs, alternated")
	rounds := flag.Int("rounds", 3, "with -busy: iperf3 runs in each lab")
	seconds := flag.Int("t", 10, "with -busy: iperf3 measured seconds per run")
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
	if *pes != 0 {
		os.Exit(mainPEsFlags(*pes, *vrfsPerPE, *bin, *out, *timeout))
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
	if *busy > 0 {
		o := busyOptions{vrfs: *busy, rounds: *rounds, seconds: *seconds, omit: 2, timeout: *timeout}
		r, err := runBusy(ctx, log, binPath, o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scalebench: -busy:", err)
			os.Exit(1)
		}
		printBusy(os.Stdout, r, o)
		return
	}
	var results []result
	printFields(os.Stdout, columns, 14)
	for _, n := range counts {
		r, err := runOne(ctx, log, binPath, n, *timeout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "scalebench: %d VRFs: %v\n", n, err)
			if ctx.Err() != nil {
				os.Exit(130)
			}
			continue
		}
		printFields(os.Stdout, r.fields(), 14)
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
