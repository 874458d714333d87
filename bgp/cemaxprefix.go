package bgp

import (
	"context"
	"net/netip"
	"reflect"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// watchPrefixLimit hands ceLimitReached every vrf CE session that GoBGP
// v3.37.0 closed over its prefix limit. GoBGP sends the Cease (subcode 1,
// RFC 4486) and holds the session in its own admin state PFX_CT, with no
// way out but a reset; this package turns that into an explicit
// admin-down, lifted after max-prefixes-restart (or by a reload that
// changes the neighbor).
//
// The trigger is GoBGP's report that the session left ESTABLISHED in
// PFX_CT, not its "prefix limit reached" warning: that warning comes
// before GoBGP's sender sets PFX_CT, so a DisablePeer sent on it could be
// taken by the still established session and then overwritten by PFX_CT
// (TestCEMaxPrefixes saw the session left in PFX_CT). GoBGP sets PFX_CT
// before it sends the Cease, and reports the session down only after, so
// by this report the admin state is final and DisablePeer reaches the
// idle session, which takes it.
func (s *Speaker) watchPrefixLimit(ctx context.Context, srv *server.BgpServer, vrf string) error {
	return srv.WatchEvent(ctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
		st := r.GetPeer().GetPeer().GetState()
		if st.GetAdminState() != api.PeerState_PFX_CT || st.GetSessionState() == api.PeerState_ESTABLISHED {
			return
		}
		if addr, err := netip.ParseAddr(st.GetNeighborAddress()); err == nil {
			s.hand(func() { s.ceLimitReached(vrf, addr) })
		}
	})
}

// hand runs f on the owner goroutine without waiting for it, for callers
// on GoBGP's goroutines, which must not block on an owner that may be
// waiting for GoBGP.
func (s *Speaker) hand(f func()) {
	go func() {
		select {
		case s.work <- f:
		case <-s.stop:
		}
	}()
}

// ceLimitReached keeps vrf's CE session to addr down after it exceeded
// max-prefixes: until the configuration changes it (restart 0), or for
// max-prefixes-restart, after which it is enabled again if its
// configuration is still the one that tripped.
func (s *Speaker) ceLimitReached(vrf string, addr netip.Addr) {
	cs := s.ces[vrf]
	if cs == nil {
		return
	}
	n, ok := cs.peers[addr.Unmap()]
	if !ok || n.MaxPrefixes == 0 {
		return
	}
	ctx := context.Background()
	if err := cs.srv.DisablePeer(ctx, &api.DisablePeerRequest{Address: addr.String(), Communication: "maximum number of prefixes reached"}); err != nil {
		s.log.Warn("CE session over max-prefixes not held down", "vrf", vrf, "neighbor", addr, "error", err)
		return
	}
	if n.MaxPrefixesRestart == 0 {
		s.log.Warn("CE session closed: max-prefixes reached; down until the configuration changes", "vrf", vrf, "neighbor", addr, "max-prefixes", n.MaxPrefixes)
		return
	}
	s.log.Warn("CE session closed: max-prefixes reached", "vrf", vrf, "neighbor", addr, "max-prefixes", n.MaxPrefixes, "restart-in", n.MaxPrefixesRestart)
	time.AfterFunc(n.MaxPrefixesRestart, func() {
		s.hand(func() {
			if s.ces[vrf] != cs || !reflect.DeepEqual(cs.peers[addr.Unmap()], n) {
				return // reconfigured meanwhile: setPeers re-created it
			}
			if err := cs.srv.EnablePeer(ctx, &api.EnablePeerRequest{Address: addr.String()}); err != nil {
				s.log.Warn("CE session not restarted", "vrf", vrf, "neighbor", addr, "error", err)
			}
		})
	})
}
