package kernel

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// TestExplicitNullFiltersFollowMPLSInput: Apply adds the explicit-null
// filters (explicitnull.go) to each interface it turns MPLS input on for,
// as iproute2's tc reads them back, once however often it runs; none to a
// CE interface; and a State that takes an interface out of
// dataplane.mpls-interfaces takes its filters away with its input.
func TestExplicitNullFiltersFollowMPLSInput(t *testing.T) {
	requireVM(t)
	pe1, pe2, red, blue := newNS(t), newNS(t), newNS(t), newNS(t)
	link(t, pe1, "core", "192.168.1.1/30", pe2, "core", "192.168.1.2/30")
	link(t, pe1, "core2", "192.168.3.1/30", pe2, "core2", "192.168.3.2/30")
	link(t, pe1, "ce1", "10.1.0.1/24", red, "eth0", "10.1.0.2/24")
	link(t, pe1, "ce2", "10.1.0.1/24", blue, "eth0", "10.1.0.2/24")
	s := peState("10.1.0.0/24", "10.2.0.0/24", addr("192.168.1.2"), "ce1", "ce2", 1001, 1002, 2001, 2002)
	s.UnprotectedPeers = []netip.Prefix{pfx("192.168.1.2/32")}
	s.MPLSInterfaces = []string{"core", "core2"}
	b, err := New(nil, Options{NetNS: pe1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for range 2 {
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	want := map[string]int{"core": 2, "core2": 2, "ce1": 0, "ce2": 0}
	checkExplicitNullFilters(t, pe1, want)

	s2 := *s
	s2.MPLSInterfaces = []string{"core"}
	if err := b.Apply(context.Background(), &s2); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want["core2"] = 0
	checkExplicitNullFilters(t, pe1, want)
}

// checkExplicitNullFilters compares the number of explicit-null filters
// tc shows at each interface's ingress in ns with want.
func checkExplicitNullFilters(t *testing.T, ns netns.NsHandle, want map[string]int) {
	t.Helper()
	for dev, n := range want {
		var out []byte
		if err := onThreadIn(ns, func() error {
			var err error
			out, err = exec.Command("/sbin/tc", "filter", "show", "dev", dev, "ingress").CombinedOutput()
			return err
		}); err != nil {
			t.Fatalf("tc filter show dev %s ingress: %v\n%s", dev, err, out)
		}
		text := string(out)
		got := strings.Count(text, "pref 204 flower chain 0 handle")
		nulls := strings.Count(text, "mpls_label 0") + strings.Count(text, "mpls_label 2")
		pops := strings.Count(text, "pop protocol mpls_uc")
		if got != n || nulls != n || pops != n {
			t.Errorf("%s: %d explicit-null filters (%d nulls matched, %d pops), want %d:\n%s", dev, got, nulls, pops, n, text)
		}
	}
}
