package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// `gobgp -j global rib -a vpnv4` prints a map from "RD:PREFIX" to paths:
//
//	{"65000:1:10.1.0.0/24": [{
//	   "nlri": {"prefix": "10.1.0.0/24", "labels": [100],
//	            "rd": {"type": 0, "admin": 65000, "assigned": 1}},
//	   "best": true,
//	   "attrs": [{"type": 1, "value": 0},
//	             {"type": 16, "value": [{"type": 0, "subtype": 2, "value": "65000:1"}]},
//	             {"type": 14, "nexthop": "10.0.0.1", "afi": 1, "safi": 128, "value": [...]}],
//	   "source-id": "10.0.0.1", "neighbor-ip": "10.0.0.1"}]}
//
// The RD is the key less ":PREFIX" (the "rd" object's admin is a number or
// an address string by type). Extended communities of type 0x00-0x02 and
// subtype 0x02 are route targets; gobgp prints four-octet ASNs in asdot
// ("1.2:3"), normalised to asplain. Locally originated paths have no
// "neighbor-ip" and an unspecified next hop ("0.0.0.0" or "::"). VPNv6 next
// hops from IPv4 sessions are already unmapped ("10.0.0.1").
type gobgpPath struct {
	NLRI struct {
		Prefix string   `json:"prefix"`
		Labels []uint32 `json:"labels"`
	} `json:"nlri"`
	Best       bool        `json:"best"`
	Attrs      []gobgpAttr `json:"attrs"`
	NeighborIP string      `json:"neighbor-ip"`
}

type gobgpAttr struct {
	Type    int             `json:"type"`
	Nexthop string          `json:"nexthop"` // types 3 (NEXT_HOP) and 14 (MP_REACH_NLRI)
	Value   json.RawMessage `json:"value"`   // type 16: extended communities
}

const (
	attrNextHop        = 3
	attrMPReach        = 14
	attrExtCommunities = 16
)

// VPNRoutes returns every path of fam in gobgpd's global RIB.
func (g *GoBGP) VPNRoutes(ctx context.Context, fam Family) ([]VPNRoute, error) {
	if fam != VPNv4 && fam != VPNv6 {
		return nil, fmt.Errorf("family %q: want vpnv4 or vpnv6", fam)
	}
	out, err := g.CLI(ctx, "-j", "global", "rib", "-a", string(fam))
	if err != nil {
		return nil, err
	}
	return parseGoBGPRib(out)
}

func parseGoBGPRib(b []byte) ([]VPNRoute, error) {
	var rib map[string][]gobgpPath
	if err := json.Unmarshal(b, &rib); err != nil {
		return nil, fmt.Errorf("gobgp rib json: %w", err)
	}
	var routes []VPNRoute
	for key, paths := range rib {
		for _, p := range paths {
			prefix, err := netip.ParsePrefix(p.NLRI.Prefix)
			if err != nil {
				return nil, fmt.Errorf("gobgp rib json: %q: %w", key, err)
			}
			rd, ok := strings.CutSuffix(key, ":"+p.NLRI.Prefix)
			if !ok {
				return nil, fmt.Errorf("gobgp rib json: key %q does not end in its prefix %s", key, p.NLRI.Prefix)
			}
			r := VPNRoute{RD: normalizeAdmin(rd), Prefix: prefix, Best: p.Best, Local: p.NeighborIP == ""}
			if len(p.NLRI.Labels) > 0 {
				r.Label = p.NLRI.Labels[len(p.NLRI.Labels)-1] // bottom of stack
			}
			for _, a := range p.Attrs {
				switch a.Type {
				case attrNextHop, attrMPReach:
					r.NextHop = unmapNextHop(a.Nexthop)
				case attrExtCommunities:
					var ecs []struct {
						Type    int    `json:"type"`
						Subtype int    `json:"subtype"`
						Value   string `json:"value"`
					}
					if err := json.Unmarshal(a.Value, &ecs); err != nil {
						return nil, fmt.Errorf("gobgp rib json: %q: extended communities: %w", key, err)
					}
					for _, ec := range ecs {
						if ec.Type <= 2 && ec.Subtype == 2 {
							r.RTs = append(r.RTs, ec.Value)
						}
					}
				}
			}
			r.RTs = normalizeRTs(r.RTs)
			routes = append(routes, r)
		}
	}
	sortRoutes(routes)
	return routes, nil
}

// gobgpStates are gobgp's PeerState.SessionState values (api/gobgp.proto).
var gobgpStates = []string{"Unknown", "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", Established}

// Neighbors returns gobgpd's sessions, from `gobgp -j neighbor`:
//
//	[{"conf": {"neighbor_address": "10.0.0.1", "peer_asn": 65000},
//	  "state": {"session_state": 6, ...}, ...}]
func (g *GoBGP) Neighbors(ctx context.Context) ([]Neighbor, error) {
	out, err := g.CLI(ctx, "-j", "neighbor")
	if err != nil {
		return nil, err
	}
	return parseGoBGPNeighbors(out)
}

func parseGoBGPNeighbors(b []byte) ([]Neighbor, error) {
	var peers []struct {
		Conf struct {
			NeighborAddress string `json:"neighbor_address"`
			PeerASN         uint32 `json:"peer_asn"`
		} `json:"conf"`
		State struct {
			SessionState int `json:"session_state"`
		} `json:"state"`
	}
	if err := json.Unmarshal(b, &peers); err != nil {
		return nil, fmt.Errorf("gobgp neighbor json: %w", err)
	}
	var ns []Neighbor
	for _, p := range peers {
		a, err := netip.ParseAddr(p.Conf.NeighborAddress)
		if err != nil {
			return nil, fmt.Errorf("gobgp neighbor json: %w", err)
		}
		state := fmt.Sprintf("state %d", p.State.SessionState)
		if s := p.State.SessionState; s >= 0 && s < len(gobgpStates) {
			state = gobgpStates[s]
		}
		ns = append(ns, Neighbor{Address: a, RemoteAS: p.Conf.PeerASN, State: state})
	}
	slices.SortFunc(ns, func(a, b Neighbor) int { return a.Address.Compare(b.Address) })
	return ns, nil
}
