package bgp

// Holding a restarting neighbor's routes through GoBGP v3.37.0's early
// drop (issue 20).
//
// RFC 4724 section 4.2 keeps a restarting neighbor's stale routes until
// its restart time runs out or its new session delivers End-of-RIB.
// GoBGP v3.37.0 drops them sooner: when the neighbor's new session falls
// to Idle before it reaches Established (a refused OPEN, a TCP close in
// OpenSent), handleFSMMessage's nextStateIdle branch clears
// PeerRestarting and withdraws every path of the neighbor, stale ones
// included, although the restart time has not run out. Peregrine holds
// them itself:
//
//	graceful down ── withdrawals while not Established ──> held (not imported as withdrawn)
//	      │            re-announced ─────────────────────> released (replaced)
//	      │            End-of-RIB of the family ─────────> still-held ones withdrawn
//	      └─ deadline ───────────────────────────────────> all withdrawn
//
// Only withdrawals that arrive while the neighbor's session is down are
// held: that is the only state in which GoBGP drops early. Once the new
// session is Established, a withdrawal is the neighbor's own (or a
// non-graceful end of the session, whose drop GoBGP reports before the
// session's state) and passes.
//
// The deadline is fixed when the session goes down: the restart time the
// neighbor advertised, capped by this neighbor's configured
// graceful-restart.restart-time; when the new session is up, it becomes
// that moment plus the configured stale-time, once. An Idle flap before
// Established, or a later graceful fall before End-of-RIB, never moves
// it, so a neighbor that flaps cannot keep stale routes longer than
// restart-time plus stale-time from its first fall, which
// mpls.label-hold-down already covers (config/graceful.go).
//
// A neighbor deleted or changed by configuration, or one whose session
// ended without graceful restart, gets no hold: what was held is
// withdrawn then.

import (
	"net/netip"
	"reflect"
	"time"
)

// grHold is the set of restarting neighbors whose withdrawn paths are held
// as stale. It is owned by the speaker's run goroutine and is pure: the
// caller passes the time and withdraws the keys it returns.
type grHold struct {
	limits map[netip.Addr]holdLimits // graceful-restart neighbors
	held   map[netip.Addr]*restarting
	// advertised is the restart time each neighbor advertised on its
	// last session, which the speaker reads when the session comes up.
	advertised map[netip.Addr]time.Duration
}

// holdLimits is a neighbor's configured bound on a hold.
type holdLimits struct {
	restart time.Duration // cap on the restart time the neighbor advertises
	stale   time.Duration // wait for End-of-RIB once the session is back
}

// restarting is one neighbor's hold.
type restarting struct {
	deadline time.Time
	up       bool    // its new session is Established
	back     bool    // it has been Established since the hold began: deadline is final
	eor      [2]bool // End-of-RIB seen for VPNv4, VPNv6 on this session
	keys     map[pathKey]struct{}
}

func newGRHold() *grHold {
	return &grHold{limits: map[netip.Addr]holdLimits{}, held: map[netip.Addr]*restarting{},
		advertised: map[netip.Addr]time.Duration{}}
}

// configure moves from the old neighbors to the new ones and returns the
// held keys of those that are no longer graceful-restart neighbors, or
// changed: their holds end.
func (h *grHold) configure(old, neighbors []Neighbor) []pathKey {
	prev := map[netip.Addr]Neighbor{}
	for _, n := range old {
		prev[n.Address.Unmap()] = n
	}
	clear(h.limits)
	var flush []pathKey
	for _, n := range neighbors {
		addr := n.Address.Unmap()
		if p, ok := prev[addr]; ok && !reflect.DeepEqual(p, n) {
			// applyNeighbors re-creates the neighbor in GoBGP, which
			// drops its routes: they are not a restart's.
			flush = h.end(addr, flush)
		}
		if g := n.GracefulRestart; g.Enabled && g.RestartTime > 0 {
			h.limits[addr] = holdLimits{restart: g.RestartTime, stale: g.StaleTime}
		}
	}
	for addr := range h.held {
		if _, ok := h.limits[addr]; !ok {
			flush = h.end(addr, flush)
		}
	}
	for addr := range h.advertised {
		if _, ok := h.limits[addr]; !ok {
			delete(h.advertised, addr)
		}
	}
	return flush
}

// end removes addr's hold, appending its keys to flush.
func (h *grHold) end(addr netip.Addr, flush []pathKey) []pathKey {
	if r := h.held[addr]; r != nil {
		for k := range r.keys {
			flush = append(flush, k)
		}
		delete(h.held, addr)
	}
	return flush
}

// down notes that addr's Established session ended. graceful says whether
// GoBGP took it as a restart (it keeps the routes as stale); peerRestart
// is the restart time the neighbor advertised. A graceful end begins a
// hold, or continues one with its deadline; any other ends it.
func (h *grHold) down(addr netip.Addr, graceful bool, peerRestart time.Duration, now time.Time) []pathKey {
	addr = addr.Unmap()
	lim, ok := h.limits[addr]
	if !graceful || !ok || peerRestart <= 0 {
		return h.end(addr, nil)
	}
	if r := h.held[addr]; r != nil {
		r.up = false
		r.eor = [2]bool{} // GoBGP forgets them too; the next session sends its own
		return nil
	}
	h.held[addr] = &restarting{deadline: now.Add(min(peerRestart, lim.restart)), keys: map[pathKey]struct{}{}}
	return nil
}

// established notes that addr's new session is up: from now on its
// withdrawals are its own, and the hold waits its stale-time for End-of-RIB.
func (h *grHold) established(addr netip.Addr, now time.Time) []pathKey {
	addr = addr.Unmap()
	r := h.held[addr]
	if r == nil {
		return nil
	}
	r.up = true
	if !r.back {
		r.back = true
		stale := h.limits[addr].stale
		if stale <= 0 {
			stale = h.limits[addr].restart
		}
		r.deadline = now.Add(stale)
	}
	if len(r.keys) == 0 {
		return h.end(addr, nil) // nothing was dropped early: GoBGP has it all
	}
	return nil
}

// keeps reports whether the hold keeps vp, a change of the best path
// from addr, from the importer: a withdrawal it holds. A best path
// announced replaces what was held for its key.
func (h *grHold) keeps(addr netip.Addr, vp vpnPath, now time.Time) bool {
	if !vp.withdraw {
		h.announced(vp.key)
		return false
	}
	return h.withdrawn(addr, vp.key, now)
}

// withdrawn reports whether a withdrawal of key, whose path came from
// addr, is held rather than imported: addr is restarting, its session is
// down and its deadline has not passed.
func (h *grHold) withdrawn(addr netip.Addr, key pathKey, now time.Time) bool {
	r := h.held[addr.Unmap()]
	if r == nil || r.up || !now.Before(r.deadline) {
		return false
	}
	r.keys[key] = struct{}{}
	return true
}

// announced notes a best path for key: whatever the importer held for key
// is replaced by it.
func (h *grHold) announced(key pathKey) {
	if len(h.held) == 0 {
		return
	}
	for _, r := range h.held {
		delete(r.keys, key)
	}
}

// endOfRIB notes addr's End-of-RIB for VPNv6 (v6) or VPNv4 and returns
// the keys of that family still held: the neighbor did not announce them
// again. first is false if addr has no hold or this End-of-RIB was
// already noted. A hold with nothing left ends.
func (h *grHold) endOfRIB(addr netip.Addr, v6 bool) (flush []pathKey, first bool) {
	addr = addr.Unmap()
	r := h.held[addr]
	fam := 0
	if v6 {
		fam = 1
	}
	if r == nil || r.eor[fam] {
		return nil, false
	}
	r.eor[fam] = true
	for k := range r.keys {
		if k.prefix.Addr().Is6() == v6 {
			flush = append(flush, k)
			delete(r.keys, k)
		}
	}
	if len(r.keys) == 0 && r.up {
		delete(h.held, addr)
	}
	return flush, true
}

// expire ends the holds whose deadline is not after now and returns
// their keys.
func (h *grHold) expire(now time.Time) []pathKey {
	var flush []pathKey
	for addr, r := range h.held {
		if !now.Before(r.deadline) {
			flush = h.end(addr, flush)
		}
	}
	return flush
}

// next is the earliest deadline of a hold; ok is false when none runs.
func (h *grHold) next() (at time.Time, ok bool) {
	for _, r := range h.held {
		if !ok || r.deadline.Before(at) {
			at, ok = r.deadline, true
		}
	}
	return at, ok
}

// holding reports whether addr's routes are held for a restart.
func (h *grHold) holding(addr netip.Addr) bool { return h.held[addr.Unmap()] != nil }
