package keying

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
)

// lateFIB is an AckingFIB whose dataplane installs a config only when
// the test says (ackAll), as a FIB busy with route work would.
type lateFIB struct {
	fibRecorder
	mu      sync.Mutex
	pending []func()
}

func (f *lateFIB) SetConfigThen(c fib.Config, applied func()) {
	f.SetConfig(c)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, applied)
}

func (f *lateFIB) ackAll() {
	f.mu.Lock()
	run := f.pending
	f.pending = nil
	f.mu.Unlock()
	for _, g := range run {
		g()
	}
}

// TestTimersCountFromInstall: a rekey's new outbound SA seals
// OutSwitchDelay after our FIB installed the child, not after it was
// negotiated, and a retired child opens RetireGrace after the FIB
// installed its retirement, not after its delete.
func TestTimersCountFromInstall(t *testing.T) {
	const (
		delay = 50 * time.Millisecond
		grace = 100 * time.Millisecond
		late  = 300 * time.Millisecond
	)
	pe2 := netip.MustParseAddr("192.0.2.2")
	f := &lateFIB{}
	s := start(t, Options{FIB: f, ReplayWindow: 64, OutSwitchDelay: delay, RetireGrace: grace,
		Remotes: map[string]netip.Addr{"pe2": pe2}})
	seals := func() (out uint32, open []uint32) {
		t.Helper()
		fc, _ := f.config()
		for _, tn := range fc.Tunnels {
			if tn.Remote == pe2 {
				if tn.Out != nil {
					out = tn.Out.SPI
				}
				for _, p := range append([]*fib.SAParams{tn.In}, tn.RetiringIn...) {
					if p != nil {
						open = append(open, p.SPI)
					}
				}
			}
		}
		return out, open
	}
	old := testChild("pe2", pe2, 0x100, 0x200, time.Now())
	s.ChildUp(old)
	f.ackAll()
	time.Sleep(20 * time.Millisecond)
	s.ChildUp(testChild("pe2", pe2, 0x101, 0x201, time.Now()))
	time.Sleep(late) // the FIB has not installed the new child yet
	if out, _ := seals(); out != 0x200 {
		t.Fatalf("sealing with 0x%x %v after the rekey, before the FIB installed it; want the old 0x200", out, late)
	}
	f.ackAll()
	installed := time.Now()
	time.Sleep(delay + 100*time.Millisecond)
	if out, _ := seals(); out != 0x201 {
		t.Fatalf("sealing with 0x%x %v after the install; want the new 0x201", out, time.Since(installed))
	}

	s.ChildDown(old)
	time.Sleep(late)
	if _, open := seals(); len(open) != 2 {
		t.Fatalf("retired 0x100 no longer opens %v after its delete, before the FIB installed it: open %x", late, open)
	}
	f.ackAll()
	time.Sleep(grace + 200*time.Millisecond)
	f.ackAll()
	if _, open := seals(); len(open) != 1 || open[0] != 0x101 {
		t.Fatalf("after RetireGrace from the install: open %x, want only 0x101", open)
	}
}

// TestWaitInstalled: WaitInstalled, which the IKE runner awaits before
// its response leaves, returns once the FIB has installed the child, and
// not before: while the FIB has not, it runs into its context's end.
func TestWaitInstalled(t *testing.T) {
	pe2 := netip.MustParseAddr("192.0.2.2")
	f := &lateFIB{}
	s := start(t, Options{FIB: f, ReplayWindow: 64, Remotes: map[string]netip.Addr{"pe2": pe2}})
	c := testChild("pe2", pe2, 0x100, 0x200, time.Now())
	s.ChildUp(c)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.WaitInstalled(ctx, c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitInstalled before the FIB installed the child: %v, want the deadline", err)
	}
	go func() { time.Sleep(50 * time.Millisecond); f.ackAll() }()
	began := time.Now()
	if err := s.WaitInstalled(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 40*time.Millisecond {
		t.Errorf("WaitInstalled returned %v after the wait began, before the FIB installed the child (50 ms)", d)
	}
	if err := s.WaitInstalled(context.Background(), testChild("pe2", pe2, 0x999, 0x200, time.Now())); err == nil {
		t.Error("WaitInstalled of a child the Service was never given: nil")
	}

	// Run busy (here: held by the test): WaitInstalled still returns at
	// its deadline, so the IKE runner's wait stays bounded.
	release := make(chan struct{})
	go s.do(func(*state) { <-release })
	time.Sleep(20 * time.Millisecond)
	busy, cancelBusy := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelBusy()
	began = time.Now()
	if err := s.WaitInstalled(busy, c); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitInstalled with Run busy: %v, want the deadline", err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("WaitInstalled with Run busy returned after %v, past its 50 ms deadline", d)
	}
	close(release)

	// A FIB that does not say when it installed: at once.
	s = start(t, Options{FIB: &fibRecorder{}, ReplayWindow: 64, Remotes: map[string]netip.Addr{"pe2": pe2}})
	s.ChildUp(c)
	if err := s.WaitInstalled(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}
