package fake_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
)

func state(prefixes ...string) *fib.State {
	v := &fib.VRF{Name: "red", Table: 1000, Interfaces: []string{"ce1"}, Routes: map[netip.Prefix]fib.Route{}}
	for _, p := range prefixes {
		pp := netip.MustParsePrefix(p)
		v.Routes[pp] = fib.Route{Prefix: pp, Interface: "ce1"}
	}
	return &fib.State{VRFs: map[string]*fib.VRF{"red": v}}
}

// TestApply walks the fake through the transitions it must get right:
// from nothing, the same State again, one change, a failure halfway and
// its repair, and back to nothing, with deletes in reverse order.
func TestApply(t *testing.T) {
	ctx := context.Background()
	fb := fake.New()
	s1 := state("10.1.0.0/24")
	if err := fb.Apply(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fb.LastDiff(), fake.Lines(s1)) {
		t.Errorf("first Apply ran %q, want Lines", fb.LastDiff())
	}
	if err := fb.Apply(ctx, s1); err != nil || len(fb.LastDiff()) != 0 {
		t.Errorf("same State again ran %q (%v)", fb.LastDiff(), err)
	}

	s2 := state("10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24")
	errBoom := errors.New("boom")
	fb.FailAfter(1, errBoom)
	if err := fb.Apply(ctx, s2); !errors.Is(err, errBoom) {
		t.Fatalf("Apply = %v, want %v", err, errBoom)
	}
	if want := []string{"ip route add 10.2.0.0/24 dev ce1 table 1000"}; !slices.Equal(fb.LastDiff(), want) {
		t.Errorf("failed Apply ran %q, want %q", fb.LastDiff(), want)
	}
	if !slices.Equal(fb.Lines(), fake.Lines(s1)) {
		t.Error("Lines moved to a State that failed")
	}
	if err := fb.Apply(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ip route add 10.3.0.0/24 dev ce1 table 1000"}; !slices.Equal(fb.LastDiff(), want) {
		t.Errorf("repair ran %q, want %q", fb.LastDiff(), want)
	}

	if err := fb.Apply(ctx, &fib.State{}); err != nil {
		t.Fatal(err)
	}
	want := fake.Lines(s2)
	slices.Reverse(want)
	for i := range want {
		want[i] = fake.Del(want[i])
	}
	if !slices.Equal(fb.LastDiff(), want) {
		t.Errorf("teardown ran\n%q\nwant\n%q", fb.LastDiff(), want)
	}
	if fb.Applies() != 5 || len(fb.Diffs()) != 5 {
		t.Errorf("Applies = %d, Diffs = %d, want 5", fb.Applies(), len(fb.Diffs()))
	}
	fb.Close()
	if err := fb.Apply(ctx, s1); err == nil {
		t.Error("Apply after Close succeeded")
	}
}

func TestDel(t *testing.T) {
	for add, del := range map[string]string{
		"ip route add 10.0.0.0/8 dev pg-red table 1000 # via 10.0.0.2 label 100": "ip route del 10.0.0.0/8 dev pg-red table 1000 # via 10.0.0.2 label 100",
		"ip -f mpls route add 1000 dev vrf-red":                                  "ip -f mpls route del 1000 dev vrf-red",
		"# tunnel add 10.0.0.2 udp out none in none":                             "# tunnel del 10.0.0.2 udp out none in none",
	} {
		if got := fake.Del(add); got != del {
			t.Errorf("Del(%q) = %q, want %q", add, got, del)
		}
	}
}
