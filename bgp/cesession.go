package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"slices"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// ceServer runs one VRF's CE sessions in a GoBGP server of its own, so
// that its sessions can hold no other VRF's routes and two VRFs may each
// have a CE at one address (see the package doc). It carries IPv4 and
// IPv6 unicast only. Owned by the Speaker's run goroutine.
type ceServer struct {
	srv         *server.BgpServer
	glog        *slogAdapter
	cancelWatch context.CancelFunc
	watch       *ceWatch // session reasons and flaps (cewatch.go)
	peers       map[netip.Addr]CENeighbor
	bound       map[netip.Addr]string   // where each running session is bound (cebind.go)
	offLink     map[netip.Addr]string   // CEs not run: why (cebind.go)
	sent        map[netip.Prefix]string // own paths injected for the CEs: prefix -> attrsKey
	// open is where the server listens for its passive CEs; want is
	// where they last needed it to, and listenErr why that did not
	// open (cepassive.go).
	open, want ceListen
	listenErr  error
	retryArmed bool // a retry of the listener is scheduled (ceListenRetry)
	// asn is this PE's; policyAssigned is set once the global import and
	// export assignments name the CE policies (cepolicy.go).
	asn            uint32
	policyAssigned bool
}

// ceBatch is a batch of best unicast paths from one VRF's CE server.
type ceBatch struct {
	vrf   string
	paths []*api.Path
}

// applyCE starts, changes and stops the VRFs' CE servers to match cfg. It
// runs on the owner goroutine, after the VRFs themselves are applied.
func (s *Speaker) applyCE(ctx context.Context, cfg *Config) error {
	keep := map[string]bool{}
	for i := range cfg.VRFs {
		v := &cfg.VRFs[i]
		if len(v.Neighbors) == 0 {
			continue
		}
		keep[v.Name] = true
		cs, err := s.ceServerFor(ctx, cfg, v)
		if err != nil {
			return err
		}
		cs.glog.setSecrets(passwords(cfg))
		if err := cs.setPeers(ctx, s, v); err != nil {
			return err
		}
		if err := s.ceResync(ctx, v.Name); err != nil {
			return err
		}
	}
	for name := range s.ces {
		if !keep[name] {
			if err := s.dropCEServer(ctx, cfg, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// ceServerFor returns v's CE server, starting it if v has none yet, and
// restarting it when the listener v's passive CEs need is not the one it
// has (cepassive.go says why it cannot be changed in place). A listener
// that would not open restarts nothing: the server runs on with what it
// has, and the passive CEs that need the rest are not run.
func (s *Speaker) ceServerFor(ctx context.Context, cfg *Config, v *VRF) (*ceServer, error) {
	want, _ := ceListenFor(v, s.links[v.Name], cfg.ListenPort)
	cs := s.ces[v.Name]
	if cs != nil && cs.open == want {
		cs.want, cs.listenErr = want, nil
		return cs, nil
	}
	var probeErr error
	if want != (ceListen{}) {
		var old ceListen
		if cs != nil {
			old = cs.open
		}
		probeErr = probeCEListen(ctx, newListenersOf(want, old))
	}
	if probeErr != nil && (cs == nil || cs.want != want || cs.listenErr == nil || cs.listenErr.Error() != probeErr.Error()) {
		s.log.Warn("CE listener not opened", "vrf", v.Name, "listen", want.String(), "error", probeErr)
	}
	if cs != nil && probeErr != nil {
		cs.want, cs.listenErr = want, probeErr
		s.armCEListenRetry(v.Name, cs)
		return cs, nil
	}
	if cs != nil {
		s.log.Info("CE sessions restarted: the listener for passive CEs changed", "vrf", v.Name, "from", cs.open, "to", want)
		cs.stop(s.log.With("vrf", v.Name))
		delete(s.ces, v.Name)
	}
	open := want
	if probeErr != nil {
		open = ceListen{}
	}
	started, err := s.startCEServer(ctx, v.Name, cfg, open)
	if cs != nil {
		// The old server's routes are withdrawn only now: withdrawing
		// sets the core's GoBGP propagating, and GoBGP v3.37.0's
		// StartBgp writes package-level selection options that
		// propagation reads (same values, but a data race).
		if werr := s.withdrawCE(ctx, cfg, v.Name); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return nil, err
	}
	started.open, started.want, started.listenErr = open, want, probeErr
	s.ces[v.Name] = started
	if probeErr != nil {
		s.armCEListenRetry(v.Name, started)
	}
	return started, nil
}

// dropCEServer stops the CE server of VRF name and withdraws its CEs'
// routes, from the VPN and from the forwarding plane.
func (s *Speaker) dropCEServer(ctx context.Context, cfg *Config, name string) error {
	cs := s.ces[name]
	if cs == nil {
		return nil
	}
	cs.stop(s.log.With("vrf", name))
	delete(s.ces, name)
	if len(s.ces) == 0 {
		clear(s.ceAttrs)
	}
	return s.withdrawCE(ctx, cfg, name)
}

// withdrawCE withdraws the routes of VRF name's CEs, whose server is
// gone, from the VPN and from the forwarding plane.
func (s *Speaker) withdrawCE(ctx context.Context, cfg *Config, name string) error {
	for p := range s.org.ce[name] {
		s.org.unsetCE(name, p)
	}
	if v := cfg.vrf(name); v != nil {
		return s.org.sync(ctx, name, v, s.connected[name])
	}
	return nil
}

func (c *Config) vrf(name string) *VRF {
	for i := range c.VRFs {
		if c.VRFs[i].Name == name {
			return &c.VRFs[i]
		}
	}
	return nil
}

// startCEServer starts vrf's CE server, listening where l says (nowhere
// for the zero ceListen: this PE then opens every session).
func (s *Speaker) startCEServer(ctx context.Context, vrf string, cfg *Config, l ceListen) (*ceServer, error) {
	glog := newSlogAdapter(s.log.With("vrf", vrf))
	glog.setSecrets(passwords(cfg))
	watch := newCEWatch(s.log.With("vrf", vrf))
	glog.diag = watch.diag
	srv := server.NewBgpServer(server.LoggerOption(glog))
	go srv.Serve()
	global := &api.Global{Asn: cfg.ASN, RouterId: cfg.RouterID.String(), ListenPort: -1}
	if l != (ceListen{}) {
		global.ListenAddresses, global.ListenPort, global.BindToDevice = l.addresses(), int32(l.port), l.device
	}
	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: global})
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("bgp: vrf %s: start CE sessions: %w", vrf, err)
	}
	watchCtx, cancel := context.WithCancel(context.Background())
	err = srv.WatchEvent(watchCtx, &api.WatchEventRequest{Table: &api.WatchEventRequest_Table{
		Filters: []*api.WatchEventRequest_Table_Filter{{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true}},
	}}, func(r *api.WatchEventResponse) {
		if t := r.GetTable(); t != nil && len(t.Paths) > 0 {
			select {
			case s.ceBest <- ceBatch{vrf: vrf, paths: t.Paths}:
			case <-watchCtx.Done():
			}
		}
	})
	if err == nil {
		err = s.watchPrefixLimit(watchCtx, srv, vrf)
	}
	if err == nil {
		err = watch.start(watchCtx, srv)
	}
	if err != nil {
		cancel()
		srv.Stop()
		return nil, fmt.Errorf("bgp: vrf %s: watch CE sessions: %w", vrf, err)
	}
	if l != (ceListen{}) {
		s.log.Info("CE sessions started", "vrf", vrf, "listen", l.String())
	} else {
		s.log.Info("CE sessions started", "vrf", vrf)
	}
	return &ceServer{srv: srv, glog: glog, cancelWatch: cancel, watch: watch, peers: map[netip.Addr]CENeighbor{},
		bound: map[netip.Addr]string{}, offLink: map[netip.Addr]string{}, sent: map[netip.Prefix]string{}, asn: cfg.ASN}, nil
}

// setPeers adds, re-creates and removes v's CE sessions; unchanged
// sessions stay up.
func (cs *ceServer) setPeers(ctx context.Context, s *Speaker, v *VRF) error {
	if err := cs.setPolicy(ctx, v); err != nil {
		return err
	}
	want := map[netip.Addr]bool{}
	_, split := ceListenFor(v, s.links[v.Name], cs.want.port)
	for _, n := range v.Neighbors {
		a := n.Address.Unmap()
		want[a] = true
		prev, existed := cs.peers[a]
		bind, offLink := ceBinding(v, s.links[v.Name], a)
		if offLink == "" && n.Passive {
			offLink = cs.passiveReason(v.Name, n, bind, split)
		}
		if offLink != "" {
			if err := cs.notRun(ctx, s, v.Name, a, offLink); err != nil {
				return err
			}
			continue
		}
		delete(cs.offLink, a)
		if existed && reflect.DeepEqual(prev, n) && cs.bound[a] == bind {
			continue
		}
		if existed && cs.bound[a] == bind && importOnly(prev, n) {
			if err := cs.softResetIn(ctx, a); err != nil {
				return fmt.Errorf("bgp: vrf %s CE %s: %w", v.Name, a, err)
			}
			cs.peers[a] = n
			s.log.Info("CE neighbor import-prefixes changed", "vrf", v.Name, "neighbor", a)
			continue
		}
		if existed {
			if err := cs.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
				return fmt.Errorf("bgp: vrf %s CE %s: %w", v.Name, a, err)
			}
		}
		// Watched before GoBGP has it, so that no state change of the
		// session goes uncounted.
		cs.watch.configure(a, n.Passive)
		if err := cs.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: cePeer(n, bind)}); err != nil {
			cs.watch.remove(a)
			return fmt.Errorf("bgp: vrf %s CE %s: %w", v.Name, a, err)
		}
		cs.peers[a], cs.bound[a] = n, bind
		s.log.Info("CE neighbor configured", "vrf", v.Name, "neighbor", a, "asn", n.ASN, "families", n.Families, "bound-to", bind, "replaced", existed)
	}
	for a := range cs.peers {
		if want[a] {
			continue
		}
		if err := cs.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
			return fmt.Errorf("bgp: vrf %s CE %s: %w", v.Name, a, err)
		}
		delete(cs.peers, a)
		cs.watch.remove(a)
		delete(cs.bound, a)
		s.log.Info("CE neighbor removed", "vrf", v.Name, "neighbor", a)
	}
	for a := range cs.offLink {
		if !want[a] {
			delete(cs.offLink, a)
		}
	}
	return nil
}

// stop closes the CE sessions and stops the server; the watcher goes first
// so that it does not wait on an owner busy stopping.
func (cs *ceServer) stop(log *slog.Logger) {
	cs.cancelWatch()
	if err := stopGoBGP(cs.srv); err != nil {
		log.Warn("stop CE sessions", "error", err)
	}
}

// ceUpdates takes b and every batch already waiting behind it into the
// originator, then reconciles the prefixes they changed, each VRF once.
func (s *Speaker) ceUpdates(ctx context.Context, b ceBatch) {
	touched := map[string]bool{}
	// At most a backlog's worth per wakeup, so that a CE flapping
	// without pause still gets its routes exported and API calls answered.
	for n := 1; ; n++ {
		if s.ceTake(b) {
			touched[b.vrf] = true
		}
		if n == ceBacklog {
			break
		}
		var more bool
		select {
		case b, more = <-s.ceBest:
		default:
		}
		if !more {
			break
		}
	}
	for _, vrf := range slices.Sorted(maps.Keys(touched)) {
		v := s.cfg.vrf(vrf)
		if v == nil {
			continue
		}
		if err := s.org.syncCE(ctx, vrf, v); err != nil {
			s.log.Warn("CE routes not exported", "vrf", vrf, "error", err)
		}
	}
}

// ceTake takes a batch of a VRF's best unicast paths into the
// originator's CE routes, to be exported by the VRF's next syncCE: a CE's
// path is exported, and a withdrawn one, or one whose best path is no
// longer a CE's, is withdrawn. It reports false for a batch of a VRF
// whose CE sessions were removed while the batch waited.
func (s *Speaker) ceTake(b ceBatch) bool {
	cs, v := s.ces[b.vrf], s.cfg.vrf(b.vrf)
	if cs == nil || v == nil {
		return false
	}
	for _, p := range b.paths {
		nlri, err := apiutil.GetNativeNlri(p)
		if err != nil {
			s.log.Warn("undecodable CE path skipped", "vrf", b.vrf, "error", err)
			continue
		}
		prefix, err := netip.ParsePrefix(nlri.String())
		if err != nil {
			continue // not unicast: the CE server negotiates nothing else
		}
		from, _ := netip.ParseAddr(p.NeighborIp)
		n, fromCE := cs.peers[from.Unmap()]
		if p.IsWithdraw || !fromCE {
			s.org.unsetCE(b.vrf, prefix)
			continue
		}
		c, err := s.org.carried.get(p, n.SiteOfOrigin)
		if err != nil {
			s.log.Warn("CE path not exported", "vrf", b.vrf, "neighbor", from, "prefix", prefix, "error", err)
			s.org.unsetCE(b.vrf, prefix)
			continue
		}
		s.org.setCE(b.vrf, ceRoute{prefix: prefix.Masked(), nextHop: n.Address.Unmap(), ceCarried: c})
	}
	return true
}

// stopCE stops every VRF's CE server.
func (s *Speaker) stopCE() {
	for name, cs := range s.ces {
		cs.stop(s.log.With("vrf", name))
		delete(s.ces, name)
	}
}
