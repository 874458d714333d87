package userspace

import (
	"fmt"
	"net/netip"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// Next hops and peers are interned: routes with the same remote PE and
// labels share one nextHop, and next hops to one PE share its peer. So
// that PEs which leave the State leave memory too (a PE's routes churn
// in and out over the months), both are counted: a nextHop counts the
// routes of the VRF tables that hold it, and is forgotten at 0; a peer
// counts its next hops, and is forgotten at 0 when the State has no
// tunnel to it and no Gateway pins it. Only update's goroutine touches
// the counts. A packet still on its way through a forgotten hop or peer
// (read from an older table snapshot) keeps it alive until it is done.

// key is the hop's key in dataplane.hops.
func (h *nextHop) key() hopKey {
	k := hopKey{remote: h.peer.remote, n: len(h.labels)}
	copy(k.labels[:], h.labels)
	return k
}

// hopKeyOf is the key of a remote route's next hop, or why the route
// cannot be forwarded. The answer depends on the route alone, so a route
// that was refused when it came is also refused when it goes.
func hopKeyOf(r fib.Route) (hopKey, error) {
	if len(r.Labels) == 0 || len(r.Labels) > maxLabels {
		return hopKey{}, fmt.Errorf("route %s: %d labels (want 1 to %d)", r.Prefix, len(r.Labels), maxLabels)
	}
	k := hopKey{remote: r.Remote.Unmap(), n: len(r.Labels)}
	for i, l := range r.Labels {
		if !l.IsValid() || l == mpls.ImplicitNull {
			return hopKey{}, fmt.Errorf("route %s: label %d cannot be pushed", r.Prefix, l)
		}
		k.labels[i] = l
	}
	return k, nil
}

// ref returns the next hop of a route that goes into a table, holding it
// for the route; a route that cannot be forwarded adds its error to errs
// and returns nil.
func (d *dataplane) ref(r fib.Route, errs *[]error) *nextHop {
	if r.Attachment != "" {
		return d.attachmentHop(r.Attachment) // held by the State's attachment, not counted
	}
	if !r.IsRemote() {
		return localHop
	}
	k, err := hopKeyOf(r)
	if err != nil {
		*errs = append(*errs, err)
		return nil
	}
	h := d.hops[k]
	if h == nil {
		p := d.peer(k.remote)
		p.hops++
		h = &nextHop{peer: p, labels: append([]mpls.Label(nil), r.Labels...)}
		d.hops[k] = h
	}
	h.refs++
	return h
}

// unref lets go of the next hop a route held (ref).
func (d *dataplane) unref(r fib.Route) {
	if !r.IsRemote() || r.Attachment != "" {
		return
	}
	k, err := hopKeyOf(r)
	if err != nil {
		return // refused when it came: held nothing
	}
	h := d.hops[k]
	if h == nil {
		return
	}
	if h.refs--; h.refs == 0 {
		delete(d.hops, k)
		h.peer.hops--
	}
}

// peer returns the peer for a remote PE, creating it without a tunnel.
func (d *dataplane) peer(remote netip.Addr) *peer {
	p := d.peers[remote]
	if p == nil {
		p = &peer{remote: remote}
		d.peers[remote] = p
	}
	return p
}

// forgetPeers drops the peers no next hop, installed tunnel or Gateway
// needs.
func (d *dataplane) forgetPeers() {
	for remote, p := range d.peers {
		if p.hops == 0 && !d.tunnelRemotes[remote] && !d.pinned[remote] {
			p.out.Store(nil) // whoever still holds it drops: fail closed
			delete(d.peers, remote)
		}
	}
}
