package fib

import (
	"context"
	"net/netip"
	"sync"
)

// TunnelApplier is an optional Backend ability, found by type assertion:
// installing a State's tunnels and attachments (their SAs) alone, without
// its VRFs, routes or labels, while an Apply may be running on the
// reconciler's goroutine.
//
// It exists for rekeys. A child SA's new inbound SA must be open before
// the peer seals with it, and the peer starts sealing on its own timer
// (keying's OutSwitchDelay), which cannot know that this PE's FIB is busy
// applying thousands of flapped routes. So SA changes do not queue behind
// route work: the Reconciler hands each SetConfig's tunnels to ApplyTunnels
// on a goroutine of their own (the tunnel lane) at once, and the next
// Apply brings them again with everything else.
//
// The contract, beyond Backend's:
//
//   - s carries Tunnels, Attachments, LocalAddress, UnprotectedPeers,
//     TransportLabels and TunnelsVersion; its VRFs and Labels are nil.
//     The backend installs the tunnels and attachments and leaves
//     everything else as it is.
//   - ApplyTunnels may run concurrently with Apply. Tunnels of a higher
//     TunnelsVersion win: once a version is installed, an Apply or
//     ApplyTunnels carrying a lower one leaves the tunnels and
//     attachments as they are (and the State's other parts are applied
//     as usual). Equal versions are applied again, idempotently, so the
//     last Apply of the newest State converges.
//   - Fail closed holds on this lane too: a tunnel or SA the State drops
//     stops sealing and opening at once.
type TunnelApplier interface {
	ApplyTunnels(ctx context.Context, s *State) error
}

// tunnelLane hands the newest configuration's tunnels to a
// TunnelApplier. Only the newest pending State is kept: an older one a
// newer one overtook need not be installed at all.
type tunnelLane struct {
	mu   sync.Mutex
	next *State
	wake chan struct{} // one slot: next was set
}

func newTunnelLane() *tunnelLane { return &tunnelLane{wake: make(chan struct{}, 1)} }

// offer makes s the next State to install, replacing any still pending.
func (l *tunnelLane) offer(s *State) {
	l.mu.Lock()
	l.next = s
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *tunnelLane) take() *State {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.next
	l.next = nil
	return s
}

// runTunnelLane installs what offer hands it until ctx ends. An error is
// logged only: the next Apply, which carries the same tunnels, retries.
func (r *Reconciler) runTunnelLane(ctx context.Context, ta TunnelApplier) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.lane.wake:
		}
		s := r.lane.take()
		if s == nil {
			continue
		}
		switch err := ta.ApplyTunnels(ctx, s); {
		case err == nil:
			r.acks.installed(s.TunnelsVersion)
		case ctx.Err() == nil:
			r.log.Warn("fib: tunnel apply failed; the next apply retries", "error", err)
		}
	}
}

// tunnelState is the State a TunnelApplier is given for configuration c
// of version v: c's tunnels, and its attachments whose VRF c configures.
func tunnelState(c Config, v uint64) *State {
	s := &State{
		LocalAddress:     c.LocalAddress,
		UnprotectedPeers: c.UnprotectedPeers,
		MPLSInterfaces:   c.MPLSInterfaces,
		TransportLabels:  c.TransportLabels,
		TunnelsVersion:   v,
	}
	vrfs := make(map[string]bool, len(c.VRFs))
	for _, vc := range c.VRFs {
		vrfs[vc.Name] = true
	}
	s.Tunnels, s.Attachments = tunnelsOf(c, func(name string) bool { return vrfs[name] })
	return s
}

// tunnelsOf is c's tunnels by remote and its attachments by name, but for
// those whose VRF is not configured.
func tunnelsOf(c Config, configured func(vrf string) bool) (map[netip.Addr]*Tunnel, map[string]*Attachment) {
	tunnels := make(map[netip.Addr]*Tunnel, len(c.Tunnels))
	for _, t := range c.Tunnels {
		tunnels[t.Remote] = &t
	}
	atts := make(map[string]*Attachment, len(c.Attachments))
	for _, a := range c.Attachments {
		if configured(a.VRF) {
			atts[a.Name] = &a
		}
	}
	return tunnels, atts
}

// installAcks are SetConfigThen's callbacks waiting for their config's
// tunnels to be installed.
type installAcks struct {
	mu      sync.Mutex
	pending []installAck
}

type installAck struct {
	version uint64
	applied func()
}

func (a *installAcks) add(v uint64, f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, installAck{v, f})
}

// installed runs the callbacks of every version up to v: the backend
// installed v's tunnels, which are those configs' or newer.
func (a *installAcks) installed(v uint64) {
	a.mu.Lock()
	var run []func()
	kept := a.pending[:0]
	for _, x := range a.pending {
		if x.version <= v {
			run = append(run, x.applied)
		} else {
			kept = append(kept, x)
		}
	}
	clear(a.pending[len(kept):])
	a.pending = kept
	a.mu.Unlock()
	for _, f := range run {
		f()
	}
}

// SetConfigThen is SetConfig, and then applied runs once the backend has
// installed c's tunnels and attachments, or a newer config's: on the
// tunnel lane or by an Apply, whichever succeeds first. It runs on a
// goroutine of the reconciler's and must not block. It never runs if
// they are never installed (every Apply fails, or the reconciler closes
// first).
//
// The keying service measures its make-before-break timers from it
// (keying Options.OutSwitchDelay, RetireGrace): from when this PE's
// dataplane has a rekey's new SA, not from when it was negotiated.
func (r *Reconciler) SetConfigThen(c Config, applied func()) {
	r.setConfig(c, applied)
}
