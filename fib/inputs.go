package fib

import (
	"cmp"
	"context"
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/mpls"
)

// The input methods check and copy their argument on the caller's
// goroutine (so the caller may reuse its slices at once) and queue the
// change for Run. They block only while the queue is full and Run is
// running; once the reconciler is closed, or Run has returned, they drop
// the input and return at once. Invalid input is logged and dropped: the
// caller has nothing better to do with it.

// SetConfig replaces the configuration: VRFs (names are unique, as
// config validation ensures), tunnels and the local address. A VRF that
// disappears takes its routes, rules and labels out of the State; BGP
// routes and labels for it stay held aside (see desired) until bgp
// withdraws them or the VRF comes back. Tunnel keys are copied.
//
// With a TunnelApplier backend the tunnels and attachments are also
// installed at once, on the tunnel lane (tunnel_lane.go), without
// waiting for route work queued or under way.
func (r *Reconciler) SetConfig(c Config) { r.setConfig(c, nil) }

func (r *Reconciler) setConfig(c Config, applied func()) {
	c = r.cloneConfig(c)
	// One version per config, in the order both lanes get them.
	select {
	case <-r.quit:
		return
	case <-r.exited:
		return
	default:
	}
	r.cfgMu.Lock()
	r.cfgVersion++
	v := r.cfgVersion
	if applied != nil {
		r.acks.add(v, applied)
	}
	if _, ok := r.backend.(TunnelApplier); ok {
		r.lane.offer(tunnelState(c, v))
	}
	r.cfgQueue = append(r.cfgQueue, func() {
		for _, vc := range c.VRFs {
			delete(r.held, vc.Name)
		}
		r.d.setConfig(c, v)
	})
	r.cfgMu.Unlock()
	select {
	case r.cfgReady <- struct{}{}:
	default: // Run has been told already
	}
}

// takeConfigs runs, on Run's goroutine, the configs given so far, in
// the order given. Run takes them before any input from in and before
// each Apply, so a config is part of the State before anything given
// after it (a Flush waits for it). A config may overtake route updates
// queued before it; a route for a VRF not configured yet is held aside
// until it is (desired.updateRoute), and one for a VRF just removed is
// held until bgp withdraws it, so the State converges the same way.
func (r *Reconciler) takeConfigs() {
	r.cfgMu.Lock()
	fs := r.cfgQueue
	r.cfgQueue = nil
	r.cfgMu.Unlock()
	for _, f := range fs {
		f()
	}
}

func (r *Reconciler) cloneConfig(c Config) Config {
	out := Config{LocalAddress: c.LocalAddress.Unmap(), MPLSInterfaces: slices.Clone(c.MPLSInterfaces),
		LocalTransportLabels: slices.Clone(c.LocalTransportLabels)}
	for pe, l := range c.TransportLabels {
		if out.TransportLabels == nil {
			out.TransportLabels = map[netip.Addr]mpls.Label{}
		}
		out.TransportLabels[pe.Unmap()] = l
	}
	for _, p := range c.UnprotectedPeers {
		if p.IsValid() {
			out.UnprotectedPeers = append(out.UnprotectedPeers, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked())
		}
	}
	for _, vc := range c.VRFs {
		out.VRFs = append(out.VRFs, VRFConfig{
			Name:         vc.Name,
			Interfaces:   slices.Clone(vc.Interfaces),
			StaticRoutes: slices.Clone(vc.StaticRoutes),
		})
	}
	for _, t := range c.Tunnels {
		if !t.Remote.IsValid() {
			r.log.Warn("fib: tunnel with no remote address ignored")
			continue
		}
		t.Remote = t.Remote.Unmap()
		t.Out, t.In = cloneSA(t.Out), cloneSA(t.In)
		retiring := make([]*SAParams, 0, len(t.RetiringIn))
		for _, p := range t.RetiringIn {
			retiring = append(retiring, cloneSA(p))
		}
		t.RetiringIn = retiring
		resources := make([]SAPair, 0, len(t.Resources))
		for _, r := range t.Resources {
			resources = append(resources, SAPair{Out: cloneSA(r.Out), In: cloneSA(r.In)})
		}
		t.Resources = resources
		out.Tunnels = append(out.Tunnels, t)
	}
	for _, a := range c.Attachments {
		out.Attachments = append(out.Attachments, cloneAttachment(a))
	}
	return out
}

func cloneSA(p *SAParams) *SAParams {
	if p == nil {
		return nil
	}
	c := *p
	c.Key = slices.Clone(p.Key)
	return &c
}

// UpdateRoute installs, replaces or withdraws a BGP-imported route.
func (r *Reconciler) UpdateRoute(u RouteUpdate) {
	if u.VRF == "" || !u.Prefix.IsValid() || (!u.Withdraw && !u.Remote.IsValid()) {
		r.log.Warn("fib: invalid route update ignored", "vrf", u.VRF, "prefix", u.Prefix, "remote", u.Remote)
		return
	}
	u.Prefix = u.Prefix.Masked()
	if u.Withdraw {
		u.Remote, u.Labels = netip.Addr{}, nil
	} else {
		u.Remote = u.Remote.Unmap()
		u.Labels = slices.Clone(u.Labels)
	}
	r.send(func() {
		if !r.d.updateRoute(u) && !u.Withdraw {
			r.heldAside(u.VRF)
		}
	})
}

// UpdateCERoute installs, replaces or withdraws a route a CE announced.
func (r *Reconciler) UpdateCERoute(u CERoute) {
	if u.VRF == "" || !u.Prefix.IsValid() || (!u.Withdraw && !u.NextHop.IsValid()) {
		r.log.Warn("fib: invalid CE route ignored", "vrf", u.VRF, "prefix", u.Prefix, "next-hop", u.NextHop)
		return
	}
	u.Prefix = u.Prefix.Masked()
	if u.Withdraw {
		u.NextHop = netip.Addr{}
	} else {
		u.NextHop = u.NextHop.Unmap()
	}
	r.send(func() {
		if !r.d.updateCERoute(u) && !u.Withdraw {
			r.heldAside(u.VRF)
		}
	})
}

// UpdateLabel binds or releases a local label.
func (r *Reconciler) UpdateLabel(u LabelUpdate) {
	if !u.Label.IsValid() || u.Label.IsReserved() || (!u.Release && u.VRF == "") {
		r.log.Warn("fib: invalid label update ignored", "label", u.Label, "vrf", u.VRF)
		return
	}
	if u.Prefix.IsValid() {
		u.Prefix = u.Prefix.Masked()
	}
	r.send(func() {
		if !r.d.updateLabel(u) {
			r.heldAside(u.VRF)
		}
	})
}

// SetConnected replaces VRF vrf's connected prefixes, as the interface
// watcher reports them. Prefixes are masked, sorted and deduplicated here,
// so the watcher may report them in any order.
func (r *Reconciler) SetConnected(vrf string, conns []Connected) {
	out := make([]Connected, 0, len(conns))
	for _, c := range conns {
		if !c.Prefix.IsValid() {
			continue
		}
		c.Prefix = c.Prefix.Masked()
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Connected) int {
		if c := comparePrefix(a.Prefix, b.Prefix); c != 0 {
			return c
		}
		return cmp.Compare(a.Interface, b.Interface)
	})
	out = slices.Compact(out)
	r.send(func() { r.d.setConnected(vrf, out) })
}

// Reapply has the backend apply the current State again, unchanged: the
// kernel dropped routes of it (Linux deletes every route through an
// interface set down; WatchLinksUp reports it back up). Backends apply
// idempotently, so whatever is still there stays as it is.
func (r *Reconciler) Reapply() {
	r.send(func() { r.d.reapply = true })
}

// heldAside logs, once per VRF until it is configured, that inputs for
// an unconfigured VRF are waiting: a typo in a VRF name shows up here.
func (r *Reconciler) heldAside(vrf string) {
	if r.held[vrf] {
		return
	}
	r.held[vrf] = true
	r.log.Info("fib: routes or labels for an unconfigured VRF held until it is configured", "vrf", vrf)
}

// comparePrefix orders prefixes by address (IPv4 first), then length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// Flush waits until every input given before it is part of State and the
// backend has been asked to apply it, and returns that Apply's error (nil
// if nothing needed applying and the last Apply succeeded). It applies at
// once, without waiting for Interval. The daemon uses it to apply the
// first config before it reports ready; tests use it to wait for the
// reconciler.
func (r *Reconciler) Flush(ctx context.Context) error {
	ch := make(chan error, 1)
	if !r.send(func() { r.waiters = append(r.waiters, ch) }) {
		return ErrClosed
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-r.exited:
		select {
		case err := <-ch: // answered just before Run returned
			return err
		default:
			return ErrClosed
		}
	}
}

// send queues f for Run's goroutine. It blocks while the queue is full,
// and gives up (false) once the reconciler is closed or Run has returned.
func (r *Reconciler) send(f func()) bool {
	select {
	case <-r.quit:
		return false
	case <-r.exited:
		return false
	default:
	}
	select {
	case r.in <- f:
		return true
	case <-r.quit:
		return false
	case <-r.exited:
		return false
	}
}
