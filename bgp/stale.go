package bgp

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// staleGuard enforces a graceful-restart neighbor's stale-time, which
// GoBGP v3.37.0 does not: once a restarted neighbor's session is back,
// GoBGP keeps its stale routes until its End-of-RIB, however long that
// takes, so a neighbor that never sends one would keep routes it may no
// longer have in the VRFs for ever. When a session of a graceful-restart
// neighbor comes up, the guard waits the neighbor's stale-time; if GoBGP
// still counts the neighbor as restarting (no End-of-RIB yet) on the same
// session, it resets the session: the reset is not graceful on this side,
// so GoBGP drops every route of the neighbor, stale ones included, and
// learns the current ones again when the session is back.
//
// Peer events arrive on GoBGP's goroutine and the configuration changes
// on the speaker's, so the guard has a lock; the check runs on a timer's
// goroutine.
type staleGuard struct {
	srv *server.BgpServer
	log *slog.Logger

	mu struct {
		sync.Mutex
		stale  map[netip.Addr]time.Duration // graceful-restart neighbors' stale-time
		timers map[netip.Addr]*armed
	}
}

// armed is one session's timer; check compares its pointer, under the
// lock, to tell whether the session is still the one it was armed for.
type armed struct{ t *time.Timer }

func newStaleGuard(srv *server.BgpServer, log *slog.Logger) *staleGuard {
	g := &staleGuard{srv: srv, log: log}
	g.mu.stale = map[netip.Addr]time.Duration{}
	g.mu.timers = map[netip.Addr]*armed{}
	return g
}

// configure sets the neighbors whose stale-time is enforced.
func (g *staleGuard) configure(neighbors []Neighbor) {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.mu.stale)
	for _, n := range neighbors {
		if n.GracefulRestart.Enabled && n.GracefulRestart.StaleTime > 0 {
			g.mu.stale[n.Address.Unmap()] = n.GracefulRestart.StaleTime
		}
	}
	for addr, a := range g.mu.timers {
		if _, ok := g.mu.stale[addr]; !ok {
			a.t.Stop()
			delete(g.mu.timers, addr)
		}
	}
}

// peerEvent (re)arms or stops a neighbor's timer as its session comes up
// or goes down.
func (g *staleGuard) peerEvent(p *api.Peer) {
	addr, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
	if err != nil {
		return
	}
	addr = addr.Unmap()
	g.mu.Lock()
	defer g.mu.Unlock()
	if a := g.mu.timers[addr]; a != nil {
		a.t.Stop()
		delete(g.mu.timers, addr)
	}
	d, ok := g.mu.stale[addr]
	if !ok || p.GetState().GetSessionState() != api.PeerState_ESTABLISHED {
		return
	}
	a := &armed{}
	a.t = time.AfterFunc(d, func() { g.check(addr, d, a) })
	g.mu.timers[addr] = a
}

// check resets addr's session if it is still waiting for the neighbor's
// End-of-RIB on the session a was armed for.
func (g *staleGuard) check(addr netip.Addr, d time.Duration, a *armed) {
	g.mu.Lock()
	current := g.mu.timers[addr] == a
	g.mu.Unlock()
	if !current {
		return // the session went down or was re-armed since
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	restarting := false
	_ = g.srv.ListPeer(ctx, &api.ListPeerRequest{Address: addr.String()}, func(p *api.Peer) {
		restarting = p.GetState().GetSessionState() == api.PeerState_ESTABLISHED &&
			p.GetGracefulRestart().GetPeerRestarting()
	})
	if !restarting {
		return
	}
	g.log.Warn("graceful restart: no End-of-RIB within stale-time, resetting the session to flush the stale routes",
		"neighbor", addr, "stale-time", d)
	if err := g.srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: addr.String(),
		Communication: "no End-of-RIB within stale-time"}); err != nil {
		g.log.Warn("graceful restart: reset after stale-time", "neighbor", addr, "error", err)
	}
}

// stop stops every timer.
func (g *staleGuard) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for addr, a := range g.mu.timers {
		a.t.Stop()
		delete(g.mu.timers, addr)
	}
}
