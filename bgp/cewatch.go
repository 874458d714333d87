package bgp

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// ceWatch follows one VRF's CE sessions through its GoBGP server's peer
// events: why a session is not Established (a neighborDiag of its own,
// which the server's logger feeds with its connect errors) and how often
// each session left Established (its flaps, for the metrics and the
// summary).
//
// GoBGP calls peerEvent on its watcher goroutine, one event after the
// other; the owner goroutine configures and reads. So the counts sit
// behind a mutex, as neighborDiag's do.
type ceWatch struct {
	diag *neighborDiag

	mu struct {
		sync.Mutex
		up    map[netip.Addr]bool   // Established, as last reported
		flaps map[netip.Addr]uint64 // transitions out of Established; keys are the configured CEs
	}
}

// newCEWatch returns the watch of a CE server. Its diag has no listener
// to miss: a CE server listens only where its passive CEs need it, and
// a passive CE it cannot accept is not run at all (its reason is
// CEReason's).
func newCEWatch(log *slog.Logger) *ceWatch {
	w := &ceWatch{diag: newNeighborDiag(log, nil)}
	w.mu.up = map[netip.Addr]bool{}
	w.mu.flaps = map[netip.Addr]uint64{}
	return w
}

// start registers the watch with srv; it ends with ctx.
func (w *ceWatch) start(ctx context.Context, srv *server.BgpServer) error {
	return srv.WatchEvent(ctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
		if p := r.GetPeer(); p != nil && p.Peer != nil {
			w.peerEvent(p.Peer)
		}
	})
}

// configure records a CE session added, or re-created by a reload that
// changed its neighbor. A re-created session keeps its count and its
// last state: the old session's fall from Established, which GoBGP
// reports once the old session is gone, is one flap. (The new session
// cannot overtake that report: GoBGP's first connect waits a second.)
func (w *ceWatch) configure(addr netip.Addr, passive bool) {
	addr = addr.Unmap()
	w.diag.configure(addr, passive)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.mu.flaps[addr]; !ok {
		w.mu.flaps[addr] = 0
	}
}

// remove forgets a CE session deleted from the configuration.
func (w *ceWatch) remove(addr netip.Addr) {
	addr = addr.Unmap()
	w.diag.remove(addr)
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.mu.up, addr)
	delete(w.mu.flaps, addr)
}

// peerEvent follows a session state change from GoBGP's peer watch.
func (w *ceWatch) peerEvent(p *api.Peer) {
	w.diag.peerEvent(p)
	addr, err := netip.ParseAddr(p.GetState().GetNeighborAddress())
	if err != nil {
		return
	}
	addr = addr.Unmap()
	established := p.GetState().GetSessionState() == api.PeerState_ESTABLISHED
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.mu.flaps[addr]; !ok {
		return // not configured (any more)
	}
	if w.mu.up[addr] && !established {
		w.mu.flaps[addr]++
	}
	w.mu.up[addr] = established
}

// flaps is how often the session to addr left Established since its CE
// was configured.
func (w *ceWatch) flaps(addr netip.Addr) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.flaps[addr.Unmap()]
}
