package kernel

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/internal/procstat"
	"github.com/peregrine-net/peregrine/mpls"
)

// ipBinary is iproute2's ip, which labs/vm copies into the VM with its
// libraries (busybox's ip has no -batch or encap).
const ipBinary = "/sbin/ip-iproute2"

const benchRoutes = 100000

// benchPrefixes are benchRoutes distinct /32s in 10.0.0.0/8.
func benchPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, benchRoutes)
	for i := range out {
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	return out
}

// benchRounds is how many times BenchmarkProgram100kRoutes measures both
// sides: the VM shares its host's CPUs, and one round's ratio can be off
// by a factor of two when a neighbour gets busy.
const benchRounds = 3

// BenchmarkProgram100kRoutes: how fast this backend installs 100,000 VRF
// routes with an MPLS encap (Apply of a State that has them) and then
// withdraws them all (Apply of the State without them), next to `ip
// -batch` adding the same routes with `route add` lines and deleting them
// with `route del` lines, each side in its own fresh namespace. Each
// round programs on one side then the other, then withdraws on one side
// then the other (who goes first alternating), so that what is compared
// is measured back to back; benchRounds rounds in the same VM run. The
// -x metrics are speedups, `ip -batch`'s time over Peregrine's, the
// median of the rounds' (target >= 2: Peregrine takes at most half the
// time), in wall time and in CPU time (user + system, the kernel's route
// work included).
func BenchmarkProgram100kRoutes(b *testing.B) {
	if os.Getenv("PEREGRINE_VM") == "" {
		b.Skip("needs a kernel with MPLS forwarding and VRF devices: run make bench-vm")
	}
	if _, err := os.Stat(ipBinary); err != nil {
		b.Skip("iproute2's ip is not in the VM")
	}
	prefixes := benchPrefixes()
	var ratios [4][]float64 // program wall, program CPU, withdraw wall, withdraw CPU
	var ours, theirs benchTimes
	for round := range b.N * benchRounds {
		sides := []benchSide{newBackendSide(b, prefixes), newIPBatchSide(b, prefixes)}
		var c [2]benchTimes // ours, theirs
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			c[i].program = sides[i].program()
		}
		for _, i := range order {
			c[i].withdraw = sides[i].withdraw()
		}
		o, t := c[0], c[1]
		for i, r := range []float64{
			t.program.wall.Seconds() / o.program.wall.Seconds(), t.program.cpu.Seconds() / o.program.cpu.Seconds(),
			t.withdraw.wall.Seconds() / o.withdraw.wall.Seconds(), t.withdraw.cpu.Seconds() / o.withdraw.cpu.Seconds(),
		} {
			ratios[i] = append(ratios[i], r)
		}
		b.Logf("round %d wall (cpu): program peregrine %v (%v), ip -batch %v (%v): %.2fx; withdraw peregrine %v (%v), ip -batch %v (%v): %.2fx",
			round+1, o.program.wall, o.program.cpu, t.program.wall, t.program.cpu, ratios[0][round],
			o.withdraw.wall, o.withdraw.cpu, t.withdraw.wall, t.withdraw.cpu, ratios[2][round])
		ours.add(o)
		theirs.add(t)
	}
	n := float64(b.N * benchRounds * benchRoutes)
	b.ReportMetric(n/ours.program.wall.Seconds(), "peregrine-routes/s")
	b.ReportMetric(n/theirs.program.wall.Seconds(), "ip-batch-routes/s")
	for i, unit := range []string{"program-x", "program-cpu-x", "withdraw-x", "withdraw-cpu-x"} {
		b.ReportMetric(median(ratios[i]), unit)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// cost is what one step took: wall time and CPU time (user + system).
type cost struct{ wall, cpu time.Duration }

// benchTimes is a side's program and withdraw costs.
type benchTimes struct{ program, withdraw cost }

func (t *benchTimes) add(o benchTimes) {
	t.program.wall += o.program.wall
	t.program.cpu += o.program.cpu
	t.withdraw.wall += o.withdraw.wall
	t.withdraw.cpu += o.withdraw.cpu
}

// benchSide is one way of programming the routes, in a namespace of its
// own, set up and checked outside the steps measured.
type benchSide struct {
	program, withdraw func() cost
}

// selfCPU is this process's user + system time so far.
func selfCPU(b *testing.B) time.Duration {
	d, err := procstat.SelfCPU()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// measure runs f and returns its cost, the CPU time being this process's.
func measure(b *testing.B, f func()) cost {
	b.Helper()
	runtime.GC() // the setup's garbage is not the step's
	cpu, start := selfCPU(b), time.Now()
	f()
	return cost{wall: time.Since(start), cpu: selfCPU(b) - cpu}
}

// newBackendSide: Apply of a State with the routes, then of the State
// without them.
func newBackendSide(b *testing.B, prefixes []netip.Prefix) benchSide {
	b.Helper()
	tb := testing.TB(b)
	n, peer := newNS(tb), newNS(tb)
	link(tb, n, "core", "192.168.0.1/30", peer, "core", "192.168.0.2/30")
	v := &fib.VRF{Name: "red", Table: 1000, Routes: map[netip.Prefix]fib.Route{}}
	for _, p := range prefixes {
		v.Routes[p] = fib.Route{Prefix: p, Remote: netip.MustParseAddr("192.168.0.2"), Labels: []mpls.Label{100}}
	}
	s := &fib.State{VRFs: map[string]*fib.VRF{"red": v}}
	be, err := New(nil, Options{NetNS: n})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	h := handle(tb, n)
	apply := func(s *fib.State, want int) cost {
		c := measure(b, func() {
			if err := be.Apply(context.Background(), s); err != nil {
				b.Fatal(err)
			}
		})
		checkRouteCount(b, h, 1000, want)
		return c
	}
	return benchSide{
		program:  func() cost { return apply(s, benchRoutes) },
		withdraw: func() cost { return apply(&fib.State{VRFs: map[string]*fib.VRF{"red": {Name: "red", Table: 1000}}}, 0) },
	}
}

// newIPBatchSide: `ip -batch` with a `route add` line per route, then
// with a `route del` line per route.
func newIPBatchSide(b *testing.B, prefixes []netip.Prefix) benchSide {
	b.Helper()
	tb := testing.TB(b)
	n, peer := newNS(tb), newNS(tb)
	link(tb, n, "core", "192.168.0.1/30", peer, "core", "192.168.0.2/30")
	h := handle(tb, n)
	if err := h.LinkAdd(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: "vrf-red"}, Table: 1000}); err != nil {
		b.Fatal(err)
	}
	var add, del strings.Builder
	for _, p := range prefixes {
		fmt.Fprintf(&add, "route add %s encap mpls 100 via 192.168.0.2 dev core table 1000 proto 204\n", p)
		fmt.Fprintf(&del, "route del %s table 1000 proto 204\n", p)
	}
	run := func(lines string, want int) cost {
		c := ipBatch(b, n, lines)
		checkRouteCount(b, h, 1000, want)
		return c
	}
	return benchSide{
		program:  func() cost { return run(add.String(), benchRoutes) },
		withdraw: func() cost { return run(del.String(), 0) },
	}
}

// ipBatch runs `ip -batch` on lines in namespace n and returns its cost,
// the CPU time being ip's.
func ipBatch(b *testing.B, n netns.NsHandle, lines string) cost {
	b.Helper()
	file := filepath.Join(b.TempDir(), "routes.batch")
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var c cost
	err := onThreadIn(n, func() error {
		// The child inherits this locked thread's namespace.
		cmd := exec.Command(ipBinary, "-batch", file)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		c.wall = time.Since(start)
		if err != nil {
			return fmt.Errorf("ip -batch: %v: %s", err, out)
		}
		c.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// checkRouteCount fails b unless table holds want routes with an encap.
func checkRouteCount(b *testing.B, h *netlink.Handle, table, want int) {
	b.Helper()
	rs, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, r := range rs {
		if r.Encap != nil {
			n++
		}
	}
	if n != want {
		b.Fatalf("table %d holds %d MPLS routes, want %d", table, n, want)
	}
}
