package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// closeSessionsTimeout bounds how long stopGoBGP waits for GoBGP to tear
// the sessions down; past it, StopBgp goes ahead regardless.
const closeSessionsTimeout = 5 * time.Second

// stopGoBGP closes srv's sessions (closeSessions), stops srv and makes
// it let go of its RIB (releaseRIB). Every GoBGP server this package
// runs, the Speaker's, the VRFs' CE servers and the tests' peers, is
// stopped through it once it may have a neighbor, never by StopBgp or
// Stop alone (a start that failed before adding any may call Stop).
// The error says what went wrong closing the sessions or releasing the
// RIB; srv is stopped regardless.
func stopGoBGP(srv *server.BgpServer) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeSessionsTimeout)
	err := closeSessions(ctx, srv)
	cancel()
	err = errors.Join(err, srv.StopBgp(context.Background(), &api.StopBgpRequest{}))
	err = errors.Join(err, releaseRIB(srv))
	srv.Stop()
	return err
}

// releaseRIB makes the stopped srv drop every path it holds.
//
// A stopped GoBGP server is never freed: GoBGP v3.37.0 never ends a
// server's Serve goroutine, which holds the server and so its RIB.
// Closing the sessions drops what the peers sent, but the paths added
// through the API (AddPath: the Speaker's originated VPN paths; a CE
// server's static, connected, imported and default prefixes) stay, and
// deleting them does not help: GoBGP keeps the destination of a deleted
// local path in its table, with the path in the destination's path
// slice beyond its length (Destination.Calculate frees a path's local
// identifier, without which Table.deleteDest keeps the destination, only
// for a path dropped with its peer). So a stopped Speaker kept about 860
// bytes a route in make bench-bgp-ce (issue 17), and each CE server that
// a reload removed or restarted (cepassive.go) kept every route it had
// sent its CEs (speakerleak_test.go).
//
// StartBgp builds a new, empty RIB in place of the old one, at once
// rather than a path at a time; it listens nowhere (port -1) and runs
// no session, as no neighbor is added. DeletePath of every local path,
// on that empty RIB, then empties the path UUIDs (BgpServer.uuidMap, one
// per AddPath), and StopBgp stops the server again. The ASN and router
// ID are placeholders: nothing runs under them.
//
// StartBgp also writes GoBGP's package-wide best-path options
// (table.SelectionOptions, table.UseMultiplePaths) while the process's
// other GoBGP servers may be reading them. Every StartBgp does, this
// package's own included, and every one writes the same values, the
// defaults (none of this package's servers sets them): each is a struct
// of bools, and under Go's memory model a read of a race on a word or
// less sees one of the values written, here all equal. The race
// detector reports the pairs all the same: this package's tests
// suppress them (testdata/race.supp), and race builds also leave this
// release out (releaseRIBs, ribrelease_race.go), so speakerleak_test.go
// runs without the detector.
func releaseRIB(srv *server.BgpServer) error {
	if !releaseRIBs {
		return nil
	}
	ctx := context.Background()
	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: releasedASN, RouterId: "0.0.0.0", ListenPort: -1}})
	if err != nil {
		return fmt.Errorf("releasing the RIB: %w", err)
	}
	err = srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL})
	if err != nil {
		err = fmt.Errorf("releasing the path UUIDs: %w", err)
	}
	return errors.Join(err, srv.StopBgp(ctx, &api.StopBgpRequest{}))
}

// releasedASN is the placeholder ASN of releaseRIB's empty restart
// (RFC 5398's documentation range).
const releasedASN = 64496

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
