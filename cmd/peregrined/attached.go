package main

import (
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
)

// attachedFeed carries the up IPsec attachments' site prefixes from the
// keying service (Options.OnAttached, on its goroutine, which must not
// wait for bgp) to the BGP speaker, in order: the latest map wins, and
// one goroutine applies it, so a withdrawal never overtakes the
// announcement it follows.
type attachedFeed struct {
	mu     sync.Mutex
	latest map[string][]netip.Prefix
	kick   chan struct{}
}

func newAttachedFeed() *attachedFeed {
	return &attachedFeed{kick: make(chan struct{}, 1)}
}

// set is the keying service's OnAttached.
func (f *attachedFeed) set(m map[string][]netip.Prefix) {
	f.mu.Lock()
	f.latest = m
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// attachedSetter is the speaker's part the feed drives (*bgp.Speaker).
type attachedSetter interface {
	SetAttached(ctx context.Context, vrf string, prefixes []netip.Prefix) error
}

// run hands each new map to sp until ctx ends: every VRF whose prefixes
// changed, those that lost all of them included.
func (f *attachedFeed) run(ctx context.Context, sp attachedSetter, log *slog.Logger) {
	applied := map[string][]netip.Prefix{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		}
		f.mu.Lock()
		now := f.latest
		f.mu.Unlock()
		vrfs := map[string]bool{}
		for v := range now {
			vrfs[v] = true
		}
		for v := range applied {
			vrfs[v] = true
		}
		for _, v := range slices.Sorted(maps.Keys(vrfs)) {
			if slices.Equal(now[v], applied[v]) {
				continue
			}
			if err := sp.SetAttached(ctx, v, now[v]); err != nil {
				log.Warn("export attachment prefixes", "vrf", v, "error", err)
				continue
			}
			log.Info("attachment prefixes", "vrf", v, "prefixes", now[v])
			if len(now[v]) == 0 {
				delete(applied, v)
			} else {
				applied[v] = now[v]
			}
		}
	}
}
