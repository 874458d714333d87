package ike

import (
	"context"
	"sync"
	"testing"
	"time"
)

// installClock records, per inbound SPI, when the responder's dataplane
// had the child installed and when the initiator saw the child up (it
// has our response then, and seals with the new SA from then on).
type installClock struct {
	mu        sync.Mutex
	installed map[uint32]time.Time // by the responder's InSPI
	upAtPeer  map[uint32]time.Time // by the initiator's OutSPI, the same SA
}

func newInstallClock() *installClock {
	return &installClock{installed: map[uint32]time.Time{}, upAtPeer: map[uint32]time.Time{}}
}

func (c *installClock) mark(m map[uint32]time.Time, spi uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m[spi] = time.Now()
}

// check fails unless, for every child the initiator saw up, the
// responder had installed the SA the initiator seals with before.
func (c *installClock) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.upAtPeer) < 2 {
		t.Fatalf("initiator saw %d children up, want the first and its rekey", len(c.upAtPeer))
	}
	for spi, up := range c.upAtPeer {
		in, ok := c.installed[spi]
		switch {
		case !ok:
			t.Errorf("SA 0x%08x: the initiator had our response, our dataplane never installed it", spi)
		case up.Before(in):
			t.Errorf("SA 0x%08x: the initiator had our response %v before our dataplane installed its inbound SA", spi, in.Sub(up))
		}
	}
}

// runRekey brings up a child from ra to rb, rekeys it from ra and waits
// until ra has the new child.
func runRekey(t *testing.T, ra, rb *Runner, clock *installClock) {
	t.Helper()
	ups := make(chan ChildSA, 4)
	ra.OnChildSA(func(c ChildSA) { clock.mark(clock.upAtPeer, c.OutSPI); ups <- c })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- ra.Run(ctx) }()
	go func() { errs <- rb.Run(ctx) }()
	defer func() { cancel(); <-errs; <-errs }()
	first := <-ups
	if err := ra.Do(ctx, func(e *Engine) {
		if err := e.Rekey(first.InSPI); err != nil {
			t.Error(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-ups:
		if c.Replaces != first.InSPI {
			t.Fatalf("second child replaces 0x%08x, want the first 0x%08x", c.Replaces, first.InSPI)
		}
	case <-ctx.Done():
		t.Fatal("no rekeyed child at the initiator")
	}
}

// TestResponderAnswersAfterItsInstall: the responder's child SA install
// (OnChildSA, here a dataplane that takes 200 ms) finishes before its
// IKE_AUTH or CREATE_CHILD_SA response leaves, so the initiator, which
// seals with the new SA as soon as it has the response, never seals
// with an SA the responder cannot open yet.
func TestResponderAnswersAfterItsInstall(t *testing.T) {
	ra, rb := loopbackRunners(t)
	clock := newInstallClock()
	rb.OnChildSA(func(c ChildSA) {
		time.Sleep(200 * time.Millisecond)
		clock.mark(clock.installed, c.InSPI)
	})
	runRekey(t, ra, rb, clock)
	clock.check(t)
}

// TestResponderAwaitsAsyncInstall: with AwaitInstalled the response
// waits for a dataplane that installs on a goroutine of its own (200 ms
// later here), not just for OnChildSA to return.
func TestResponderAwaitsAsyncInstall(t *testing.T) {
	ra, rb := loopbackRunners(t)
	clock := newInstallClock()
	var mu sync.Mutex
	done := map[uint32]chan struct{}{}
	ready := func(spi uint32) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if done[spi] == nil {
			done[spi] = make(chan struct{})
		}
		return done[spi]
	}
	rb.OnChildSA(func(c ChildSA) {
		time.AfterFunc(200*time.Millisecond, func() {
			clock.mark(clock.installed, c.InSPI)
			close(ready(c.InSPI))
		})
	})
	rb.AwaitInstalled(func(ctx context.Context, c ChildSA) error {
		select {
		case <-ready(c.InSPI):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, 2*time.Second)
	runRekey(t, ra, rb, clock)
	clock.check(t)
}

// TestResponderWithholdsUninstalled: a child the dataplane does not
// confirm within the timeout has its response withheld, as if lost; the
// initiator's retransmission (1 s later) gets it.
func TestResponderWithholdsUninstalled(t *testing.T) {
	ra, rb := loopbackRunners(t)
	clock := newInstallClock()
	rb.OnChildSA(func(c ChildSA) { clock.mark(clock.installed, c.InSPI) })
	var mu sync.Mutex
	refused := 0
	rb.AwaitInstalled(func(ctx context.Context, c ChildSA) error {
		if c.Replaces == 0 {
			return nil // the first child is installed at once
		}
		mu.Lock()
		refused++
		mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}, 100*time.Millisecond)
	start := time.Now()
	runRekey(t, ra, rb, clock)
	clock.check(t)
	mu.Lock()
	defer mu.Unlock()
	if refused != 1 {
		t.Errorf("install awaited %d times for the rekeyed child, want once", refused)
	}
	if d := time.Since(start); d < ra.e.cfg.Retransmit {
		t.Errorf("rekey done in %v: the withheld response was sent before the initiator's retransmission (%v)", d, ra.e.cfg.Retransmit)
	}
}
