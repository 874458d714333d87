package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/peregrine-net/peregrine/bgp/vpn"
)

// Speaker is the PE's BGP: embedded GoBGP plus VRF origination and import.
type Speaker struct {
	log    *slog.Logger
	glog   *slogAdapter
	diag   *neighborDiag
	srv    *server.BgpServer
	events chan<- Event

	stale *staleGuard // graceful restart's stale-time (stale.go)
	// neighbors is the running configuration's, for Stop, which must not
	// wait for the owner goroutine (it may be blocked handing an event
	// to a consumer that is gone).
	neighbors atomic.Pointer[[]Neighbor]

	work   chan func()   // closures run on the owner goroutine
	best   chan watched  // best-path batches and peer changes from GoBGP's watcher (bestBacklog)
	ceBest chan ceBatch  // best unicast paths from the VRFs' CE servers
	stop   chan struct{} // closed by Stop
	done   chan struct{} // closed when run returns

	stopOnce sync.Once

	// Owned by the run goroutine.
	cfg       *Config
	imp       *importer
	hold      *grHold     // restarting neighbors' routes GoBGP dropped early (grhold.go)
	holdTimer *time.Timer // the earliest hold deadline
	org       *originator
	connected map[string][]netip.Prefix
	links     map[string][]Connected // connected, with interfaces, for CE sessions (cebind.go)
	ces       map[string]*ceServer   // VRF -> its CE sessions (cesession.go)
	// ceAttrs are the sendable attributes of the best VPN paths that a
	// VRF with CE sessions imports (ceexport.go).
	ceAttrs map[pathKey][]gobgp.PathAttributeInterface
	// listening are the neighbors configured to dial that only listen
	// since the start, by address (startlisten.go).
	listening map[string]Neighbor
}

// Start builds and starts the speaker from cfg. Events go to events, which
// the caller must drain. Stop ends it.
func Start(ctx context.Context, cfg *Config, log *slog.Logger, events chan<- Event) (*Speaker, error) {
	err := cfg.Labels.Validate()
	if err != nil {
		return nil, err
	}
	s := &Speaker{
		log:       log.With("component", "bgp"),
		glog:      newSlogAdapter(log),
		events:    events,
		work:      make(chan func()),
		best:      make(chan watched, bestBacklog),
		hold:      newGRHold(),
		ceBest:    make(chan ceBatch, ceBacklog),
		ces:       map[string]*ceServer{},
		ceAttrs:   map[pathKey][]gobgp.PathAttributeInterface{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		connected: map[string][]netip.Prefix{},
		links:     map[string][]Connected{},
	}
	s.glog.setSecrets(passwords(cfg))
	listen := listenAddresses(cfg.ListenAddress)
	s.diag = newNeighborDiag(s.log, listen)
	s.glog.diag = s.diag
	s.glog.falls = &gracefulFalls{}
	opts := []server.ServerOption{server.LoggerOption(s.glog)}
	var guard *apiGuard
	if cfg.API.IsValid() {
		if guard, err = prepareAPI(cfg.API, cfg.APIWrite); err != nil {
			return nil, err
		}
		opts = append(opts, server.GrpcListenAddress(cfg.API.String()), server.GrpcOption(guard.serverOptions()))
	}
	s.srv = server.NewBgpServer(opts...)
	s.stale = newStaleGuard(s.srv, s.log)
	go s.srv.Serve()
	if guard != nil {
		if err := probeAPI(ctx, cfg.API, guard); err != nil {
			s.srv.Stop()
			return nil, err
		}
	}

	port := int32(cfg.ListenPort)
	if port == 0 {
		port = -1 // GoBGP: do not listen
	}
	global := &api.Global{Asn: cfg.ASN, RouterId: cfg.RouterID.String(), ListenPort: port,
		ListenAddresses: listen}
	if err := s.srv.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		s.srv.Stop()
		return nil, fmt.Errorf("bgp: start: %w", err)
	}
	s.imp = newImporter(s.emit, s.remoteBest)
	s.org = newBookOriginator(s.srv, newLabelBook(cfg, s.log), s.emit)

	// One watcher for best paths, End-of-RIB and peers: the graceful
	// restart hold needs them in GoBGP's order (grholdwatch.go).
	watchCtx, cancelWatch := context.WithCancel(context.Background())
	peers := &peerWatch{s: s, up: map[netip.Addr]bool{}}
	send := func(w watched) {
		select {
		case s.best <- w:
		case <-watchCtx.Done():
		}
	}
	err = s.srv.WatchEvent(watchCtx, &api.WatchEventRequest{
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{
			{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true},
			{Type: api.WatchEventRequest_Table_Filter_EOR},
		}},
		Peer: &api.WatchEventRequest_Peer{},
	}, func(r *api.WatchEventResponse) {
		if t := r.GetTable(); t != nil && len(t.Paths) > 0 {
			send(watched{paths: t.Paths})
		}
		if p := r.GetPeer(); p != nil && p.Peer != nil {
			s.diag.peerEvent(p.Peer)
			s.stale.peerEvent(p.Peer)
			if c := peers.change(p.Peer); c != nil {
				send(watched{peer: c})
			}
		}
	})
	if err != nil {
		cancelWatch()
		s.srv.Stop()
		return nil, fmt.Errorf("bgp: watch: %w", err)
	}
	go s.run(cancelWatch)

	if err := s.do(func() error {
		if err := s.apply(ctx, cfg); err != nil {
			return err
		}
		s.scheduleEndListen(startListen)
		return nil
	}); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// bestBacklog is how many converted best-path batches may wait for the
// owner goroutine. Small on purpose: while the owner is busy, GoBGP's
// watcher queues its events as native paths, which the RIB holds anyway,
// whereas a batch converted for the API (protobuf Any attributes) is a
// copy, so a longer backlog only raises the import's peak heap
// (docs/ARCHITECTURE.md has the make bench-bgp figures).
const bestBacklog = 2

// ceBacklog is how many batches of CE paths may wait for the owner
// goroutine. Each wakeup takes in every batch waiting and then
// reconciles each VRF they touched once (ceUpdates), only the prefixes
// they changed (originator.syncCE), so that a CE's full table, which
// GoBGP hands over a few paths at a time, costs a few label-book flushes
// rather than one per batch.
const ceBacklog = 1024

// run is the owner goroutine.
func (s *Speaker) run(cancelWatch context.CancelFunc) {
	defer close(s.done)
	defer cancelWatch()
	defer s.stopCE()
	defer func() {
		if s.holdTimer != nil {
			s.holdTimer.Stop()
		}
	}()
	var rts []vpn.RT // decodePath's scratch: the importer keeps no path
	for {
		select {
		case <-s.stop:
			return
		case f := <-s.work:
			f()
		case b := <-s.ceBest:
			s.ceUpdates(context.Background(), b)
		case w := <-s.best:
			if w.peer != nil {
				s.holdPeer(w.peer)
				continue
			}
			for _, p := range w.paths {
				if isVPN, v6, eor := isEndOfRIB(p); eor {
					if isVPN {
						s.holdEndOfRIB(p, v6)
					}
					continue
				}
				vp, err := decodePath(p, rts)
				if vp.rts != nil {
					rts = vp.rts[:0]
				}
				if errors.Is(err, errNotVPN) {
					continue
				}
				if err != nil {
					s.log.Warn("undecodable best path skipped", "error", err)
					continue
				}
				if s.holdBack(p, vp) {
					continue
				}
				s.importPath(p, vp)
			}
		}
	}
}

// importPath takes one best VPN path (p may be nil for a withdrawal) into
// the VRFs and, where a VRF has CE sessions, to its CEs.
func (s *Speaker) importPath(p *api.Path, vp vpnPath) {
	if len(s.ces) == 0 {
		s.imp.update(vp)
		return
	}
	s.ceNote(p, vp)
	s.imp.update(vp)
	for vrf := range s.ces {
		if err := s.ceSend(context.Background(), vrf, vp.key.prefix); err != nil {
			s.log.Warn("CE routes not sent", "vrf", vrf, "error", err)
		}
	}
}

// do runs f on the owner goroutine and returns its error.
func (s *Speaker) do(f func() error) error {
	errc := make(chan error, 1)
	select {
	case s.work <- func() { errc <- f() }:
	case <-s.done:
		return errors.New("bgp: speaker stopped")
	}
	return <-errc
}

// emit hands an event to the forwarding plane. It blocks while the consumer
// is busy, which holds back GoBGP's watcher rather than dropping a change.
func (s *Speaker) emit(e Event) {
	if s.log.Enabled(context.Background(), slog.LevelDebug) { // String allocates; a million routes make a million events
		s.log.Debug("event", "event", e.String())
	}
	select {
	case s.events <- e:
	case <-s.stop:
	}
}

// Stop closes every session and stops GoBGP: those of graceful-restart
// neighbors as a restart (resetForRestart), the others with a Cease.
func (s *Speaker) Stop() {
	if ns := s.neighbors.Load(); ns != nil {
		if err := resetForRestart(context.Background(), s.srv, *ns); err != nil {
			s.log.Warn("stop: graceful-restart resets", "error", err)
		}
	}
	if err := stopGoBGP(s.srv); err != nil {
		s.log.Warn("stop: closing sessions", "error", err)
	}
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	s.stale.stop()
	s.org.book.close()
}

// Reload applies a new configuration: neighbors, VRFs and route targets are
// added, changed or removed; sessions whose neighbor did not change are not
// touched. Changing router.id, router.asn, the label range or the listen
// address needs a restart, and such a reload is refused whole.
func (s *Speaker) Reload(ctx context.Context, cfg *Config) error {
	return s.do(func() error {
		if err := restartOnly(s.cfg, cfg); err != nil {
			return err
		}
		s.glog.setSecrets(append(passwords(s.cfg), passwords(cfg)...))
		return s.apply(ctx, cfg)
	})
}

// SetConnected replaces the connected prefixes of a VRF's interfaces,
// which it exports alongside its static routes and binds the VRF's CE
// sessions to (cebind.go).
func (s *Speaker) SetConnected(ctx context.Context, vrf string, conns []Connected) error {
	return s.do(func() error {
		prefixes := prefixesOf(conns)
		old := s.connected[vrf]
		s.connected[vrf] = prefixes
		s.links[vrf] = conns
		for i := range s.cfg.VRFs {
			if v := &s.cfg.VRFs[i]; v.Name == vrf {
				if err := s.org.sync(ctx, vrf, v, prefixes); err != nil {
					return err
				}
				if restarted, err := s.ceRelisten(ctx, v); err != nil || restarted {
					return err
				}
				return s.ceSendChanged(ctx, vrf, old, prefixes)
			}
		}
		return nil
	})
}

// VRFRoutes returns the routes a VRF imported, sorted by prefix; ok is false
// for an unknown VRF.
func (s *Speaker) VRFRoutes(vrf string) (routes []Route, ok bool, err error) {
	err = s.do(func() error {
		routes, ok = s.imp.routes(vrf)
		return nil
	})
	return routes, ok, err
}

// VRFRouteCounts returns how many routes each VRF has imported and how
// many it originates, by name, in one turn of the speaker's goroutine:
// asking VRFRouteCount and LocalRoutes for each of 2,000 VRFs was 4,000
// hand-overs per `show vrf` or metrics scrape (issue 23).
func (s *Speaker) VRFRouteCounts() (imported, local map[string]int, err error) {
	err = s.do(func() error {
		imported = make(map[string]int, len(s.imp.vrfs))
		for name, v := range s.imp.vrfs {
			imported[name] = v.table.len()
		}
		local = make(map[string]int, len(s.org.adverts))
		for name, a := range s.org.adverts {
			local[name] = len(a)
		}
		return nil
	})
	return imported, local, err
}

// LocalRoutes returns the prefixes a VRF originates, with their labels.
func (s *Speaker) LocalRoutes(vrf string) (routes []Route, err error) {
	err = s.do(func() error {
		routes = s.org.routes(vrf)
		return nil
	})
	return routes, err
}

// Config returns the running configuration. Callers must not modify it.
func (s *Speaker) Config() (cfg *Config) {
	_ = s.do(func() error { cfg = s.cfg; return nil })
	return cfg
}

// Server exposes the embedded GoBGP server for read-only queries (ListPeer,
// ListPath) by the daemon's API.
func (s *Speaker) Server() *server.BgpServer { return s.srv }

func passwords(cfg *Config) []string {
	if cfg == nil {
		return nil
	}
	var out []string
	for _, n := range cfg.Neighbors {
		out = append(out, n.Password.Reveal())
	}
	for _, v := range cfg.VRFs {
		for _, n := range v.Neighbors {
			out = append(out, n.Password.Reveal())
		}
	}
	return out
}

// remoteBest lists the remote best VPN paths in GoBGP's RIB, VPNv4 and
// VPNv6, for the importer's re-evaluation of a VRF whose import targets
// changed. It runs on the owner goroutine; GoBGP answers from its own.
func (s *Speaker) remoteBest() []vpnPath {
	var out []vpnPath
	for _, afi := range []api.Family_Afi{api.Family_AFI_IP, api.Family_AFI_IP6} {
		err := s.srv.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL,
			Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_MPLS_VPN}, EnableFiltered: false}, func(d *api.Destination) {
			for _, p := range d.Paths {
				if !p.Best {
					continue
				}
				vp, err := decodePath(p, nil) // kept in out
				if err != nil || vp.local {
					continue
				}
				out = append(out, vp)
			}
		})
		if err != nil {
			s.log.Warn("listing best paths to re-import", "error", err)
		}
	}
	return out
}
