package bgp

import (
	"context"
	"net/netip"
	"reflect"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// gobgpPrefixLimitReached is the warning GoBGP v3.37.0 logs (peer.go)
// when a session exceeds its prefix limit, just before it sends the Cease
// (subcode 1, RFC 4486) and goes idle. GoBGP then holds the session in
// its own admin state PFX_CT, with no way out but a reset; this package
// turns that into an explicit admin-down, lifted after
// max-prefixes-restart (or by a reload that changes the neighbor).
const gobgpPrefixLimitReached = "prefix limit reached"

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
