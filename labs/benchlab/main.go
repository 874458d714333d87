// Command benchlab measures TCP throughput from CE to CE through Peregrine
// (MPLS in ESP, userspace fast path; AES-128-GCM, and ChaCha20-Poly1305,
// the cipher WireGuard uses) against, in the same run and topology, plain
// kernel forwarding (the ceiling) and wireguard-go (the reference: the
// target is Peregrine at least 1.0x wireguard-go), with one TCP stream and
// with several (-P 1,4). It runs
// as `make bench-lab`, as root, and is not part of CI: on a 2-core machine
// a throughput figure says nothing about correctness and takes minutes.
//
// Topology, one network namespace per box, built afresh for every run by
// the same code (see buildTopology):
//
//	   10.1.0.0/24               192.168.255.0/30               10.2.0.0/24
//	+-----+ .2      .1 +-----+ .1                .2 +-----+ .1      .2 +-----+
//	| ce1 |------------| pe1 |======================| pe2 |------------| ce2 |
//	+-----+ eth0   ce1 +-----+ core   core veth core +-----+ ce2   eth0 +-----+
//	iperf3 -c                 \_ variant under test _/             iperf3 -s
//
// Every veth has MTU 1500 and the kernel's default offloads; both PEs
// forward IPv4. The variants differ only in how pe1 and pe2 carry the CE
// subnets between them:
//
//	kernel        routes in clear over the core veth (the ceiling)
//	wireguard-go  wireguard-go's TUN in each PE (MTU 1420, WireGuard's
//	              default), ChaCha20-Poly1305 over UDP 51820, set up with
//	              Debian's wg
//	peregrine     peregrined in each PE: VRF red, iBGP VPNv4 between the
//	              PEs, ESP aes128gcm16 with manual keys; its TUN MTU is
//	              whatever the daemon sets, and is reported
//	peregrine-resources
//	              the same with one SA pair per CPU (-resources; RFC 9611
//	              per-resource SAs, ipsec.tunnels[].resources): each TUN
//	              queue seals with its own SA, each SA's inbound SPI is
//	              opened on its own socket
//	peregrine-chacha20
//	              the same as peregrine with ESP chacha20poly1305 (RFC
//	              7634), the cipher of wireguard-go: the like-for-like
//	              comparison
//	peregrine-before
//	              only with -peregrined-before BIN (make bench-lab
//	              BEFORE=REV): the peregrine setup run by BIN, an older
//	              build, so that before and after alternate in one run
//
// Method: a fresh topology per run; check that ce1 cannot reach ce2 yet,
// set up the variant, wait until it can, then run iperf3 (one-shot server
// in ce2, client in ce1 for -t seconds after -O seconds of warm-up) once
// for each stream count of -P, in that order on the same setup, and take
// end.sum_received.bits_per_second, what arrived at ce2. Variants run
// interleaved, one each per round (kernel, wireguard-go, peregrine,
// peregrine-chacha20, kernel, ...), for -rounds rounds, and the figure is
// each variant's median per stream count: the machine is small and noisy,
// and interleaving spreads a slow spell over all variants instead of one.
// For the peregrine variants the user+sys CPU time of both PEs'
// peregrined over each iperf3 run is read from /proc (cpu.go); the
// before/after lines (beforeafter.go) set peregrine-before, peregrine and
// peregrine-resources side by side, throughput and CPU, as ratios to
// before.
//
// When peregrined does not carry CE traffic (it fails to build or start,
// or no CE reaches the other through it), a peregrine variant prints
// "peregrine: dataplane not available yet (...)" in place of a figure, so
// that the other variants are still measured (setupPeregrine in
// peregrine.go).
//
// Traffic never leaves the lab: the namespaces have no link to the host or
// anywhere else, and every address is inside them. Close removes the lab
// on return and on SIGINT or SIGTERM.
//
// Exit status: 0 when every variant was measured or reported unavailable
// (a missed target is printed, not a failure), 1 when the benchmark could
// not run, 2 for a bad command line, 130 when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/labs/internal/modroot"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// options are the command-line settings.
type options struct {
	iperf         iperfOptions // streams: each of streams in turn
	streams       []int        // -P: the stream counts, each run per setup
	rounds        int
	variants      []string
	wireguardGo   string
	peregrined    string
	before        string // -peregrined-before
	resources     int    // SA pairs of peregrine-resources
	peregrineWait time.Duration
	target        float64
	verbose       bool
}

// environment is what the variants share for the whole benchmark.
type environment struct {
	log           *slog.Logger
	out           io.Writer // progress, for a person watching
	wireguardGo   string
	peregrined    string
	peregrinedErr error // why there is no peregrined binary
	// peregrinedBefore is the binary peregrine-before runs: an older
	// build to compare the tree's against, alternating in one run.
	peregrinedBefore string
	resources        int // SA pairs of peregrine-resources
	peregrineWait    time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	if reason := netns.CanRun(); reason != "" {
		fmt.Fprintf(stderr, "benchlab: cannot build the lab: %s\n", reason)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	rep, err := bench(ctx, o, stderr)
	if rep != nil {
		rep.print(stdout)
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "benchlab: interrupted; lab removed")
		return 130
	case err != nil:
		fmt.Fprintf(stderr, "benchlab: %v\n", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("benchlab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.iperf.seconds, "t", 10, "iperf3 measured `seconds` per run")
	fs.IntVar(&o.iperf.omit, "O", 1, "iperf3 warm-up `seconds` left out of the figure")
	streams := fs.String("P", "1,4", "comma-separated iperf3 parallel TCP stream `counts`, each run on every setup")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every variant once, and the figure is the median")
	variants := fs.String("variants", strings.Join(defaultVariants(), ","), "comma-separated `list` of variants to run (peregrine-before is added with -peregrined-before)")
	fs.StringVar(&o.wireguardGo, "wireguard-go", "", "wireguard-go `binary` (default: bin/tools/wireguard-go, from `make tools`)")
	fs.StringVar(&o.peregrined, "peregrined", "", "peregrined `binary` (default: build ./cmd/peregrined)")
	fs.StringVar(&o.before, "peregrined-before", "", "an older peregrined `binary` for variant peregrine-before, run alternating with the others (make bench-lab BEFORE=REV builds one)")
	fs.IntVar(&o.resources, "resources", runtime.NumCPU(), "SA `pairs` of variant peregrine-resources (RFC 9611 per-resource SAs; default one per CPU)")
	fs.DurationVar(&o.peregrineWait, "peregrine-wait", 20*time.Second, "how long peregrined gets to carry a ping from ce1 to ce2")
	fs.Float64Var(&o.target, "target", 1.0, "target for peregrine/wireguard-go")
	fs.BoolVar(&o.verbose, "v", false, "log every lab step")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	bad := func(format string, args ...any) (options, error) {
		err := fmt.Errorf(format, args...)
		fmt.Fprintf(stderr, "benchlab: %v\n", err)
		return o, err
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if o.iperf.seconds < 1 || o.iperf.omit < 0 || o.rounds < 1 {
		return bad("-t and -rounds must be at least 1, -O at least 0")
	}
	if o.resources < 1 || o.resources > config.MaxResources {
		return bad("-resources: bad SA pair count %d (want 1 to %d)", o.resources, config.MaxResources)
	}
	for p := range strings.SplitSeq(*streams, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 128 {
			return bad("-P: bad stream count %q (want 1 to 128)", p)
		}
		if !slices.Contains(o.streams, n) {
			o.streams = append(o.streams, n)
		}
	}
	for v := range strings.SplitSeq(*variants, ",") {
		v = strings.TrimSpace(v)
		if !slices.Contains(variantNames(), v) {
			return bad("-variants: unknown variant %q (want %s)", v, strings.Join(variantNames(), ", "))
		}
		if !slices.Contains(o.variants, v) {
			o.variants = append(o.variants, v)
		}
	}
	hasBefore := slices.Contains(o.variants, variantBefore)
	switch {
	case o.before != "" && !hasBefore:
		o.variants = append(o.variants, variantBefore)
	case o.before == "" && hasBefore:
		return bad("-variants: %s needs -peregrined-before", variantBefore)
	}
	return o, nil
}

// prepare finds or builds the binaries the chosen variants need. A
// missing wireguard-go is an error; peregrined that does not build only
// makes its variant unavailable, since the tree may be mid-edit.
func prepare(ctx context.Context, o options, log *slog.Logger, out io.Writer, tmp string) (*environment, error) {
	env := &environment{log: log, out: out, peregrined: o.peregrined, peregrinedBefore: o.before,
		resources: o.resources, peregrineWait: o.peregrineWait, wireguardGo: o.wireguardGo}
	if err := need("iperf3", "iperf3"); err != nil {
		return nil, err
	}
	if slices.Contains(o.variants, "wireguard-go") {
		if err := need("wg", "wireguard-tools"); err != nil {
			return nil, err
		}
		if env.wireguardGo == "" {
			p, err := peers.Tool("wireguard-go")
			if err != nil {
				return nil, err
			}
			env.wireguardGo = p
		}
	}
	if env.peregrinedBefore != "" {
		if _, err := os.Stat(env.peregrinedBefore); err != nil {
			return nil, fmt.Errorf("-peregrined-before: %w", err)
		}
	}
	if slices.ContainsFunc(o.variants, isPeregrine) && env.peregrined == "" {
		root, err := modroot.Find()
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(out, "benchlab: building peregrined")
		env.peregrined, env.peregrinedErr = buildPeregrined(ctx, root, tmp)
	}
	return env, ctx.Err()
}

// need fails, naming the Debian package, if program is not in PATH.
func need(program, pkg string) error {
	if _, err := lookPath(program); err != nil {
		return fmt.Errorf("%s not found: apt-get install %s", program, pkg)
	}
	return nil
}

// bench runs the rounds and returns the report so far, also when it
// stops early.
func bench(ctx context.Context, o options, stderr io.Writer) (*report, error) {
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	tmp, err := os.MkdirTemp("", "benchlab-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	env, err := prepare(ctx, o, log, stderr, tmp)
	if err != nil {
		return nil, err
	}

	rep := newReport(o)
	for round := 1; round <= o.rounds; round++ {
		for _, r := range rep.results {
			if r.unavailable != "" {
				continue
			}
			fmt.Fprintf(stderr, "benchlab: round %d/%d: %s ...\n", round, o.rounds, r.name)
			ms, info, err := runOnce(ctx, env, r.name, o.iperf, o.streams)
			if ua := (*unavailableError)(nil); errors.As(err, &ua) {
				r.unavailable = ua.Error()
				fmt.Fprintf(stderr, "benchlab: %s: %v\n", r.name, ua)
				continue
			}
			if err != nil {
				return rep, fmt.Errorf("round %d, %s: %w", round, r.name, err)
			}
			r.info = info
			for i, m := range ms {
				r.add(o.streams[i], m)
				cpu := ""
				if m.hasCPU {
					cpu = fmt.Sprintf(", PEs' peregrined CPU %.2f s", m.cpu.Seconds())
				}
				fmt.Fprintf(stderr, "benchlab: round %d/%d: %s -P %d: %s Gbit/s (%d retransmits%s)\n",
					round, o.rounds, r.name, o.streams[i], gbit(m.bps), m.retransmits, cpu)
			}
		}
	}
	return rep, nil
}

// runOnce builds a topology, sets up one variant and measures it with
// each stream count in turn, returning one measurement per count, with
// the CPU time the variant's daemons (topology.daemons) spent over each
// iperf3 run. The lab is removed before it returns, whichever way.
func runOnce(ctx context.Context, env *environment, name string, o iperfOptions, streams []int) ([]measurement, string, error) {
	t, err := buildTopology(ctx, env.log)
	if err != nil {
		return nil, "", err
	}
	defer t.close(env.log)
	if err := t.checkNoPath(ctx); err != nil {
		return nil, "", err
	}
	info, err := variantSetup(name)(ctx, env, t)
	if err != nil {
		return nil, "", err
	}
	if err := t.waitReachable(ctx, 15*time.Second); err != nil {
		return nil, "", err
	}
	var ms []measurement
	for _, n := range streams {
		o.streams = n
		cpu0, cpuErr := daemonsCPU(t.daemons)
		m, err := runIperf(ctx, t, o)
		if err != nil {
			return nil, "", fmt.Errorf("-P %d: %w", n, err)
		}
		if cpu1, err := daemonsCPU(t.daemons); len(t.daemons) > 0 && cpuErr == nil && err == nil {
			m.cpu, m.hasCPU = cpu1-cpu0, true
		}
		ms = append(ms, m)
	}
	if t.saSocket != "" {
		if sas, err := outboundSAs(ctx, t.saSocket); err != nil {
			info += fmt.Sprintf("; pe1's SAs unreadable (%v)", err)
		} else {
			info += "; pe1 sealed per SA, all runs: " + describeSAs(sas)
		}
	}
	return ms, info, nil
}

// setupFunc configures a variant's path between the PEs of a fresh
// topology and describes it (cipher, TUN and its MTU) for the report.
type setupFunc func(context.Context, *environment, *topology) (string, error)

// variants in the order each round runs them.
var variants = []struct {
	name  string
	setup setupFunc
}{
	{"kernel", setupKernel},
	{"wireguard-go", setupWireGuard},
	{variantBefore, setupPeregrine(peregrineVariant{cipher: esp.AES128GCM16, before: true})},
	{"peregrine", setupPeregrine(peregrineVariant{cipher: esp.AES128GCM16})},
	{variantResources, setupPeregrine(peregrineVariant{cipher: esp.AES128GCM16, resources: true})},
	{"peregrine-chacha20", setupPeregrine(peregrineVariant{cipher: esp.ChaCha20Poly1305})},
}

// The variants of the before/after comparison: "peregrine" is the tree's
// binary with one SA pair; these are the older binary with the same
// setup, and the tree's with one pair per CPU.
const (
	variantBefore    = "peregrine-before"
	variantResources = "peregrine-resources"
)

// defaultVariants is every variant but peregrine-before, which needs
// -peregrined-before.
func defaultVariants() []string {
	return slices.DeleteFunc(variantNames(), func(v string) bool { return v == variantBefore })
}

func variantNames() []string {
	var names []string
	for _, v := range variants {
		names = append(names, v.name)
	}
	return names
}

func variantSetup(name string) setupFunc {
	for _, v := range variants {
		if v.name == name {
			return v.setup
		}
	}
	panic("benchlab: unknown variant " + name)
}
