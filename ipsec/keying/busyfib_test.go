package keying

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
)

// slowRoutes is a fib backend whose Apply of route changes takes
// routeDelay (a pe with 10,000 flapped routes), while it can install a
// State's tunnels alone at once (ApplyTunnels, fib.TunnelApplier). It
// records when each inbound SPI was first seen installed and when it was
// last seen gone, whichever way it came. An Apply installs its tunnels at
// its start, as the userspace backend does before its routes.
type slowRoutes struct {
	routeDelay time.Duration
	mu         sync.Mutex
	routes     map[string]int // routes per VRF of the last State applied
	opened     map[uint32]time.Time
	closed     map[uint32]time.Time
	version    uint64 // TunnelsVersion of the tunnels installed
}

func (b *slowRoutes) install(s *fib.State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.TunnelsVersion < b.version {
		return // newer tunnels came through ApplyTunnels
	}
	b.version = s.TunnelsVersion
	now := time.Now()
	open := map[uint32]bool{}
	for _, t := range s.Tunnels {
		for _, p := range append([]*fib.SAParams{t.In}, t.RetiringIn...) {
			if p != nil {
				open[p.SPI] = true
			}
		}
	}
	for spi := range open {
		if _, ok := b.opened[spi]; !ok {
			b.opened[spi] = now
		}
	}
	for spi := range b.opened {
		if !open[spi] {
			if _, ok := b.closed[spi]; !ok {
				b.closed[spi] = now
			}
		}
	}
}

func (b *slowRoutes) Apply(ctx context.Context, s *fib.State) error {
	b.install(s)
	b.mu.Lock()
	changed := false
	for name, v := range s.VRFs {
		if b.routes[name] != len(v.Routes) {
			changed = true
		}
		b.routes[name] = len(v.Routes)
	}
	b.mu.Unlock()
	if changed {
		select {
		case <-time.After(b.routeDelay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *slowRoutes) ApplyTunnels(_ context.Context, s *fib.State) error {
	b.install(s)
	return nil
}

func (b *slowRoutes) Close() error { return nil }

func (b *slowRoutes) times(spi uint32) (opened, closed time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opened[spi], b.closed[spi]
}

// TestRekeyWhileRoutesApply rekeys a child while the FIB is busy with a
// 2-s route apply: the new inbound SA must be open within 100 ms all the
// same (the peer seals with it OutSwitchDelay after its own install,
// which it cannot know ours lags), and the rekeyed-away inbound SA must
// go on opening until RetireGrace after its delete, then close.
func TestRekeyWhileRoutesApply(t *testing.T) {
	const (
		routeDelay = 2 * time.Second
		bound      = 100 * time.Millisecond
		grace      = 300 * time.Millisecond
	)
	pe2 := netip.MustParseAddr("192.0.2.2")
	be := &slowRoutes{routeDelay: routeDelay, routes: map[string]int{}, opened: map[uint32]time.Time{}, closed: map[uint32]time.Time{}}
	rec := fib.NewReconciler(be, fib.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { _ = rec.Run(ctx); close(runDone) }()
	t.Cleanup(func() { cancel(); <-runDone })

	s := start(t, Options{FIB: rec, ReplayWindow: 64, RetireGrace: grace, OutSwitchDelay: 50 * time.Millisecond,
		Remotes: map[string]netip.Addr{"pe2": pe2}})
	s.SetStatic(fib.Config{VRFs: []fib.VRFConfig{{Name: "red"}}})
	now := time.Now()
	s.ChildUp(testChild("pe2", pe2, 0x100, 0x200, now))
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A route flap: its Apply takes routeDelay.
	rec.UpdateRoute(fib.RouteUpdate{VRF: "red", Prefix: netip.MustParsePrefix("10.9.0.0/24"), Remote: pe2})
	time.Sleep(50 * time.Millisecond) // the route Apply is under way

	rekeyed := time.Now()
	s.ChildUp(testChild("pe2", pe2, 0x101, 0x201, rekeyed))
	deadline := rekeyed.Add(routeDelay + time.Second)
	for {
		if opened, _ := be.times(0x101); !opened.IsZero() {
			if d := opened.Sub(rekeyed); d > bound {
				t.Fatalf("new inbound SA 0x101 installed %v after the rekey behind a route apply; want within %v", d, bound)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new inbound SA 0x101 never installed")
		}
		time.Sleep(5 * time.Millisecond)
	}

	deleted := time.Now()
	s.ChildDown(testChild("pe2", pe2, 0x100, 0x200, now))
	time.Sleep(grace + 200*time.Millisecond)
	_, closedAt := be.times(0x100)
	switch {
	case closedAt.IsZero():
		t.Fatalf("retired inbound SA 0x100 still open %v after its delete; RetireGrace is %v", time.Since(deleted), grace)
	case closedAt.Sub(deleted) < grace:
		t.Fatalf("retired inbound SA 0x100 closed %v after its delete; want it open for RetireGrace %v", closedAt.Sub(deleted), grace)
	case closedAt.Sub(deleted) > grace+bound:
		t.Fatalf("retired inbound SA 0x100 closed %v after its delete; want within %v of RetireGrace %v", closedAt.Sub(deleted), bound, grace)
	}
}
