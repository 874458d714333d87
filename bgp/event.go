package bgp

import (
	"fmt"
	"net/netip"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// EventKind says what changed.
type EventKind uint8

const (
	// RouteAdd installs or replaces VRF's route to Prefix: send to the
	// remote PE NextHop with VPN label Label.
	RouteAdd EventKind = iota + 1
	// RouteDel removes VRF's imported route to Prefix.
	RouteDel
	// LabelAdd binds local label Label: pop it and look up in VRF (per-VRF
	// mode), or forward to Prefix's CE (per-prefix mode, Prefix set).
	LabelAdd
	// LabelDel releases local label Label.
	LabelDel
	// CERouteAdd installs or replaces VRF's route to Prefix learned from
	// a CE: forward to NextHop, the CE's address, resolved on the VRF's
	// interface whose connected prefix holds it.
	CERouteAdd
	// CERouteDel removes VRF's CE-learned route to Prefix: the CE
	// withdrew it, its session went down, or the neighbor or the VRF was
	// removed.
	CERouteDel
)

func (k EventKind) String() string {
	switch k {
	case RouteAdd:
		return "route-add"
	case RouteDel:
		return "route-del"
	case LabelAdd:
		return "label-add"
	case LabelDel:
		return "label-del"
	case CERouteAdd:
		return "ce-route-add"
	case CERouteDel:
		return "ce-route-del"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is one change for the forwarding plane. Events for one VRF prefix
// arrive in order; a RouteAdd for a prefix already present replaces it.
type Event struct {
	Kind   EventKind
	VRF    string
	Prefix netip.Prefix
	// NextHop is, for RouteAdd, the remote PE and, for CERouteAdd, the
	// CE (IPv4-mapped next hops are unmapped).
	NextHop netip.Addr
	Label   mpls.Label
	RD      vpn.RD // RouteAdd: the RD of the VPN path it came from
}

func (e Event) String() string {
	switch e.Kind {
	case RouteAdd:
		return fmt.Sprintf("%s vrf %s %s via %s label %d (rd %s)", e.Kind, e.VRF, e.Prefix, e.NextHop, uint32(e.Label), e.RD)
	case CERouteAdd:
		return fmt.Sprintf("%s vrf %s %s via %s", e.Kind, e.VRF, e.Prefix, e.NextHop)
	case RouteDel, CERouteDel:
		return fmt.Sprintf("%s vrf %s %s", e.Kind, e.VRF, e.Prefix)
	default:
		if e.Prefix.IsValid() {
			return fmt.Sprintf("%s %d vrf %s prefix %s", e.Kind, uint32(e.Label), e.VRF, e.Prefix)
		}
		return fmt.Sprintf("%s %d vrf %s", e.Kind, uint32(e.Label), e.VRF)
	}
}
