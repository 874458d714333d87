package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	api "github.com/osrg/gobgp/v3/api"
)

// Connected is one connected prefix of a VRF's interface, as the
// daemon's interface watcher reports it (10.1.0.1/24 on ce1 gives
// 10.1.0.0/24 on ce1). The prefixes are exported beside the static
// routes; the interfaces are where CE sessions are bound.
type Connected struct {
	Interface string
	Prefix    netip.Prefix
}

// ceBinding says where the session to CE a of VRF v is bound: the VRF's
// kernel device (v.Device, the kernel backend), else the interface whose
// connected prefix holds a (the longest match). The PE's own TCP
// connection to a CE must be routed out of the CE's link, not by the main
// table: two VRFs may hold the same CE subnet on different interfaces,
// and the main table's route to a CE address may lead into the core.
//
// A CE whose address is on no connected prefix of the VRF gets no
// binding and a reason instead: its session is not run until an address
// of the VRF's interfaces holds it (the daemon checks the configuration
// the same way, config.Config.CheckCEOnLink), rather than connecting
// through whatever route the host has.
func ceBinding(v *VRF, conns []Connected, a netip.Addr) (bind, reason string) {
	best, bits := "", -1
	for _, c := range conns {
		if c.Prefix.Contains(a) && c.Prefix.Bits() > bits {
			best, bits = c.Interface, c.Prefix.Bits()
		}
	}
	if best == "" {
		have := "they have no addresses yet"
		if len(conns) > 0 {
			var subnets []string
			for _, c := range conns {
				subnets = append(subnets, c.Prefix.String()+" on "+c.Interface)
			}
			have = "they have " + strings.Join(subnets, ", ")
		}
		return "", fmt.Sprintf("not on link: %s is in no subnet of vrf %s's interfaces (%s); the session is not started", a, v.Name, have)
	}
	if v.Device != "" {
		return v.Device, ""
	}
	return best, ""
}

// prefixesOf drops the interface names, for export.
func prefixesOf(conns []Connected) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.Prefix)
	}
	return out
}

// CEReason says why the session with CE addr of VRF vrf is not run, or
// "" when it is (GoBGP's own session state then says how it is going):
// a CE on no connected prefix of the VRF (ceBinding), or a passive CE
// that the VRF's listener cannot accept (cepassive.go).
func (s *Speaker) CEReason(vrf string, addr netip.Addr) string {
	var r string
	_ = s.do(func() error {
		if cs := s.ces[vrf]; cs != nil {
			r = cs.offLink[addr.Unmap()]
		}
		return nil
	})
	return r
}

// notRun records why CE a of vrf is not run and stops its session if
// it ran (the address that held it went away, or the listener its
// passive session needs is not there: cepassive.go).
func (cs *ceServer) notRun(ctx context.Context, s *Speaker, vrf string, a netip.Addr, reason string) error {
	if cs.offLink[a] != reason {
		// Info: at start every CE waits for the interface watcher's
		// first report, and the daemon warns, naming the configuration
		// field, about a CE its addresses do not hold.
		s.log.Info("CE neighbor not started", "vrf", vrf, "neighbor", a, "reason", reason)
		cs.offLink[a] = reason
	}
	if _, running := cs.peers[a]; !running {
		return nil
	}
	if err := cs.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
		return fmt.Errorf("bgp: vrf %s CE %s: %w", vrf, a, err)
	}
	delete(cs.peers, a)
	delete(cs.bound, a)
	cs.watch.remove(a)
	return nil
}
