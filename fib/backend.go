package fib

import (
	"context"
	"errors"
)

// Backend makes a State real: the kernel (netlink), the userspace fast
// path, or the fake that records ip lines. It is declarative, like
// Tailscale's wgengine/router.Router: the reconciler never says "add this
// route", only "this is everything that should exist now", so a backend
// that lost track of the OS (an error halfway, a restart, an operator's
// stray `ip route del`) heals on the next Apply instead of drifting.
//
// The contract:
//
//   - The State passed to Apply is immutable, for the caller and the
//     backend alike: the backend may keep it (and pointers into it) after
//     Apply returns, and must not modify it.
//   - Apply is idempotent. It may be called with the same State twice;
//     the second call should change nothing.
//   - Apply converges from whatever state the OS is in, not only from the
//     previous State: after an error, the next Apply (of the same or
//     another State) must still reach the State it is given. A backend
//     therefore never leaves anything behind that it cannot find again
//     (it names its devices, tables and rule priorities so that it can
//     recognise its own).
//   - Apply and Close are called from one goroutine (the reconciler's);
//     optional abilities (Counterer, in counters.go; TunnelCarrier, in
//     tunnels_ability.go) may be called from any goroutine.
//   - ctx bounds one Apply; a backend returns ctx.Err() if it gives up.
type Backend interface {
	// Apply converges the dataplane to s.
	Apply(ctx context.Context, s *State) error
	// Close releases what the backend holds (file descriptors, TUN
	// devices). Whether installed routes stay is the backend's to
	// document; the reconciler does not call Close, its owner does.
	Close() error
}

// ErrClosed is returned by the Reconciler's Run and Flush once Close has
// been called. The caller should stop feeding the reconciler; inputs given
// after Close are dropped.
var ErrClosed = errors.New("fib: reconciler closed")
