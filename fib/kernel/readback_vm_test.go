package kernel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// In the VM: a PE programs many routes through Apply, and iproute2, an
// independent reader, shows them back:
//
//	PE core 192.168.0.1/30 ── peer core 192.168.0.2/30
//	VRF red, table 1000: readbackRoutes /32s to remote PE 192.168.0.2,
//	labels 100 (and 100/200/300 for every seventh)
//
// One route among them asks for more labels than the kernel takes: Apply
// names it, and only it, and every other route is in.

const readbackRoutes = 3000

// TestApplyReadBackWithIP: `ip -4 route show table 1000 proto 204` lists
// exactly the routes Apply was given (and the unreachable default), one
// refused route aside; Apply's error names that one, with the kernel's
// reason, and a withdrawal leaves the table with the default alone.
func TestApplyReadBackWithIP(t *testing.T) {
	requireVM(t)
	if _, err := os.Stat(ipBinary); err != nil {
		t.Skip("iproute2's ip is not in the VM")
	}
	n, peer := newNS(t), newNS(t)
	link(t, n, "core", "192.168.0.1/30", peer, "core", "192.168.0.2/30")
	v := vrf("red", 1000)
	want := []string{"unreachable default metric 4278198272"}
	tooDeep := make([]mpls.Label, 40) // the kernel takes at most 30 (MAX_NEW_LABELS)
	for i := range tooDeep {
		tooDeep[i] = mpls.Label(1000 + i)
	}
	bad := netip.MustParsePrefix("10.0.0.77/32")
	for i := range readbackRoutes {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		labels := []mpls.Label{100}
		if i%7 == 0 {
			labels = []mpls.Label{100, 200, 300}
		}
		if p == bad {
			labels = tooDeep
		} else {
			text := make([]string, len(labels))
			for j, l := range labels {
				text[j] = fmt.Sprint(l)
			}
			want = append(want, fmt.Sprintf("%s encap mpls %s via 192.168.0.2 dev core", p.Addr(), strings.Join(text, "/")))
		}
		v.Routes[p] = fib.Route{Prefix: p, Remote: netip.MustParseAddr("192.168.0.2"), Labels: labels}
	}
	be, err := New(nil, Options{NetNS: n})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	err = be.Apply(context.Background(), &fib.State{VRFs: vrfs(v)})
	if err == nil {
		t.Fatal("Apply took a route with 40 labels")
	}
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "ip route replace inet 10.0.0.77/32 table 1000 metric 0: invalid argument") ||
		strings.Count(err.Error(), "ip route replace") != 1 {
		t.Errorf("Apply's error names more or less than the route with 40 labels: %v", err)
	}
	t.Logf("Apply: %v", err)
	if got := ipRouteShow(t, n); !slices.Equal(got, sortedCopy(want)) {
		t.Errorf("ip route show table 1000 proto 204: %d lines, want %d; first differences:\n%s", len(got), len(want), firstDiffs(got, sortedCopy(want), 5))
	}

	if err := be.Apply(context.Background(), &fib.State{VRFs: vrfs(vrf("red", 1000))}); err != nil {
		t.Fatalf("withdrawing: %v", err)
	}
	if got := ipRouteShow(t, n); !slices.Equal(got, want[:1]) {
		t.Errorf("after the withdrawal ip route show table 1000 proto 204 lists %d lines: %s", len(got), firstDiffs(got, want[:1], 5))
	}
}

// ipRouteShow is `ip -4 route show table 1000 proto 204` in n, each line
// with its spaces and "proto 204" (which iproute2 may print) squeezed
// out, sorted.
func ipRouteShow(t *testing.T, n netns.NsHandle) []string {
	t.Helper()
	var out []byte
	err := onThreadIn(n, func() error {
		var err error
		out, err = exec.Command(ipBinary, "-4", "route", "show", "table", "1000", "proto", "204").CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip route show: %v: %s", err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if i := slices.Index(f, "proto"); i >= 0 && i+1 < len(f) {
			f = slices.Delete(f, i, i+2)
		}
		if len(f) > 0 {
			lines = append(lines, strings.Join(f, " "))
		}
	}
	slices.Sort(lines)
	return lines
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// firstDiffs shows up to max lines got has and want lacks (+), and up
// to max the other way (-).
func firstDiffs(got, want []string, max int) string {
	var out []string
	for _, d := range []struct {
		sign     string
		from, in []string
	}{{"+ ", got, want}, {"- ", want, got}} {
		in := map[string]bool{}
		for _, l := range d.in {
			in[l] = true
		}
		shown := 0
		for _, l := range d.from {
			if !in[l] && shown < max {
				out = append(out, d.sign+l)
				shown++
			}
		}
	}
	return strings.Join(out, "\n")
}
