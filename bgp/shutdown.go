package bgp

import (
	"context"
	"errors"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// closeSessionsTimeout bounds how long stopGoBGP waits for GoBGP to tear
// the sessions down; past it, StopBgp goes ahead regardless.
const closeSessionsTimeout = 5 * time.Second

// stopGoBGP closes srv's sessions (closeSessions) and then stops srv. Every
// GoBGP server this package runs, the Speaker's, the VRFs' CE servers and
// the tests' peers, is stopped through it once it may have a neighbor,
// never by StopBgp or Stop alone (a start that failed before adding any
// may call Stop).
// The error says what went wrong closing the sessions; srv is stopped
// regardless.
func stopGoBGP(srv *server.BgpServer) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeSessionsTimeout)
	err := closeSessions(ctx, srv)
	cancel()
	err = errors.Join(err, srv.StopBgp(context.Background(), &api.StopBgpRequest{}))
	srv.Stop()
	return err
}

// closeSessions deletes every neighbor, which sends each established peer a
// Cease, and returns once GoBGP has torn those sessions down.
//
// StopBgp alone would do the deleting, but in the same step it clears
// GoBGP's global config, which a session still reading an UPDATE consults
// (a data race in GoBGP v3.37.0: StopBgp in server.go against
// recvMessageWithError in fsm.go, caught by -race). A deleted established
// session is reported IDLE only after its reader has returned, so waiting
// for that report puts StopBgp after the last read. A session caught in
// OpenSent is not waited for: GoBGP reports nothing when it goes.
func closeSessions(ctx context.Context, srv *server.BgpServer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan *api.WatchEventResponse_PeerEvent, 16)
	err := srv.WatchEvent(ctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
		if e := r.GetPeer(); e != nil {
			select {
			case events <- e:
			case <-ctx.Done():
			}
		}
	})
	if err != nil {
		return err
	}
	established := map[string]bool{} // by peerKey
	deleted := false
	for !deleted || anyTrue(established) {
		select {
		case e := <-events:
			if e.GetType() == api.WatchEventResponse_PeerEvent_END_OF_INIT {
				// The INIT events before this one named every neighbor.
				for addr := range established {
					if err := srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr}); err != nil {
						return err
					}
				}
				deleted = true
				continue
			}
			st := e.GetPeer().GetState()
			addr := peerKey(st.GetNeighborAddress())
			if _, known := established[addr]; known || !deleted {
				established[addr] = st.GetSessionState() == api.PeerState_ESTABLISHED
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// peerKey spells a neighbor address one way: GoBGP names a neighbor by its
// configured string in some events and by net.IP's String in others.
func peerKey(addr string) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		return a.Unmap().String()
	}
	return addr
}

func anyTrue(m map[string]bool) bool {
	for _, v := range m {
		if v {
			return true
		}
	}
	return false
}
