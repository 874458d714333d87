package bgp

import (
	"context"
	"fmt"
	"reflect"

	api "github.com/osrg/gobgp/v3/api"
)

// apply moves the speaker from s.cfg (nil at start) to cfg. It runs on the
// owner goroutine.
func (s *Speaker) apply(ctx context.Context, cfg *Config) error {
	if err := CheckRunnable(cfg); err != nil {
		return fmt.Errorf("bgp: %w", err)
	}
	var oldNeighbors []Neighbor
	var oldVRFs []VRF
	if s.cfg != nil {
		oldNeighbors, oldVRFs = s.cfg.Neighbors, s.cfg.VRFs
	}
	// Holds of neighbors that go or change end before GoBGP drops their
	// routes (grhold.go).
	s.flushHeld(s.hold.configure(oldNeighbors, cfg.Neighbors))
	s.armHold()
	if err := s.applyNeighbors(ctx, oldNeighbors, cfg.Neighbors, cfg.RouterID.String()); err != nil {
		return err
	}
	s.stale.configure(cfg.Neighbors)
	s.neighbors.Store(&cfg.Neighbors)
	s.cfg = cfg

	// One listing of GoBGP's best paths serves every VRF this apply
	// adds or retargets: each listing walks the whole RIB, so one per
	// VRF made bring-up quadratic (issue 23). org.sync below adds only
	// local paths, which the importer leaves out, and a remote path
	// that changes meanwhile has its event queued behind this apply.
	list := s.imp.remote
	var listed []vpnPath
	once := false
	s.imp.remote = func() []vpnPath {
		if !once {
			listed, once = list(), true
		}
		return listed
	}
	defer func() { s.imp.remote = list }()
	s.org.bindAhead(cfg.VRFs, s.connected)
	keep := map[string]bool{}
	for i := range cfg.VRFs {
		v := &cfg.VRFs[i]
		keep[v.Name] = true
		s.imp.setVRF(v.Name, v.ImportTargets)
		if err := s.org.sync(ctx, v.Name, v, s.connected[v.Name]); err != nil {
			return err
		}
	}
	for _, v := range oldVRFs {
		if keep[v.Name] {
			continue
		}
		s.imp.removeVRF(v.Name)
		if err := s.org.sync(ctx, v.Name, nil, nil); err != nil {
			return err
		}
		delete(s.connected, v.Name)
		s.log.Info("vrf removed", "vrf", v.Name)
	}
	return s.applyCE(ctx, cfg)
}

// applyNeighbors adds new neighbors, deletes removed ones and re-creates
// changed ones; unchanged sessions stay up.
func (s *Speaker) applyNeighbors(ctx context.Context, old, want []Neighbor, routerID string) error {
	byAddr := map[string]Neighbor{}
	for _, n := range old {
		byAddr[n.Address.String()] = n
	}
	seen := map[string]bool{}
	for _, n := range want {
		addr := n.Address.String()
		seen[addr] = true
		prev, existed := byAddr[addr]
		if existed && reflect.DeepEqual(prev, n) {
			continue
		}
		if existed {
			if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr}); err != nil {
				return fmt.Errorf("bgp: neighbor %s: %w", addr, err)
			}
		}
		delete(s.listening, addr) // added as configured from now on
		p := peerFromConfig(n, routerID)
		s.listenFirst(n, p)
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: p}); err != nil {
			return fmt.Errorf("bgp: neighbor %s: %w", addr, err)
		}
		s.diag.configure(n.Address.Unmap(), n.Passive)
		s.log.Info("neighbor configured", "neighbor", addr, "asn", n.ASN, "families", n.Families, "replaced", existed)
	}
	for addr := range byAddr {
		if !seen[addr] {
			if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr}); err != nil {
				return fmt.Errorf("bgp: neighbor %s: %w", addr, err)
			}
			s.diag.remove(byAddr[addr].Address.Unmap())
			s.log.Info("neighbor removed", "neighbor", addr)
		}
	}
	return nil
}
