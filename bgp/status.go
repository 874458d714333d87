package bgp

import (
	"context"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// NeighborStatus is a neighbor's session as the local API and the metrics
// show it, read from GoBGP.
type NeighborStatus struct {
	Address     netip.Addr
	ASN         uint32
	Description string
	// State is idle, connect, active, opensent, openconfirm, established
	// or unknown.
	State string
	// Reason says why a session is not established, or what is wrong
	// with one that is (PeerReason); empty when there is nothing to say.
	Reason string
	// Uptime is how long the session has been established (0 if not).
	Uptime time.Duration
	// Families are the prefix counts of the families named in the
	// configuration (ipv4, ipv6, vpnv4, vpnv6).
	Families []FamilyCount
}

// FamilyCount is one address family's prefix counts with a neighbor.
type FamilyCount struct {
	Name                     string // ipv4, ipv6, vpnv4, vpnv6
	Received, Accepted, Sent uint64
}

var sessionStates = map[api.PeerState_SessionState]string{
	api.PeerState_IDLE: "idle", api.PeerState_CONNECT: "connect", api.PeerState_ACTIVE: "active",
	api.PeerState_OPENSENT: "opensent", api.PeerState_OPENCONFIRM: "openconfirm", api.PeerState_ESTABLISHED: "established",
}

// Neighbors returns every neighbor's session. countSent counts the
// prefixes sent to each (GoBGP walks its Adj-RIB-Out for that); without
// it Sent is 0.
func (s *Speaker) Neighbors(ctx context.Context, countSent bool) ([]NeighborStatus, error) {
	var out []NeighborStatus
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: countSent}, func(p *api.Peer) {
		n := peerStatus(p)
		n.Reason = s.PeerReason(p)
		out = append(out, n)
	})
	return out, err
}

// peerStatus is what GoBGP says of the session p, without a reason.
func peerStatus(p *api.Peer) NeighborStatus {
	n := NeighborStatus{Description: p.GetConf().GetDescription(), ASN: p.GetConf().GetPeerAsn(), State: "unknown"}
	n.Address, _ = netip.ParseAddr(p.GetConf().GetNeighborAddress())
	st := p.GetState().GetSessionState()
	if name, ok := sessionStates[st]; ok {
		n.State = name
	}
	if up := p.GetTimers().GetState().GetUptime(); st == api.PeerState_ESTABLISHED && up != nil {
		n.Uptime = time.Since(up.AsTime()).Truncate(time.Second)
	}
	n.Families = familyCounts(p)
	return n
}

// familyCounts returns the prefix counts of a peer's families that have a
// name in the configuration (families, neighbor.go).
func familyCounts(p *api.Peer) []FamilyCount {
	var out []FamilyCount
	eor := countsEndOfRIB(p)
	for _, af := range p.GetAfiSafis() {
		f := af.GetConfig().GetFamily()
		name := familyName(f)
		if name == "" {
			continue
		}
		st := af.GetState()
		sent := st.GetAdvertised()
		if eor && sent > 0 {
			sent--
		}
		out = append(out, FamilyCount{Name: name, Received: st.GetReceived(), Accepted: st.GetAccepted(), Sent: sent})
	}
	return out
}

// countsEndOfRIB reports whether GoBGP's advertised count for p includes
// an End-of-RIB marker per family: it appends one to the paths it counts
// whenever graceful restart is on at both ends (BgpServer.getBestFromLocal,
// v3.37.0), so that a PE sending two VPNv4 routes showed three.
func countsEndOfRIB(p *api.Peer) bool {
	if !p.GetGracefulRestart().GetEnabled() {
		return false
	}
	caps, err := apiutil.UnmarshalCapabilities(p.GetState().GetRemoteCap())
	if err != nil {
		return false
	}
	for _, c := range caps {
		if c.Code() == gobgp.BGP_CAP_GRACEFUL_RESTART {
			return true
		}
	}
	return false
}

func familyName(f *api.Family) string {
	for name, g := range families {
		if g.GetAfi() == f.GetAfi() && g.GetSafi() == f.GetSafi() {
			return name
		}
	}
	return ""
}
