package peers

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// PollInterval is how often Eventually re-checks its condition.
const PollInterval = 100 * time.Millisecond

// Eventually calls cond until it returns nil or ctx is done. cond's error
// says why the condition does not hold yet; when ctx ends, Eventually
// returns the last such reason, so a failed wait reads as "route X missing
// at frr@rr: ..." rather than "deadline exceeded". Labs use it in place of
// sleeps: BGP converges in a second or so here, but a slow CI host must not
// turn that into a flaky test.
func Eventually(ctx context.Context, cond func(context.Context) error) error {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	var last error
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		// A command killed by the deadline says less than the attempt
		// before it.
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", last, ctx.Err())
		case <-tick.C:
		}
	}
}

// Matches reports whether got is the route want describes: same RD and
// prefix, and the same label, RTs (as a set) and next hop where want sets
// them (zero Label, nil RTs and an invalid NextHop match anything).
func (want VPNRoute) Matches(got VPNRoute) bool {
	if normalizeAdmin(got.RD) != normalizeAdmin(want.RD) || got.Prefix != want.Prefix {
		return false
	}
	if want.Label != 0 && got.Label != want.Label {
		return false
	}
	if want.RTs != nil && !slices.Equal(normalizeRTs(want.RTs), normalizeRTs(got.RTs)) {
		return false
	}
	if want.NextHop.IsValid() && got.NextHop != want.NextHop.Unmap() {
		return false
	}
	return true
}

// WaitRoute waits until s has a path matching want (see Matches) and
// returns it.
func WaitRoute(ctx context.Context, s Speaker, want VPNRoute) (VPNRoute, error) {
	var found VPNRoute
	err := Eventually(ctx, func(ctx context.Context) error {
		routes, err := s.VPNRoutes(ctx, want.Family())
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name(), err)
		}
		var same []string
		for _, r := range routes {
			if want.Matches(r) {
				found = r
				return nil
			}
			if r.Prefix == want.Prefix {
				same = append(same, r.String())
			}
		}
		if len(same) > 0 {
			return fmt.Errorf("%s: no path like %v; paths for %s: %s", s.Name(), want, want.Prefix, strings.Join(same, "; "))
		}
		return fmt.Errorf("%s: no path like %v; %d %s routes, none for %s", s.Name(), want, len(routes), want.Family(), want.Prefix)
	})
	return found, err
}

// WaitNoRoute waits until s has no path for rd:prefix.
func WaitNoRoute(ctx context.Context, s Speaker, rd string, prefix netip.Prefix) error {
	want := VPNRoute{RD: rd, Prefix: prefix}
	return Eventually(ctx, func(ctx context.Context) error {
		routes, err := s.VPNRoutes(ctx, want.Family())
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name(), err)
		}
		for _, r := range routes {
			if want.Matches(r) {
				return fmt.Errorf("%s: still has %v", s.Name(), r)
			}
		}
		return nil
	})
}

// WaitEstablished waits until s reports every session in addrs
// Established.
func WaitEstablished(ctx context.Context, s Speaker, addrs ...netip.Addr) error {
	return Eventually(ctx, func(ctx context.Context) error {
		ns, err := s.Neighbors(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name(), err)
		}
		for _, a := range addrs {
			i := slices.IndexFunc(ns, func(n Neighbor) bool { return n.Address == a })
			switch {
			case i < 0:
				return fmt.Errorf("%s: no neighbor %s (has %v)", s.Name(), a, ns)
			case ns[i].State != Established:
				return fmt.Errorf("%s: neighbor %s is %s", s.Name(), a, ns[i].State)
			}
		}
		return nil
	})
}

// fsmStates maps each peer's spelling of a BGP FSM state, lower-cased, to
// RFC 4271's.
var fsmStates = map[string]string{
	"idle": "Idle", "connect": "Connect", "active": "Active",
	"opensent": "OpenSent", "openconfirm": "OpenConfirm", "established": Established,
}

// normalizeState returns RFC 4271's name for a peer's FSM state; unknown
// names (FRR's "Clearing", "Deleted") pass through.
func normalizeState(s string) string {
	if n, ok := fsmStates[strings.ToLower(strings.TrimSpace(s))]; ok {
		return n
	}
	return s
}
