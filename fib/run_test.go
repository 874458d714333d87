package fib_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/fake"
	"github.com/peregrine-net/peregrine/mpls"
)

// TestReconcilerCoalesces sends a full table's worth of updates (100k
// routes in two VRFs, a quarter of them withdrawn again) as fast as the
// queue takes them: the backend must see a handful of Applies, not 100k,
// and end with exactly the routes that survived.
func TestReconcilerCoalesces(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	r, fb := startReconciler(t, fib.Options{Logger: quietLogger()})
	r.SetConfig(pe1Config())
	flush(t, r)
	base := fb.Applies()

	prefix := func(i int) netip.Prefix {
		if i%2 == 0 {
			return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 128 + byte(i>>16), byte(i >> 8), byte(i)}), 32)
		}
		a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		return netip.PrefixFrom(netip.AddrFrom16(a), 128)
	}
	vrf := func(i int) string { return []string{"red", "blue"}[i/2%2] }
	start := time.Now()
	for i := range n {
		r.UpdateRoute(fib.RouteUpdate{VRF: vrf(i), Prefix: prefix(i), Remote: addr("10.0.0.2"), Labels: labels(uint32(16 + i%1000))})
	}
	for i := 0; i < n; i += 4 {
		r.UpdateRoute(fib.RouteUpdate{VRF: vrf(i), Prefix: prefix(i), Withdraw: true})
	}
	flush(t, r)
	took := time.Since(start)
	applies := fb.Applies() - base
	t.Logf("%d updates in %v: %d Applies", n+n/4, took, applies)
	// At most one Apply per Interval (5ms) of the burst, plus the flush;
	// far fewer than the updates. The bound is loose for slow -race runs.
	if limit := int(took/(5*time.Millisecond)) + 2; applies > limit || applies > 1000 {
		t.Errorf("%d Applies for %d updates in %v, want at most %d", applies, n+n/4, took, min(limit, 1000))
	}

	s := r.State()
	remote := 0
	for _, v := range s.VRFs {
		for _, rt := range v.Routes {
			if rt.IsRemote() {
				remote++
			}
		}
	}
	if want := n - n/4; remote != want {
		t.Errorf("State has %d remote routes, want %d", remote, want)
	}
	for _, i := range []int{0, 1, 2, 3, 4, n - 1} {
		_, ok := s.VRFs[vrf(i)].Routes[prefix(i)]
		if want := i%4 != 0; ok != want {
			t.Errorf("route %d (%s %s) present = %v, want %v", i, vrf(i), prefix(i), ok, want)
		}
	}
	if got, want := len(fb.Lines()), len(fake.Lines(s)); got != want {
		t.Errorf("fake holds %d lines, State renders to %d", got, want)
	}
}

// TestReconcilerCopyOnWrite: a State handed out is never changed, and a
// VRF that did not change is shared, not copied.
func TestReconcilerCopyOnWrite(t *testing.T) {
	r, _ := startReconciler(t, fib.Options{})
	r.SetConfig(pe1Config())
	pe1Connected(r)
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.2.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(100)})
	flush(t, r)
	old := r.State()
	oldLines := fake.Lines(old)

	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.2.0.0/24"), Withdraw: true})
	r.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: pfx("10.3.0.0/24"), Remote: addr("10.0.0.2"), Labels: labels(100)})
	r.UpdateLabel(fib.LabelUpdate{Label: label(1000), VRF: "red"})
	flush(t, r)
	if d := diffLines(oldLines, fake.Lines(old)); d != "" {
		t.Errorf("an old State changed:\n%s", d)
	}
	now := r.State()
	if now.VRFs["blue"] != old.VRFs["blue"] {
		t.Error("unchanged VRF blue was copied")
	}
	if now.VRFs["red"] == old.VRFs["red"] {
		t.Error("changed VRF red was not copied")
	}
}

// TestReconcilerRetries: an Apply that fails halfway is logged and
// retried after the backoff with no new input, and the retry converges.
func TestReconcilerRetries(t *testing.T) {
	// An Interval far longer than the test, started by a first Flush (the
	// first change after start is applied at once): the config then waits
	// for the second Flush, which is answered by the Apply that fails, not
	// by a retry that a slow (race-instrumented, loaded) machine let run
	// first.
	r, fb := startReconciler(t, fib.Options{Interval: time.Hour, MinBackoff: 5 * time.Millisecond, Logger: quietLogger()})
	flush(t, r)
	errBoom := errors.New("boom")
	fb.FailAfter(3, errBoom)
	r.SetConfig(pe1Config())
	if err := r.Flush(context.Background()); !errors.Is(err, errBoom) {
		t.Fatalf("Flush = %v, want %v", err, errBoom)
	}
	deadline := time.Now().Add(10 * time.Second)
	for fb.Applies() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no retry after the backoff")
		}
		time.Sleep(time.Millisecond)
	}
	flush(t, r)
	if d := diffLines(fake.Lines(r.State()), fb.Lines()); d != "" {
		t.Errorf("retry did not converge:\n%s", d)
	}
	if c := fb.Counters(); c["apply failures"] != 1 {
		t.Errorf("counters = %v", c)
	}
}

func TestReconcilerClose(t *testing.T) {
	r := fib.NewReconciler(fake.New(), fib.Options{})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	r.SetConfig(pe1Config())
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := <-done; err != nil {
		t.Errorf("Run after Close = %v, want nil", err)
	}
	// Nothing blocks once closed, even with more inputs than the queue holds.
	for i := range 5000 {
		r.UpdateLabel(fib.LabelUpdate{Label: mpls.Label(16 + i), VRF: "red"})
	}
	if err := r.Flush(context.Background()); !errors.Is(err, fib.ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}

	r2 := fib.NewReconciler(fake.New(), fib.Options{})
	r2.Close()
	if err := r2.Run(context.Background()); !errors.Is(err, fib.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

// TestReconcilerContext: Run ends with its context and answers waiting
// Flush callers.
func TestReconcilerContext(t *testing.T) {
	r := fib.NewReconciler(fake.New(), fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if err := r.Flush(context.Background()); !errors.Is(err, fib.ErrClosed) {
		t.Errorf("Flush after Run returned = %v, want ErrClosed", err)
	}
}

func TestTUNName(t *testing.T) {
	for _, vrf := range []string{"red", "abcdefghijkl", "abcdefghijklm", "customer-number", "customer-numbex"} {
		for _, name := range []string{fib.TUNName(vrf), fib.VRFDevice(vrf)} {
			if len(name) > 15 {
				t.Errorf("%q -> %q: longer than IFNAMSIZ-1", vrf, name)
			}
		}
	}
	if fib.TUNName("customer-number") == fib.TUNName("customer-numbex") {
		t.Error("shortened names collide")
	}
	if got := fib.TUNName("abcdefghijkl"); got != "pg-abcdefghijkl" {
		t.Errorf("TUNName kept a 15-byte name as %q", got)
	}
	if !slices.Equal([]string{fib.TUNName("red"), fib.VRFDevice("red")}, []string{"pg-red", "vrf-red"}) {
		t.Error("short names are not prefix+name")
	}
}

// stuckBackend's Apply waits for its context, like a backend waiting on
// a kernel that does not answer.
type stuckBackend struct{ entered chan struct{} }

func (b stuckBackend) Apply(ctx context.Context, _ *fib.State) error {
	close(b.entered)
	<-ctx.Done()
	return ctx.Err()
}

func (stuckBackend) Close() error { return nil }

// TestReconcilerCloseDuringApply: Close ends an Apply that is stuck, by
// its context, rather than waiting for it forever.
func TestReconcilerCloseDuringApply(t *testing.T) {
	b := stuckBackend{entered: make(chan struct{})}
	r := fib.NewReconciler(b, fib.Options{Logger: quietLogger()})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	r.SetConfig(pe1Config())
	<-b.entered
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a stuck Apply")
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
