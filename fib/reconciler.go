package fib

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Reconciler owns the desired forwarding state. One goroutine (Run) holds
// it; config, bgp and the interface watcher hand it changes through the
// input methods (SetConfig, UpdateRoute, UpdateCERoute, UpdateLabel,
// SetConnected), which queue closures for that goroutine, as GoBGP's
// server does. Each change leads to a new State (copy-on-write; a State given to the
// backend is never touched again) and a Backend.Apply.
//
// Coalescing: a full BGP table arrives as a burst of 100k updates, and
// applying after each would copy a table 100k times. So Run applies only
// when it has drained its queue (or taken a batch of queueLen inputs
// from a queue that refills as fast as it drains), and never sooner than
// Interval, or the time the last build and Apply took if that was longer
// (up to MaxGap), after the previous Apply ended. A lone change is
// applied at once; a burst is applied every few ms while it lasts, then
// once more at its end; and at most about half of Run's time goes to
// building and applying while they take less than MaxGap. Longer ones
// are one-off work (a reload that adds thousands of VRFs, which makes
// their devices) more than a table to copy again, and waiting as long
// again would only hold every change behind them back. The first Apply
// is all such work (it makes everything the backend holds), so the
// changes that came during it follow after Interval alone: at 2,000 VRFs
// a MaxGap there was a tenth of the bring-up.
//
// Tunnel SAs do not wait for any of that: with a TunnelApplier backend
// each SetConfig's tunnels are installed at once on a goroutine of their
// own (tunnel_lane.go), even while an Apply of route work runs, since a
// peer switches to a rekey's new SA on a timer of its own.
//
// An Apply error is logged and retried with the next change, or, if none
// comes, after a backoff that doubles from MinBackoff to MaxBackoff.
// Because backends are declarative, a retry is just another Apply.
type Reconciler struct {
	backend Backend
	log     *slog.Logger
	opts    Options

	in      chan func()
	quit    chan struct{}
	exited  chan struct{}
	closing sync.Once
	running atomic.Bool
	state   atomic.Pointer[State]

	// cfgMu orders SetConfig calls: cfgVersion numbers them, and each
	// reaches the tunnel lane and cfgQueue in that order.
	cfgMu      sync.Mutex
	cfgVersion uint64
	// cfgQueue holds the configs Run has not taken yet (guarded by
	// cfgMu), and cfgReady tells Run there are some. Configs do not go
	// through in: a caller of SetConfig (the keying service, with a
	// rekey's tunnels) must never wait behind a full queue of route
	// updates while an Apply runs (takeConfigs says how order is kept).
	cfgQueue []func()
	cfgReady chan struct{}
	lane     *tunnelLane
	acks     installAcks

	// Owned by Run's goroutine.
	d       *desired
	waiters []chan error
	held    map[string]bool // unconfigured VRFs already logged as held aside
}

// Options tune a Reconciler; the zero value is the defaults.
type Options struct {
	// Logger receives Apply errors and held-aside notices. Default: discard.
	Logger *slog.Logger
	// FirstTable is the first routing table number given to a VRF; VRFs
	// get FirstTable, FirstTable+1, ... in the order they first appear in
	// the config, and keep their number for the life of the process.
	// Default 1000, clear of the kernel's 253-255 and of small numbers
	// operators pick by hand.
	FirstTable uint32
	// Interval is the shortest time between two Applies. Default 5ms.
	Interval time.Duration
	// MaxGap bounds the wait after a long build and Apply before the
	// next. Default 1s.
	MaxGap time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after an Apply
	// error when no new change comes. Defaults 100ms and 30s.
	MinBackoff, MaxBackoff time.Duration
}

// queueLen is the input queue's capacity and the largest batch of inputs
// taken between two chances to Apply. Input methods block while it is
// full: that is backpressure on bgp, not a leak.
const queueLen = 1024

// NewReconciler returns a Reconciler feeding b. Nothing is applied until
// Run is running and the first input arrives.
func NewReconciler(b Backend, opts Options) *Reconciler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FirstTable == 0 {
		opts.FirstTable = 1000
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Millisecond
	}
	if opts.MaxGap <= 0 {
		opts.MaxGap = time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	r := &Reconciler{
		backend:  b,
		log:      opts.Logger,
		opts:     opts,
		in:       make(chan func(), queueLen),
		cfgReady: make(chan struct{}, 1),
		quit:     make(chan struct{}),
		exited:   make(chan struct{}),
		d:        newDesired(opts.FirstTable),
		held:     map[string]bool{},
		lane:     newTunnelLane(),
	}
	r.state.Store(&State{VRFs: map[string]*VRF{}})
	return r
}

// State returns the latest desired State built (whether or not the
// backend has managed to apply it), for show commands and tests. It never
// blocks. The caller must not modify it.
func (r *Reconciler) State() *State { return r.state.Load() }

// Run owns the desired state until ctx ends (it returns ctx.Err()) or
// Close is called (nil). It may be called once; after Close it returns
// ErrClosed at once.
func (r *Reconciler) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("fib: Reconciler.Run called twice")
	}
	defer close(r.exited)
	select {
	case <-r.quit:
		return ErrClosed
	default:
	}
	// Close must not wait behind an Apply that waits for something:
	// the backend's context ends with Close too.
	applyCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.quit:
			cancel()
		case <-applyCtx.Done():
		}
	}()
	if ta, ok := r.backend.(TunnelApplier); ok {
		var lane sync.WaitGroup
		lane.Add(1)
		go func() { defer lane.Done(); r.runTunnelLane(applyCtx, ta) }()
		defer func() { cancel(); lane.Wait() }() // Run returns with no ApplyTunnels running
	}
	var (
		timer   = time.NewTimer(time.Hour)
		lastEnd time.Time     // when the last Apply ended
		gap     time.Duration // least time from lastEnd to the next Apply
		backoff time.Duration
		lastErr error
	)
	defer timer.Stop()
	for {
		r.takeConfigs()
		var wake <-chan time.Time
		if due, ok := r.due(lastEnd, gap, backoff, lastErr); ok {
			wait := time.Until(due)
			if wait <= 0 {
				start, first := time.Now(), lastEnd.IsZero()
				lastErr = r.apply(applyCtx, lastErr)
				lastEnd = time.Now()
				gap = max(r.opts.Interval, min(lastEnd.Sub(start), r.opts.MaxGap))
				if first {
					gap = r.opts.Interval
				}
				backoff = nextBackoff(backoff, lastErr, r.opts)
				continue
			}
			timer.Reset(wait)
			wake = timer.C
		}
		select {
		case <-r.quit:
			r.release(ErrClosed)
			return nil
		case <-ctx.Done():
			r.release(ctx.Err())
			return ctx.Err()
		case <-r.cfgReady:
			r.takeConfigs()
			r.drain()
		case f := <-r.in:
			r.takeConfigs()
			f()
			r.drain()
		case <-wake:
		}
	}
}

// due says when the next Apply should happen, if one is wanted: at once
// for a Flush, a gap after the last Apply for a change, a backoff after
// it to retry a failure.
func (r *Reconciler) due(lastEnd time.Time, gap, backoff time.Duration, lastErr error) (time.Time, bool) {
	switch {
	case len(r.waiters) > 0:
		return time.Time{}, true
	case r.d.changed():
		return lastEnd.Add(gap), true
	case lastErr != nil:
		return lastEnd.Add(backoff), true
	}
	return time.Time{}, false
}

func nextBackoff(b time.Duration, err error, o Options) time.Duration {
	if err == nil {
		return 0
	}
	return min(max(2*b, o.MinBackoff), o.MaxBackoff)
}

// drain runs the inputs already queued, up to one batch, so that a burst
// turns into one Apply.
func (r *Reconciler) drain() {
	for range queueLen {
		select {
		case f := <-r.in:
			r.takeConfigs()
			f()
		default:
			r.takeConfigs()
			return
		}
	}
}

// apply builds the next State if anything changed and hands it to the
// backend, then answers Flush callers with the outcome.
func (r *Reconciler) apply(ctx context.Context, lastErr error) error {
	s := r.state.Load()
	changed := r.d.changed()
	if changed {
		prev := s
		s = r.d.build(prev)
		r.state.Store(s)
		r.logUnresolved(prev, s)
	}
	err := lastErr
	if changed || lastErr != nil {
		start := time.Now()
		err = r.backend.Apply(ctx, s)
		if err == nil {
			r.acks.installed(s.TunnelsVersion)
		}
		switch {
		case err != nil:
			r.log.Warn("fib: apply failed; will retry", "error", err)
		case lastErr != nil:
			r.log.Info("fib: apply recovered")
		}
		if err == nil && r.log.Enabled(ctx, slog.LevelDebug) {
			r.log.Debug("fib: applied", "vrfs", len(s.VRFs), "routes", countRoutes(s),
				"labels", len(s.Labels), "tunnels", len(s.Tunnels), "took", time.Since(start))
		}
	}
	r.release(err)
	return err
}

// logUnresolved says once, when it happens, that a CE route is not
// installed because its next hop is on none of the VRF's connected
// prefixes (a CE configured off-link, or an address not up yet).
func (r *Reconciler) logUnresolved(prev, next *State) {
	for name, v := range next.VRFs {
		pv := prev.VRFs[name]
		if pv == v {
			continue
		}
		for p, nh := range v.Unresolved {
			if pv != nil && pv.Unresolved[p] == nh {
				continue
			}
			r.log.Warn("fib: CE route not installed: its next hop is on no connected prefix of the VRF",
				"vrf", name, "prefix", p, "next-hop", nh)
		}
	}
}

func (r *Reconciler) release(err error) {
	for _, w := range r.waiters {
		w <- err
	}
	r.waiters = r.waiters[:0]
}

func countRoutes(s *State) int {
	n := 0
	for _, v := range s.VRFs {
		n += len(v.Routes)
	}
	return n
}

// Close stops Run and waits for it to return. Inputs given afterwards are
// dropped. It does not close the backend: whoever made it does.
func (r *Reconciler) Close() error {
	r.closing.Do(func() { close(r.quit) })
	if r.running.Load() {
		<-r.exited
	}
	return nil
}
