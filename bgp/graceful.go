package bgp

// BGP graceful restart (RFC 4724) with the notification extension
// (RFC 8538), per neighbor. GoBGP does the protocol; what Peregrine adds is
// the configuration and keeping its own state consistent with it:
//
//   - Helper, for a restarting neighbor: GoBGP marks the neighbor's paths
//     stale and keeps them as they were, so its best-path watch delivers
//     no withdrawal and the importer and FIB keep the routes; at the
//     neighbor's End-of-RIB (or when its restart time runs out before the
//     session is back) GoBGP withdraws the stale paths that were not
//     announced again, and those withdrawals reach the VRFs as any other.
//     GoBGP waits for that End-of-RIB without limit; the stale-time is
//     this package's (stale.go). GoBGP also drops the stale paths, too
//     early, when a new session fails before Established; the hold
//     (grhold.go) keeps them in the VRFs then.
//   - Restarting speaker: Peregrine advertises the capability with its
//     restart time, so neighbors keep its routes while it restarts, and
//     the labels it then re-advertises are the same (mpls/labelstore). It
//     never sets the Restart State or Forwarding State bits: GoBGP sets
//     both together (LocalRestarting), and Peregrine does not yet know
//     which backend kept forwarding across its restart (docs/ARCHITECTURE.md,
//     "Restarts"), so it claims none, and a strict neighbor flushes the
//     stale routes as soon as the session is back and relearns them.

import (
	"context"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// GracefulRestart is a neighbor's graceful restart configuration
// (bgp.neighbors[i].graceful-restart).
type GracefulRestart struct {
	Enabled bool
	// RestartTime is advertised: how long the neighbor keeps this PE's
	// routes while the session is down.
	RestartTime time.Duration
	// StaleTime bounds how long a restarted neighbor's stale routes are
	// kept once its session is back, waiting for its End-of-RIB
	// (staleGuard, stale.go).
	StaleTime time.Duration
}

// gracefulRestart fills p's graceful restart for n: the capability, with
// notification support, on every family of the neighbor.
func gracefulRestart(p *api.Peer, g GracefulRestart) {
	if !g.Enabled {
		return
	}
	p.GracefulRestart = &api.GracefulRestart{
		Enabled:     true,
		RestartTime: uint32(g.RestartTime / time.Second),
		// RFC 8538: a NOTIFICATION other than Hard Reset (the Cease this
		// speaker sends when it stops) is a restart too.
		NotificationEnabled: true,
	}
	p.Timers.Config.IdleHoldTimeAfterReset = idleAfterReset
	for _, a := range p.AfiSafis {
		a.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
	}
}

// peerRestarting reports whether GoBGP holds addr's routes as stale for a
// restart: its session went down gracefully and it has not yet sent its
// End-of-RIB on a new one (or its restart time has not run out). Deleting
// such a neighbor from GoBGP drops those routes.
func peerRestarting(ctx context.Context, srv *server.BgpServer, addr string) bool {
	restarting := false
	_ = srv.ListPeer(ctx, &api.ListPeerRequest{Address: addr}, func(p *api.Peer) {
		restarting = p.GetGracefulRestart().GetPeerRestarting()
	})
	return restarting
}
