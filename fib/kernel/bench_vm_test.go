package kernel

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
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

// BenchmarkProgram100kRoutes: how fast this backend installs 100,000 VRF
// routes with an MPLS encap, next to `ip -batch` installing the same
// routes, each into a fresh namespace in the same VM run. Reports both
// rates and their ratio (target >= 1).
func BenchmarkProgram100kRoutes(b *testing.B) {
	if os.Getenv("PEREGRINE_VM") == "" {
		b.Skip("needs a kernel with MPLS forwarding and VRF devices: run make bench-vm")
	}
	if _, err := os.Stat(ipBinary); err != nil {
		b.Skip("iproute2's ip is not in the VM")
	}
	prefixes := benchPrefixes()
	var ours, theirs time.Duration
	for range b.N {
		ours += programWithBackend(b, prefixes)
		theirs += programWithIPBatch(b, prefixes)
	}
	n := float64(b.N * benchRoutes)
	b.ReportMetric(n/ours.Seconds(), "peregrine-routes/s")
	b.ReportMetric(n/theirs.Seconds(), "ip-batch-routes/s")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "ratio")
}

func programWithBackend(b *testing.B, prefixes []netip.Prefix) time.Duration {
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
	defer be.Close()
	start := time.Now()
	if err := be.Apply(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	checkRouteCount(b, handle(tb, n), 1000)
	return d
}

func programWithIPBatch(b *testing.B, prefixes []netip.Prefix) time.Duration {
	b.Helper()
	tb := testing.TB(b)
	n, peer := newNS(tb), newNS(tb)
	link(tb, n, "core", "192.168.0.1/30", peer, "core", "192.168.0.2/30")
	h := handle(tb, n)
	if err := h.LinkAdd(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: "vrf-red"}, Table: 1000}); err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	for _, p := range prefixes {
		fmt.Fprintf(&sb, "route add %s encap mpls 100 via 192.168.0.2 dev core table 1000 proto 204\n", p)
	}
	file := filepath.Join(b.TempDir(), "routes.batch")
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	var d time.Duration
	err := onThreadIn(n, func() error {
		// The child inherits this locked thread's namespace.
		start := time.Now()
		out, err := exec.Command(ipBinary, "-batch", file).CombinedOutput()
		d = time.Since(start)
		if err != nil {
			return fmt.Errorf("ip -batch: %v: %s", err, out)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	checkRouteCount(b, h, 1000)
	return d
}

func checkRouteCount(b *testing.B, h *netlink.Handle, table int) {
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
	if n != benchRoutes {
		b.Fatalf("table %d holds %d MPLS routes, want %d", table, n, benchRoutes)
	}
}
