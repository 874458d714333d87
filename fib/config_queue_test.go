package fib_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
)

// blockingRoutes is a TunnelApplier whose route Apply blocks until
// released, the way a large route flap's Apply holds Run on a loaded
// host, while its tunnel lane installs at once.
type blockingRoutes struct {
	release chan struct{}
	started chan struct{}
	once    sync.Once
	mu      sync.Mutex
	tunnels map[uint64]time.Time // State.TunnelsVersion -> when installed
}

func (b *blockingRoutes) Apply(ctx context.Context, s *fib.State) error {
	if len(s.VRFs["red"].Routes) > 0 {
		b.once.Do(func() { close(b.started) })
		select {
		case <-b.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *blockingRoutes) ApplyTunnels(_ context.Context, s *fib.State) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tunnels[s.TunnelsVersion] = time.Now()
	return nil
}

func (b *blockingRoutes) Close() error { return nil }

// TestSetConfigNeverWaitsBehindRoutes: while an Apply runs and more route
// updates than the queue holds wait behind it, SetConfig returns at once
// and its tunnels reach the tunnel lane. Before, SetConfig waited for
// room in the queue: the keying service, pushing a rekey's new inbound
// SA, sat behind a route flap's Apply for seconds while the peer already
// sealed with the new SA (make soak lost 1201 echoes that way).
func TestSetConfigNeverWaitsBehindRoutes(t *testing.T) {
	be := &blockingRoutes{release: make(chan struct{}), started: make(chan struct{}), tunnels: map[uint64]time.Time{}}
	rec := fib.NewReconciler(be, fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = rec.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	pe2 := netip.MustParseAddr("192.0.2.2")
	cfg := fib.Config{LocalAddress: netip.MustParseAddr("192.0.2.1"), VRFs: []fib.VRFConfig{{Name: "red"}}}
	rec.SetConfig(cfg)
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: netip.MustParsePrefix("10.9.0.0/24"), Remote: pe2, Labels: labels(100)})
	<-be.started // the Apply with the route is under way, and blocks
	// A flap: more updates than the queue holds, so a sender blocks.
	flapped := make(chan struct{})
	go func() {
		for i := range 3000 {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)}), 32)
			rec.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: p, Remote: pe2, Labels: labels(100)})
		}
		close(flapped)
	}()
	time.Sleep(200 * time.Millisecond) // the queue is full

	returned := make(chan time.Time, 1)
	start := time.Now()
	go func() {
		rec.SetConfigThen(cfg, nil)
		returned <- time.Now()
	}()
	select {
	case at := <-returned:
		if d := at.Sub(start); d > time.Second {
			t.Errorf("SetConfig returned after %v behind the route Apply", d)
		}
	case <-time.After(3 * time.Second):
		close(be.release)
		<-flapped
		t.Fatal("SetConfig still blocked after 3 s behind a route Apply and a full queue")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		be.mu.Lock()
		_, ok := be.tunnels[2]
		be.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second config's tunnels never reached the tunnel lane while routes applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(be.release)
	<-flapped
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.State().VRFs["red"].Routes); n < 3001 {
		t.Errorf("red has %d routes after the flap, want at least 3001", n)
	}
}
