package bgp

// A speaker that has just started listens before it dials. Two GoBGPs
// that both dial each other can lock each other out after one of them
// restarts: GoBGP v3.37.0 holds an FSM that fell to Idle there for a
// fixed 5 s (holdtimeIdle, pkg/server/fsm.go) and closes every
// connection it is handed in Idle ((*fsmHandler).idle), and out of Idle
// it dials within 1 to 2 s (connectLoop), so each side's dial keeps
// landing in the other's Idle: in the restart lab
// (labs/interop/restart_active_test.go) the session stayed down for as
// long as it was watched, 150 s. The neighbor that noticed the restart
// fell to Idle when the dead daemon's connection closed, so it dials the
// restarted speaker within startListen; a restarted speaker that only
// listens until then is in Active, and takes that connection. After
// startListen a neighbor whose session did not come up is added again
// dialing, as configured, so a neighbor that only listens itself (or is
// not there) costs startListen. A session that came up while listening
// keeps GoBGP's passive mode until the neighbor is next configured: its
// neighbor dialed once and will again, and deleting an established
// neighbor to change the mode would end the session it should keep; so
// does one whose session came up and then went down in a graceful
// restart, since deleting it would drop the stale routes GoBGP keeps.

import (
	"context"
	"reflect"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// startListen is how long a just-started speaker only listens to a
// neighbor configured to dial: GoBGP's Idle hold (5 s) plus its first
// dial's longest delay (2 s) plus a second for the neighbor's own
// start-up.
const startListen = 8 * time.Second

// listenFirst makes p, a neighbor configured to dial, only listen; the
// speaker records it in s.listening for endListen.
func (s *Speaker) listenFirst(n Neighbor, p *api.Peer) {
	if n.Passive || s.cfg != nil {
		return // configured to listen, or not the start
	}
	p.Transport.PassiveMode = true
	if s.listening == nil {
		s.listening = map[string]Neighbor{}
	}
	s.listening[n.Address.String()] = n
}

// endListen, on the owner goroutine, adds again, dialing, each neighbor
// that still only listens as listenFirst left it and whose session is
// not established.
func (s *Speaker) endListen(ctx context.Context) {
	listening := s.listening
	s.listening = nil
	var current []Neighbor
	if s.cfg != nil {
		current = s.cfg.Neighbors
	}
	for _, n := range current {
		addr := n.Address.String()
		was, ok := listening[addr]
		if !ok || !reflect.DeepEqual(was, n) {
			continue // re-added by a reload since, as configured
		}
		if established(ctx, s.srv, addr) {
			s.log.Info("neighbor came up while only listening; it stays passive until next configured", "neighbor", addr)
			continue
		}
		if peerRestarting(ctx, s.srv, addr) || s.hold.holding(n.Address) {
			// Its session came up and went down gracefully: deleting it
			// would drop the routes graceful restart keeps.
			s.log.Info("neighbor came up while only listening and is restarting; it stays passive, its routes kept, until next configured", "neighbor", addr)
			continue
		}
		if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr}); err != nil {
			s.log.Warn("neighbor not switched to dialing", "neighbor", addr, "error", err)
			continue
		}
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerFromConfig(n, s.cfg.RouterID.String())}); err != nil {
			s.log.Warn("neighbor not switched to dialing", "neighbor", addr, "error", err)
			continue
		}
		s.log.Debug("neighbor dials now", "neighbor", addr)
	}
}

// scheduleEndListen runs endListen on the owner goroutine startListen
// from now, unless the speaker stops first.
func (s *Speaker) scheduleEndListen(after time.Duration) {
	if len(s.listening) == 0 {
		return
	}
	go func() {
		t := time.NewTimer(after)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.stop:
			return
		}
		select {
		case s.work <- func() { s.endListen(context.Background()) }:
		case <-s.stop:
		}
	}()
}
