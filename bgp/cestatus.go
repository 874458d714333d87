package bgp

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	api "github.com/osrg/gobgp/v3/api"
)

// CENeighborStatus is a CE session's state as the local API and the
// metrics show it: what NeighborStatus says of a global neighbor, with
// its VRF and its flaps.
type CENeighborStatus struct {
	VRF string
	NeighborStatus
	// Flaps counts the session's falls from Established since its CE was
	// configured. A reload that changes the CE re-creates its session,
	// and that counts; one that leaves it unchanged does not.
	Flaps uint64
}

// CENeighbors returns the CE sessions of vrf in address order; ok is
// false for an unknown VRF, and a VRF without CE sessions has none. The
// prefix counts include those sent (GoBGP walks the Adj-RIB-Out of each
// CE for them; a CE's table is the customer's, small beside the VPN's).
func (s *Speaker) CENeighbors(ctx context.Context, vrf string) (ns []CENeighborStatus, ok bool, err error) {
	err = s.do(func() error {
		if s.cfg.vrf(vrf) == nil {
			return nil
		}
		ok = true
		ns, err = s.ceNeighbors(ctx, vrf)
		return err
	})
	return ns, ok, err
}

// AllCENeighbors returns the CE sessions of every VRF, by VRF name and
// address.
func (s *Speaker) AllCENeighbors(ctx context.Context) (ns []CENeighborStatus, err error) {
	err = s.do(func() error {
		for _, vrf := range slices.Sorted(maps.Keys(s.ces)) {
			vs, err := s.ceNeighbors(ctx, vrf)
			if err != nil {
				return err
			}
			ns = append(ns, vs...)
		}
		return nil
	})
	return ns, err
}

// ceNeighbors reads vrf's CE sessions from its server. It runs on the
// owner goroutine, which alone may stop that server.
func (s *Speaker) ceNeighbors(ctx context.Context, vrf string) ([]CENeighborStatus, error) {
	cs := s.ces[vrf]
	if cs == nil {
		return nil, nil
	}
	var out []CENeighborStatus
	err := cs.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		n := CENeighborStatus{VRF: vrf, NeighborStatus: peerStatus(p)}
		n.Address = n.Address.Unmap()
		n.Reason = cs.reason(p, cs.peers[n.Address])
		n.Flaps = cs.watch.flaps(n.Address)
		out = append(out, n)
	})
	if err != nil {
		return nil, fmt.Errorf("bgp: vrf %s: list CE sessions: %w", vrf, err)
	}
	// A CE on no connected prefix has no session in the server
	// (cebind.go); it is listed, idle, with why.
	for a, why := range cs.offLink {
		n := CENeighborStatus{VRF: vrf, NeighborStatus: NeighborStatus{Address: a, State: "idle", Reason: why}}
		if v := s.cfg.vrf(vrf); v != nil {
			for _, c := range v.Neighbors {
				if c.Address.Unmap() == a {
					n.ASN, n.Description = c.ASN, c.Description
				}
			}
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b CENeighborStatus) int { return a.Address.Compare(b.Address) })
	return out, nil
}

// reason says why the CE session p, configured as n, is not Established:
// held down over max-prefixes (cemaxprefix.go), or the last error of its
// connection attempts; "" once it is, or when nothing is known.
func (cs *ceServer) reason(p *api.Peer, n CENeighbor) string {
	st := p.GetState()
	if st.GetSessionState() == api.PeerState_ESTABLISHED {
		return ""
	}
	switch st.GetAdminState() {
	case api.PeerState_PFX_CT, api.PeerState_DOWN:
		switch {
		case n.MaxPrefixes == 0:
			return "administratively down"
		case n.MaxPrefixesRestart == 0:
			return fmt.Sprintf("sent more than max-prefixes %d: held down until the configuration changes", n.MaxPrefixes)
		default:
			return fmt.Sprintf("sent more than max-prefixes %d: held down for max-prefixes-restart %s at a time", n.MaxPrefixes, n.MaxPrefixesRestart)
		}
	}
	addr, _ := netip.ParseAddr(p.GetConf().GetNeighborAddress())
	return cs.watch.diag.reason(addr)
}
