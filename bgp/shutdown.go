package bgp

import (
	"context"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
)

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
func (s *Speaker) closeSessions(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan *api.WatchEventResponse_PeerEvent, 16)
	err := s.srv.WatchEvent(ctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
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
					if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr}); err != nil {
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
