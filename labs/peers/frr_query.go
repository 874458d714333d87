package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// FRR's table listing, `show bgp ipv4|ipv6 vpn json`, names every path but
// omits labels and communities:
//
//	{"routerId": "10.0.0.1", ...,
//	 "routes": {"routeDistinguishers": {"65000:1": {"10.1.0.0/24": [{...}]}}}}
//
// so VPNRoutes reads it for the (RD, prefix) pairs, then asks for each one
// in a single vtysh run, `show bgp ipv4 vpn rd RD PREFIX json`, which prints
// one JSON object per command:
//
//	{"65000:2": {"prefix": "10.2.0.0/24", "paths": [{
//	   "valid": true, "bestpath": {"overall": true},
//	   "extendedCommunity": {"string": "RT:65000:2 RT:65000:99"},
//	   "remoteLabel": 200,
//	   "nexthops": [{"ip": "10.0.0.2", "afi": "ipv4", "used": true}],
//	   "peer": {"peerId": "10.0.0.2"}}]}}
//
// A path FRR originated itself ("local": true) has no "remoteLabel": its
// Label reads 0. VPNv6 paths learnt over IPv4 sessions have next hops like
// "::ffff:a00:2", given unmapped.
type frrTable struct {
	Routes struct {
		RDs map[string]map[string]json.RawMessage `json:"routeDistinguishers"`
	} `json:"routes"`
}

type frrPrefix struct {
	Prefix string    `json:"prefix"`
	Paths  []frrPath `json:"paths"`
}

type frrPath struct {
	Valid    bool `json:"valid"`
	Local    bool `json:"local"`
	Bestpath struct {
		Overall bool `json:"overall"`
	} `json:"bestpath"`
	ExtendedCommunity struct {
		String string `json:"string"`
	} `json:"extendedCommunity"`
	RemoteLabel *uint32 `json:"remoteLabel"`
	Nexthops    []struct {
		IP   string `json:"ip"`
		Used bool   `json:"used"`
	} `json:"nexthops"`
}

// VPNRoutes returns every path of fam in bgpd's RIB.
func (f *FRR) VPNRoutes(ctx context.Context, fam Family) ([]VPNRoute, error) {
	afi, err := frrAFI(fam)
	if err != nil {
		return nil, err
	}
	out, err := f.Vtysh(ctx, "show bgp "+afi+" vpn json")
	if err != nil {
		return nil, err
	}
	keys, err := parseFRRTable(out)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	listed, err := parseFRRTableNextHops(out)
	if err != nil {
		return nil, err
	}
	cmds := make([]string, len(keys))
	for i, k := range keys {
		cmds[i] = fmt.Sprintf("show bgp %s vpn rd %s %s json", afi, k[0], k[1])
	}
	if out, err = f.Vtysh(ctx, cmds...); err != nil {
		return nil, err
	}
	routes, err := parseFRRPrefixes(out)
	if err != nil {
		return nil, err
	}
	fillFRRNextHops(routes, listed)
	return routes, nil
}

// parseFRRTableNextHops returns, per "RD PREFIX", the next hops of a table
// listing's paths (the used one of each path), as FRR lists them.
//
// FRR 8.4 prints a VPNv4 path's IPv6 next hop (RFC 8950) as "0.0.0.0",
// afi ipv4, in the per-prefix detail, but right in the table listing:
//
//	"65000:11": {"10.1.0.0/24": [{..., "nexthops": [{"ip": "fd00:c1::1", "afi": "ipv6", "used": true}]}]}
func parseFRRTableNextHops(b []byte) (map[string][]netip.Addr, error) {
	var t struct {
		Routes struct {
			RDs map[string]map[string]json.RawMessage `json:"routeDistinguishers"`
		} `json:"routes"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("frr table json: %w", err)
	}
	out := map[string][]netip.Addr{}
	for rd, prefixes := range t.Routes.RDs {
		for p, raw := range prefixes {
			var paths []struct {
				Nexthops []struct {
					IP   string `json:"ip"`
					Used bool   `json:"used"`
				} `json:"nexthops"`
			}
			if json.Unmarshal(raw, &paths) != nil {
				continue
			}
			for _, path := range paths {
				var nh netip.Addr
				for _, n := range path.Nexthops {
					if !nh.IsValid() || n.Used {
						nh = unmapNextHop(n.IP)
					}
				}
				out[normalizeAdmin(rd)+" "+p] = append(out[normalizeAdmin(rd)+" "+p], nh)
			}
		}
	}
	return out, nil
}

// fillFRRNextHops gives a route whose detail had no next hop the table
// listing's, when the listing has one path for its RD and prefix (with
// several, which is which cannot be told, and the route keeps none).
func fillFRRNextHops(routes []VPNRoute, listed map[string][]netip.Addr) {
	for i := range routes {
		r := &routes[i]
		if nhs := listed[r.RD+" "+r.Prefix.String()]; !r.NextHop.IsValid() && len(nhs) == 1 {
			r.NextHop = nhs[0]
		}
	}
}

func frrAFI(fam Family) (string, error) {
	switch fam {
	case VPNv4:
		return "ipv4", nil
	case VPNv6:
		return "ipv6", nil
	}
	return "", fmt.Errorf("family %q: want vpnv4 or vpnv6", fam)
}

// parseFRRTable returns the (RD, prefix) pairs of a table listing, sorted.
func parseFRRTable(b []byte) ([][2]string, error) {
	var t frrTable
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("frr table json: %w", err)
	}
	var keys [][2]string
	for rd, prefixes := range t.Routes.RDs {
		for p := range prefixes {
			keys = append(keys, [2]string{rd, p})
		}
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1])
	})
	return keys, nil
}

// parseFRRPrefixes reads the concatenated per-prefix JSON objects.
func parseFRRPrefixes(b []byte) ([]VPNRoute, error) {
	var routes []VPNRoute
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var obj map[string]json.RawMessage
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			sortRoutes(routes)
			return routes, nil
		}
		if err != nil {
			return nil, fmt.Errorf("frr prefix json: %w", err)
		}
		for rd, raw := range obj {
			var p frrPrefix
			if json.Unmarshal(raw, &p) != nil || p.Prefix == "" {
				continue // not an RD entry
			}
			prefix, err := netip.ParsePrefix(p.Prefix)
			if err != nil {
				return nil, fmt.Errorf("frr prefix json: rd %s: %w", rd, err)
			}
			for _, path := range p.Paths {
				r := VPNRoute{
					RD:     normalizeAdmin(rd),
					Prefix: prefix,
					Best:   path.Bestpath.Overall,
					Local:  path.Local,
				}
				if path.RemoteLabel != nil {
					r.Label = *path.RemoteLabel
				}
				for _, c := range strings.Fields(path.ExtendedCommunity.String) {
					if strings.HasPrefix(c, "RT:") {
						r.RTs = append(r.RTs, c)
					}
				}
				r.RTs = normalizeRTs(r.RTs)
				for _, nh := range path.Nexthops {
					if !r.NextHop.IsValid() || nh.Used {
						r.NextHop = unmapNextHop(nh.IP)
					}
				}
				routes = append(routes, r)
			}
		}
	}
}

// Neighbors returns bgpd's sessions, from `show bgp neighbors json`:
//
//	{"10.0.0.2": {"remoteAs": 65000, "bgpState": "Established", ...}}
func (f *FRR) Neighbors(ctx context.Context) ([]Neighbor, error) {
	out, err := f.Vtysh(ctx, "show bgp neighbors json")
	if err != nil {
		return nil, err
	}
	return parseFRRNeighbors(out)
}

func parseFRRNeighbors(b []byte) ([]Neighbor, error) {
	var m map[string]struct {
		RemoteAs uint32 `json:"remoteAs"`
		BgpState string `json:"bgpState"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("frr neighbors json: %w", err)
	}
	var ns []Neighbor
	for k, v := range m {
		a, err := netip.ParseAddr(k)
		if err != nil {
			continue // a peer-group or an interface name
		}
		ns = append(ns, Neighbor{Address: a, RemoteAS: v.RemoteAs, State: normalizeState(v.BgpState)})
	}
	slices.SortFunc(ns, func(a, b Neighbor) int { return a.Address.Compare(b.Address) })
	return ns, nil
}
