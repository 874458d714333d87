// Command bgpbench measures how fast peregrined imports a full VPNv4 table
// into a VRF, and at what memory cost, against stock gobgpd receiving the
// same routes from the same peer in the same run (`make bench-bgp`); FRR's
// bgpd and BIRD 2, where installed, receive them too and are set against
// gobgpd the same way (field.go).
//
// Topology: processes on the host's loopback, one TCP port for BGP
// (default 1790) on one address each, each GoBGP speaker's gRPC API on its
// own address. No namespaces are needed and no packet leaves 127.0.0.0/8.
//
//	     bench (this program)
//	      | gRPC AddPathStream: N VPNv4 paths, RD 65000:100, RT 65000:100
//	      v
//	+-----------+   iBGP VPNv4    +-------------------+
//	| gobgpd A  |---------------->| peregrined P      |  VRF "bench" imports
//	| 127.0.0.11|                 | 127.0.0.12        |  RT 65000:100
//	| (source)  |---------+       +-------------------+
//	+-----------+         |         ^ gRPC GetTable: its GoBGP RIB, then
//	                      |         | GET /v1/vrfs (unix socket): imported
//	                      |       +-------------------+
//	                      +------>| gobgpd B          |  reference receiver
//	                  iBGP VPNv4  | 127.0.0.13        |
//	                              +-------------------+
//	                                ^ gRPC GetTable: VPNv4 destinations
//
// and, from A too, FRR bgpd at 127.0.0.14 and BIRD at 127.0.0.15 (field.go;
// -field=false leaves them out).
//
// A actively connects to every receiver; they are passive. All share AS
// 65000.
//
// Method:
//  1. Build the N paths in memory (not timed): 10.a.b.0/24 for the first
//     65,536, then 11.x.y.z/32; RD 65000:100, RT 65000:100, per-prefix
//     labels 100..1099, next hop A.
//  2. Start B and P, then A, whose global export policy rejects every
//     route; wait until A reports every session Established.
//  3. Load the paths into A through its gRPC AddPathStream (not timed: A
//     advertises nothing yet) and check A holds N.
//  4. Read P's and B's RSS and CPU time, start the clock, and release A's
//     table: export policy accept, then one soft reset out to both peers,
//     so each gets A's full table at once, as a PE gets a full table when
//     its session to a route reflector comes up. The receivers, not A's
//     gRPC ingest, are then mostly what limits the rate.
//  5. Poll B (GetTable: its VPNv4 destinations), FRR and BIRD (a counter
//     each, through vtysh and birdc) and P until each holds N.
//     P is polled like B through its embedded GoBGP's API until its RIB
//     holds N, then through GET /v1/vrfs until the VRF has imported N (see
//     waitCount). Each time is estimated from the polls around the moment
//     the count reached N (see estimate); the ratio P/B is Peregrine's
//     time over plain GoBGP's.
//  6. Read RSS at once and after -settle; memory per route is
//     (RSS - RSS before) / N as the kernel counts it. CPU time per process
//     over the phase is reported too: the host may be shared, and wall
//     times then depend on the neighbours while CPU times barely do. The
//     CPU other processes used meanwhile is printed, with a warning if it
//     is high. B's live Go heap, read from its /metrics after a collection
//     forced through its pprof endpoint before the import and once settled,
//     is what GoBGP's own RIB costs a route: P embeds it, so that is the
//     floor under P's memory per route, and P's live heap minus it is
//     Peregrine's share.
//  7. Withdraw everything from A (one DeletePath) and time both to zero.
//
// With -stream the clock starts instead with the first AddPathStream batch
// into A, which advertises as it loads: A's ingest then paces both.
//
// Polls are paced so that they do not dominate what they measure (see
// pollPolicy): each count walks the whole table on the measured speaker's
// own goroutine, and peregrined's /v1/vrfs even lists and sorts the VRF.
//
// With -profile DIR, P is not peregrined but the same bgp.Speaker run inside
// this process, fed by a consumer that does what peregrined's does, and the
// CPU and heap profiles of the import are written to DIR.
//
// With -mode pece it measures instead a PE's CE path: a gobgpd CE's IPv4
// routes through Peregrine's PE, then gobgpd's, to a gobgpd route
// reflector as VPNv4 (pece.go, `make bench-bgp-ce`).
//
// The program exits 1 if the benchmark cannot run; a missed target is
// reported (MISSED TARGET) but is not a failure to run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/modroot"
)

// options are the command-line settings.
type options struct {
	mode           string
	n, batch       int
	runs           int
	port, apiPort  int
	pprofPort      int
	gogc           string
	dataplane      string
	peregrined     string
	gobgpd         string
	withdraw       bool
	settle         time.Duration
	timeout        time.Duration
	poll           pollPolicy
	profile        string
	keep           bool
	stream         bool
	field          bool // also FRR bgpd and BIRD as receivers (field.go)
	targetRatio    float64
	targetCPU      float64
	targetPerRoute float64 // bytes
	targetRatioSet bool    // -target-ratio given (pece mode has its own default)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("bgpbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mode, "mode", "import", "import: gobgpd -> peregrined VPNv4 import against gobgpd;\npece: gobgpd CE -> PE -> gobgpd route reflector, Peregrine's PE against gobgpd's (see pece.go)")
	fs.IntVar(&o.n, "n", 100000, "number of routes")
	fs.IntVar(&o.runs, "runs", 3, "runs, each on a fresh topology; the targets are held against the medians (-profile: 1)")
	fs.IntVar(&o.batch, "batch", 2000, "paths per AddPathStream message")
	fs.IntVar(&o.port, "port", 1790, "BGP port of all three speakers")
	fs.IntVar(&o.apiPort, "api-port", 50061, "GoBGP gRPC port of all three speakers")
	fs.IntVar(&o.pprofPort, "gobgpd-pprof", 0, "if not 0, both gobgpd serve pprof on this `port` of their address")
	fs.StringVar(&o.dataplane, "dataplane", "none", "peregrined's dataplane.backend: none (the control plane alone) or userspace (a whole PE: FIB, TUN, kernel routes; root)")
	fs.StringVar(&o.gogc, "gogc", "", "GOGC `value` for peregrined only (default: inherited)")
	fs.StringVar(&o.peregrined, "peregrined", "", "peregrined `binary` (default: build ./cmd/peregrined)")
	fs.StringVar(&o.gobgpd, "gobgpd", "", "gobgpd `binary` (default: bin/tools/gobgpd of the module)")
	fs.BoolVar(&o.withdraw, "withdraw", true, "also time the withdrawal of every route")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "wait before the second RSS reading")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "give up on the measurement after this long")
	fs.DurationVar(&o.poll.interval, "poll", 20*time.Millisecond, "shortest interval between completion polls")
	fs.Float64Var(&o.poll.factor, "poll-factor", 3, "wait at least this many times the last poll's duration")
	fs.DurationVar(&o.poll.stall, "stall", 2*time.Minute, "fail if a count stops moving this long")
	fs.StringVar(&o.profile, "profile", "", "run P in-process and write cpu.pprof and heap.pprof to `dir`")
	fs.BoolVar(&o.stream, "stream", false, "time from the first path loaded into A, which advertises as it loads,\ninstead of preloading A and timing its full-table dump")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs)")
	fs.BoolVar(&o.field, "field", true, "also time FRR's bgpd and BIRD 2 as receivers of the same routes, where installed (import mode)")
	fs.Float64Var(&o.targetRatio, "target-ratio", 1.2, "target for peregrine/gobgpd import wall time")
	fs.Float64Var(&o.targetCPU, "target-cpu", 1.5, "target for peregrine/gobgpd import CPU time")
	fs.Float64Var(&o.targetPerRoute, "target-bytes", 1024, "target for settled RSS bytes per route")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fs.Visit(func(f *flag.Flag) { o.targetRatioSet = o.targetRatioSet || f.Name == "target-ratio" })
	if o.n < 1 || o.n > maxRoutes || o.batch < 1 || o.runs < 1 {
		fmt.Fprintf(stderr, "bgpbench: -n must be 1..%d, -batch and -runs positive\n", maxRoutes)
		return 2
	}
	if o.profile != "" {
		o.runs = 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch o.mode {
	case "import":
	case "pece":
		if err := benchCE(ctx, o, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "bgpbench: %v\n", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "bgpbench: -mode %q: want import or pece\n", o.mode)
		return 2
	}
	var results []*result
	for i := range o.runs {
		if o.runs > 1 {
			fmt.Fprintf(stderr, "bgpbench: run %d of %d\n", i+1, o.runs)
		}
		res, err := bench(ctx, o, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "bgpbench: %v\n", err)
			return 1
		}
		results = append(results, res)
	}
	printRuns(stdout, o, results)
	return 0
}

// bench sets up the topology, runs the phases and tears everything down,
// whichever way it returns.
func bench(ctx context.Context, o options, logw io.Writer) (*result, error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(logw, "bgpbench: "+format+"\n", args...)
	}
	root, err := modroot.Find()
	if err != nil {
		return nil, err
	}
	if o.gobgpd == "" {
		o.gobgpd = filepath.Join(root, "bin", "tools", "gobgpd")
	}
	if _, err := os.Stat(o.gobgpd); err != nil {
		return nil, fmt.Errorf("gobgpd: %w (run `make tools`)", err)
	}
	dir, err := os.MkdirTemp("", "bgpbench-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		logf("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	fb, skipped := lookFieldBinaries(o.field)
	for _, s := range skipped {
		logf("%s", s)
	}
	if err := checkFree(hostPort(addrA, o.port), hostPort(addrP, o.port), hostPort(addrB, o.port),
		hostPort(addrFRR, o.port), hostPort(addrBIRD, o.port),
		hostPort(addrA, o.apiPort), hostPort(addrP, o.apiPort), hostPort(addrB, o.apiPort),
		hostPort(addrP, metricsPort(o.apiPort)), hostPort(addrB, metricsPort(o.apiPort))); err != nil {
		return nil, err
	}
	if o.peregrined == "" && o.profile == "" {
		o.peregrined = filepath.Join(dir, "peregrined")
		logf("building peregrined")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", o.peregrined, "./cmd/peregrined")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build peregrined: %v\n%s", err, out)
		}
	}

	t0 := time.Now()
	batches := buildPaths(routeSpec{rdAdmin: asn, rdAssigned: rdNumber, rtASN: asn, rtValue: rtValue, nextHop: addrA}, o.n, o.batch)
	logf("built %d paths in %d batches in %v", o.n, len(batches), time.Since(t0).Round(time.Millisecond))

	t := &topology{dir: dir, port: o.port, apiPort: o.apiPort, pprofPort: o.pprofPort, dataplane: o.dataplane}
	if o.gogc != "" {
		t.peEnv = []string{"GOGC=" + o.gogc}
	}
	defer t.close()
	if t.b, err = t.startGoBGP(ctx, o.gobgpd, "gobgpd-B", addrB, gobgpdConf(addrB, o.port, true, false, addrA), true); err != nil {
		return nil, err
	}
	var prof *profiler
	if o.profile != "" {
		if prof, err = t.startInProcess(ctx, o.profile); err != nil {
			return nil, err
		}
	} else if err := t.startPeregrined(ctx, o.peregrined); err != nil {
		return nil, err
	}
	neighbors := []netip.Addr{addrP, addrB}
	if fb.bgpd != "" {
		f, err := t.startFRR(ctx, fb)
		if err != nil {
			return nil, err
		}
		t.field = append(t.field, f)
		neighbors = append(neighbors, f.addr)
	}
	if fb.bird != "" {
		f, err := t.startBIRD(ctx, fb)
		if err != nil {
			return nil, err
		}
		t.field = append(t.field, f)
		neighbors = append(neighbors, f.addr)
	}
	if t.a, err = t.startGoBGP(ctx, o.gobgpd, "gobgpd-A", addrA, gobgpdConf(addrA, o.port, false, !o.stream, neighbors...), false); err != nil {
		return nil, err
	}
	if err := t.waitEstablished(ctx); err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	logf("sessions established; loading %d routes into A", o.n)
	return measure(ctx, t, o, batches, prof, logf)
}
