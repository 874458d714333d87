package fib_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
)

// blockingApply is a TunnelApplier whose Apply blocks until released,
// as a route apply of 10,000 routes does; it reports each ApplyTunnels.
type blockingApply struct {
	started chan *fib.State // each Apply, as it starts
	release chan struct{}
	tunnels chan *fib.State // each ApplyTunnels
}

func (b *blockingApply) Apply(ctx context.Context, s *fib.State) error {
	b.started <- s
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (b *blockingApply) ApplyTunnels(_ context.Context, s *fib.State) error {
	b.tunnels <- s
	return nil
}

func (b *blockingApply) Close() error { return nil }

// TestTunnelLaneOvertakesApply: a SetConfig with new tunnel SAs reaches a
// TunnelApplier while an Apply is stuck in route work, with a higher
// TunnelsVersion than that Apply's State and without its VRFs; the next
// Apply brings the same version with everything else. Close does not
// wait for the stuck Apply's route work to end.
func TestTunnelLaneOvertakesApply(t *testing.T) {
	b := &blockingApply{started: make(chan *fib.State, 16), release: make(chan struct{}), tunnels: make(chan *fib.State, 16)}
	r := fib.NewReconciler(b, fib.Options{Logger: quietLogger()})
	done := make(chan struct{})
	go func() { _ = r.Run(context.Background()); close(done) }()
	pe2 := netip.MustParseAddr("192.0.2.2")
	cfg := func(in uint32) fib.Config {
		return fib.Config{VRFs: []fib.VRFConfig{{Name: "red"}},
			Tunnels: []fib.Tunnel{{Remote: pe2, Out: sa(0x1000), In: sa(in)}}}
	}
	r.SetConfig(cfg(0x2001))
	first := <-b.started // stuck
	lane1 := <-b.tunnels
	if lane1.TunnelsVersion != first.TunnelsVersion || lane1.TunnelsVersion == 0 {
		t.Fatalf("versions: lane %d, apply %d", lane1.TunnelsVersion, first.TunnelsVersion)
	}

	rekey := time.Now()
	r.SetConfig(cfg(0x2002))
	select {
	case s := <-b.tunnels:
		if took := time.Since(rekey); took > 100*time.Millisecond {
			t.Errorf("the lane took %v", took)
		}
		if s.TunnelsVersion <= first.TunnelsVersion {
			t.Errorf("lane version %d not above the stuck Apply's %d", s.TunnelsVersion, first.TunnelsVersion)
		}
		if s.VRFs != nil || s.Tunnels[pe2] == nil || s.Tunnels[pe2].In.SPI != 0x2002 {
			t.Errorf("lane State: VRFs %v, tunnels %+v", s.VRFs, s.Tunnels)
		}
		close(b.release)
		next := <-b.started
		if next.TunnelsVersion != s.TunnelsVersion || next.Tunnels[pe2].In.SPI != 0x2002 {
			t.Errorf("next Apply: version %d (lane %d), tunnels %+v", next.TunnelsVersion, s.TunnelsVersion, next.Tunnels)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("the new SAs waited behind the stuck Apply")
		close(b.release)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
}
