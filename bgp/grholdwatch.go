package bgp

// How the speaker feeds its grHold (grhold.go). The hold must see a
// neighbor's fall before the withdrawals GoBGP emits after it, and an
// End-of-RIB before the withdrawals GoBGP's own stale flush emits, so
// best paths, End-of-RIB markers and peer states come from one GoBGP
// watcher, whose events keep the order in which GoBGP's goroutine made
// them, and reach the run goroutine over one channel (Speaker.best).

import (
	"context"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// watched is one event of the speaker's GoBGP watcher: a batch of best
// paths (and End-of-RIB markers), or a change of a session.
type watched struct {
	paths []*api.Path
	peer  *peerChange
}

// peerChange is a session that came up, or that went down from
// Established.
type peerChange struct {
	addr netip.Addr
	up   bool
	// For a fall: whether GoBGP took it as a graceful restart, and the
	// restart time the neighbor advertised.
	graceful bool
	restart  time.Duration
}

// peerWatch turns GoBGP's peer events into peerChanges. It runs on the
// watcher's goroutine and remembers which sessions were Established.
type peerWatch struct {
	s  *Speaker
	up map[netip.Addr]bool
}

// change is the peerChange p makes, or nil. For a fall it asks GoBGP
// whether the neighbor is restarting, before the watcher delivers any
// later event: GoBGP holds it restarting until the new session's first
// fall at the earliest, which comes no sooner than idleAfterReset later.
func (w *peerWatch) change(p *api.Peer) *peerChange {
	addr, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
	if err != nil {
		return nil
	}
	addr = addr.Unmap()
	if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
		w.up[addr] = true
		return &peerChange{addr: addr, up: true}
	}
	if !w.up[addr] {
		return nil
	}
	delete(w.up, addr)
	c := &peerChange{addr: addr}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.s.srv.ListPeer(ctx, &api.ListPeerRequest{Address: addr.String()}, func(p *api.Peer) {
		g := p.GetGracefulRestart()
		c.graceful = g.GetPeerRestarting()
		c.restart = time.Duration(g.GetPeerRestartTime()) * time.Second
	})
	return c
}

// isEndOfRIB reports whether p is GoBGP's End-of-RIB marker (a path
// without NLRI), and for which VPN family.
func isEndOfRIB(p *api.Path) (vpn, v6 bool, ok bool) {
	if p.GetNlri() != nil {
		return false, false, false
	}
	f := p.GetFamily()
	return f.GetSafi() == api.Family_SAFI_MPLS_VPN, f.GetAfi() == api.Family_AFI_IP6, true
}

// holdPeer applies a session change to the hold, on the run goroutine.
func (s *Speaker) holdPeer(c *peerChange) {
	now := time.Now()
	s.flushHeld(s.hold.expire(now))
	if c.up {
		s.flushHeld(s.hold.established(c.addr, now))
	} else {
		s.flushHeld(s.hold.down(c.addr, c.graceful, c.restart, now))
		if c.graceful {
			s.log.Info("graceful restart: holding the neighbor's routes", "neighbor", c.addr, "restart-time", c.restart)
		}
	}
	s.armHold()
}

// holdEndOfRIB withdraws what the hold kept for p's neighbor and family
// that the neighbor did not announce again.
func (s *Speaker) holdEndOfRIB(p *api.Path, v6 bool) {
	addr, err := netip.ParseAddr(p.GetNeighborIp())
	if err != nil {
		return
	}
	if !s.hold.holding(addr) {
		return
	}
	flush := s.hold.endOfRIB(addr, v6)
	family := "vpnv4"
	if v6 {
		family = "vpnv6"
	}
	// labs/interop/graceful_frr_test.go reads this line.
	s.log.Info("graceful restart: End-of-RIB, held routes not announced again withdrawn",
		"neighbor", addr, "family", family, "withdrawn", len(flush))
	s.flushHeld(flush)
	s.armHold()
}

// holdBack reports whether the hold keeps vp, a best-path change from
// p's neighbor, from the importer.
func (s *Speaker) holdBack(p *api.Path, vp vpnPath) bool {
	if len(s.hold.held) == 0 || vp.local {
		return false
	}
	addr, err := netip.ParseAddr(p.GetNeighborIp())
	if err != nil && vp.withdraw {
		return false
	}
	return s.hold.keeps(addr, vp, time.Now())
}

// flushHeld withdraws held keys as GoBGP's withdrawals would have.
func (s *Speaker) flushHeld(keys []pathKey) {
	for _, k := range keys {
		s.importPath(nil, vpnPath{key: k, withdraw: true})
	}
}

// armHold sets the timer for the earliest hold deadline; at it the run
// goroutine withdraws what expired holds kept.
func (s *Speaker) armHold() {
	at, ok := s.hold.next()
	if s.holdTimer != nil {
		s.holdTimer.Stop()
		s.holdTimer = nil
	}
	if !ok {
		return
	}
	s.holdTimer = time.AfterFunc(time.Until(at), func() {
		select {
		case s.work <- s.holdExpire:
		case <-s.done:
		}
	})
}

func (s *Speaker) holdExpire() {
	if flush := s.hold.expire(time.Now()); len(flush) > 0 {
		s.log.Warn("graceful restart: hold expired, withdrawing the stale routes", "routes", len(flush))
		s.flushHeld(flush)
	}
	s.armHold()
}
