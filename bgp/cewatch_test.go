package bgp

import (
	"log/slog"
	"net/netip"
	"testing"

	api "github.com/osrg/gobgp/v3/api"
)

// TestCEWatchCountsFallsFromEstablished replays GoBGP peer events: only
// a fall from Established is a flap; a re-created session's late IDLE
// (GoBGP reports it once the old session is gone) counts once; a CE not
// configured, or removed, counts nothing.
func TestCEWatchCountsFallsFromEstablished(t *testing.T) {
	w := newCEWatch(slog.New(slog.DiscardHandler))
	ce, other := netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("10.1.0.3")
	event := func(addr netip.Addr, st api.PeerState_SessionState) {
		w.peerEvent(&api.Peer{Conf: &api.PeerConf{NeighborAddress: addr.String()},
			State: &api.PeerState{NeighborAddress: addr.String(), SessionState: st}})
	}
	w.configure(ce, false)
	for _, st := range []api.PeerState_SessionState{api.PeerState_ACTIVE, api.PeerState_OPENSENT, api.PeerState_ACTIVE,
		api.PeerState_OPENSENT, api.PeerState_OPENCONFIRM, api.PeerState_ESTABLISHED} {
		event(ce, st)
	}
	if n := w.flaps(ce); n != 0 {
		t.Fatalf("%d flaps before the session ever fell", n)
	}
	event(ce, api.PeerState_IDLE)
	event(ce, api.PeerState_ACTIVE)
	event(ce, api.PeerState_ESTABLISHED)
	if n := w.flaps(ce); n != 1 {
		t.Fatalf("%d flaps after one fall", n)
	}
	w.configure(ce, false) // a reload re-created it
	event(ce, api.PeerState_IDLE)
	event(ce, api.PeerState_ACTIVE)
	if n := w.flaps(ce); n != 2 {
		t.Errorf("%d flaps after the re-created session's old one fell, want 2", n)
	}
	event(other, api.PeerState_ESTABLISHED)
	event(other, api.PeerState_IDLE)
	if n := w.flaps(other); n != 0 {
		t.Errorf("a CE not configured has %d flaps", n)
	}
	w.remove(ce)
	event(ce, api.PeerState_ESTABLISHED)
	event(ce, api.PeerState_IDLE)
	if n := w.flaps(ce); n != 0 {
		t.Errorf("a removed CE has %d flaps", n)
	}
	if w.diag.capturing() {
		t.Error("the diag still watches for a down session after its CE was removed")
	}
}
