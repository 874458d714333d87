// Package fibfeed hands the BGP speaker's changes (bgp.Event) to the
// forwarding plane's reconciler. It sits beside bgp rather than in fib
// because fib must not import bgp: bgp pulls GoBGP into the build, and
// the fast path imports fib.
//
//	bgp.Speaker ──Event──> Run ──UpdateRoute / UpdateCERoute / UpdateLabel──> fib.Reconciler
//
// Events for one prefix arrive in order and are handed on in order, one
// goroutine doing it, so the reconciler sees a prefix's history as bgp
// emitted it.
package fibfeed

import (
	"context"
	"log/slog"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// Sink is the part of *fib.Reconciler the feed drives.
type Sink interface {
	UpdateRoute(fib.RouteUpdate)
	UpdateCERoute(fib.CERoute)
	UpdateLabel(fib.LabelUpdate)
}

// Run hands every event to sink until events is closed. A nil sink (the
// daemon's dataplane backend "none") drains the events, so that bgp never
// blocks on them. Events are logged at debug level.
func Run(events <-chan bgp.Event, sink Sink, log *slog.Logger) {
	for e := range events {
		if log.Enabled(context.Background(), slog.LevelDebug) {
			log.Debug("fib event", "event", e.String())
		}
		if sink != nil {
			Apply(sink, e)
		}
	}
}

// Apply translates one event into its reconciler input. An unknown kind
// is ignored.
func Apply(sink Sink, e bgp.Event) {
	switch e.Kind {
	case bgp.RouteAdd:
		sink.UpdateRoute(fib.RouteUpdate{VRF: e.VRF, Prefix: e.Prefix, Remote: e.NextHop, Labels: []mpls.Label{e.Label}, RD: e.RD})
	case bgp.RouteDel:
		sink.UpdateRoute(fib.RouteUpdate{VRF: e.VRF, Prefix: e.Prefix, Withdraw: true})
	case bgp.CERouteAdd:
		sink.UpdateCERoute(fib.CERoute{VRF: e.VRF, Prefix: e.Prefix, NextHop: e.NextHop})
	case bgp.CERouteDel:
		sink.UpdateCERoute(fib.CERoute{VRF: e.VRF, Prefix: e.Prefix, Withdraw: true})
	case bgp.LabelAdd:
		sink.UpdateLabel(fib.LabelUpdate{Label: e.Label, VRF: e.VRF, Prefix: e.Prefix})
	case bgp.LabelDel:
		sink.UpdateLabel(fib.LabelUpdate{Label: e.Label, Release: true})
	}
}
