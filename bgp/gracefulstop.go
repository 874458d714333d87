package bgp

import (
	"context"
	"errors"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// idleAfterReset is how long GoBGP waits before reconnecting a session it
// reset (IdleHoldTimeAfterReset) for a graceful-restart neighbor: long
// enough that a stopping speaker deletes the neighbor while the session
// is down, so the Cease that deletion sends is never sent.
const idleAfterReset = 5 // seconds

// restartTimeout bounds how long Stop waits for the resets to go out.
const restartTimeout = 2 * time.Second

// resetForRestart ends the established sessions of the graceful-restart
// neighbors as a restart should look to them: a Cease with the
// Administrative Reset subcode, which a neighbor that negotiated RFC
// 8538's N bit takes as a restart, keeping this PE's routes as stale. The
// Cease that deleting a neighbor sends (Peer De-configured) is one GoBGP
// turns into a Hard Reset, which flushes them; closeSessions then finds
// these sessions down and sends nothing. A neighbor without the N bit
// takes any NOTIFICATION as the end, so for it a stop is not a graceful
// restart, while a crash (kill -9) is.
func resetForRestart(ctx context.Context, srv *server.BgpServer, neighbors []Neighbor) error {
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	var errs []error
	var reset []string
	for _, n := range neighbors {
		if !n.GracefulRestart.Enabled {
			continue
		}
		addr := n.Address.String()
		if !established(ctx, srv, addr) {
			continue
		}
		if err := srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: addr, Communication: "peregrined restarting"}); err != nil {
			errs = append(errs, err)
			continue
		}
		reset = append(reset, addr)
	}
	for _, addr := range reset {
		for established(ctx, srv, addr) {
			select {
			case <-ctx.Done():
				return errors.Join(append(errs, ctx.Err())...)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return errors.Join(errs...)
}

// established reports whether the session with addr is established.
func established(ctx context.Context, srv *server.BgpServer, addr string) bool {
	up := false
	_ = srv.ListPeer(ctx, &api.ListPeerRequest{Address: addr}, func(p *api.Peer) {
		up = p.GetState().GetSessionState() == api.PeerState_ESTABLISHED
	})
	return up
}
