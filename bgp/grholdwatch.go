package bgp

// How the speaker feeds its grHold (grhold.go). The hold must see a
// neighbor's fall before the withdrawals GoBGP emits after it, its return
// before the withdrawals of the new session, and an End-of-RIB before
// the withdrawals of GoBGP's own stale flush, so best paths, End-of-RIB
// markers and peer states come from one GoBGP watcher, whose events keep
// the order in which GoBGP's goroutine made them, and reach the run
// goroutine over one channel (Speaker.best).
//
// Whether a fall was graceful is what GoBGP decided: its FSM logs "peer
// graceful restart" as it decides so (gracefulFalls). Asking GoBGP for
// the neighbor's state when the fall is reported instead could find it
// already past an early drop, which clears PeerRestarting.

import (
	"context"
	"net/netip"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
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
	// For a fall: whether GoBGP took it as a graceful restart.
	graceful bool
}

// peerWatch turns GoBGP's peer events into peerChanges. It runs on the
// watcher's goroutine and remembers which sessions were Established.
type peerWatch struct {
	s  *Speaker
	up map[netip.Addr]bool
}

// change is the peerChange p makes, or nil.
func (w *peerWatch) change(p *api.Peer) *peerChange {
	addr, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
	if err != nil {
		return nil
	}
	addr = addr.Unmap()
	if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
		w.up[addr] = true
		w.falls().take(addr) // a mark left from before is stale
		return &peerChange{addr: addr, up: true}
	}
	if !w.up[addr] {
		return nil
	}
	delete(w.up, addr)
	return &peerChange{addr: addr, graceful: w.falls().take(addr)}
}

func (w *peerWatch) falls() *gracefulFalls { return w.s.glog.falls }

// gracefulFalls are the neighbors whose session GoBGP has just ended as
// a graceful restart: its FSM logs "peer graceful restart" (fsm.go) as it
// decides so, before the server marks the paths stale and reports the
// fall to the watchers. GoBGP's goroutines note, the peer watcher takes.
type gracefulFalls struct {
	mu    sync.Mutex
	falls map[netip.Addr]bool
}

// gobgpInfo notes the neighbor of GoBGP's "peer graceful restart".
func (g *gracefulFalls) gobgpInfo(msg string, f gobgplog.Fields) {
	if msg != "peer graceful restart" {
		return
	}
	key, _ := f["Key"].(string)
	addr, err := netip.ParseAddr(key)
	if err != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.falls == nil {
		g.falls = map[netip.Addr]bool{}
	}
	g.falls[addr.Unmap()] = true
}

// take reports and clears addr's mark.
func (g *gracefulFalls) take(addr netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	marked := g.falls[addr]
	delete(g.falls, addr)
	return marked
}

// advertisedRestart is the restart time addr advertised on its session
// that is up, for a graceful-restart neighbor; 0 for any other.
func (s *Speaker) advertisedRestart(addr netip.Addr) time.Duration {
	if _, ok := s.hold.limits[addr]; !ok {
		return 0
	}
	var d time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.ListPeer(ctx, &api.ListPeerRequest{Address: addr.String()}, func(p *api.Peer) {
		d = time.Duration(p.GetGracefulRestart().GetPeerRestartTime()) * time.Second
	})
	return d
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
		s.hold.advertised[c.addr] = s.advertisedRestart(c.addr)
	} else {
		restart := s.hold.advertised[c.addr]
		s.flushHeld(s.hold.down(c.addr, c.graceful, restart, now))
		if s.hold.holding(c.addr) {
			s.log.Info("graceful restart: holding the neighbor's routes", "neighbor", c.addr, "restart-time", restart)
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
	flush, first := s.hold.endOfRIB(addr, v6)
	if !first {
		return
	}
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

// holdExpire ends the holds whose deadline passed.
func (s *Speaker) holdExpire() {
	if flush := s.hold.expire(time.Now()); len(flush) > 0 {
		s.log.Warn("graceful restart: hold expired, withdrawing the stale routes", "routes", len(flush))
		s.flushHeld(flush)
	}
	s.armHold()
}
