package bgp

import (
	"context"
	"fmt"
	"reflect"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peregrine-net/peregrine/config"
)

// restartOnly refuses a reload that changes what GoBGP cannot change while
// running, naming the field.
func restartOnly(old, cfg *config.Config) error {
	switch {
	case old.Router != cfg.Router:
		return fmt.Errorf("router: changing router.id or router.asn needs a restart")
	case old.MPLS.LabelMin != cfg.MPLS.LabelMin || old.MPLS.LabelMax != cfg.MPLS.LabelMax:
		return fmt.Errorf("mpls: changing the label range needs a restart")
	case old.BGP.ListenAddress != cfg.BGP.ListenAddress || old.BGP.ListenPort != cfg.BGP.ListenPort:
		return fmt.Errorf("bgp: changing listen-address or listen-port needs a restart")
	case old.BGP.API != cfg.BGP.API || old.BGP.APIWrite != cfg.BGP.APIWrite || old.BGP.APIInsecureRemote != cfg.BGP.APIInsecureRemote:
		return fmt.Errorf("bgp: changing api, api-write or api-insecure-remote needs a restart")
	}
	return nil
}

// apply moves the speaker from s.cfg (nil at start) to cfg. It runs on the
// owner goroutine.
func (s *Speaker) apply(ctx context.Context, cfg *config.Config) error {
	var oldNeighbors []config.Neighbor
	var oldVRFs []config.VRF
	if s.cfg != nil {
		oldNeighbors, oldVRFs = s.cfg.BGP.Neighbors, s.cfg.VRFs
	}
	if err := s.applyNeighbors(ctx, oldNeighbors, cfg.BGP.Neighbors, cfg.Router.ID.String()); err != nil {
		return err
	}
	s.cfg = cfg

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
	return nil
}

// applyNeighbors adds new neighbors, deletes removed ones and re-creates
// changed ones; unchanged sessions stay up.
func (s *Speaker) applyNeighbors(ctx context.Context, old, want []config.Neighbor, routerID string) error {
	byAddr := map[string]config.Neighbor{}
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
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerFromConfig(n, routerID)}); err != nil {
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
