package peers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// `birdc show route table vpntab4 all` has no JSON form. Its text, one
// header line per path (the net is left blank for a net's second and later
// paths), then tab-indented next hops and attributes:
//
//	Table vpntab4:
//	65000:4 10.4.0.0/24  unicast [static_vpntab4 18:58:37.295] * (200)
//		via 10.0.1.3 on eC mpls 400
//		Type: static univ
//		BGP.ext_community: (rt, 65000, 4)
//	65000:1 10.1.0.0/24  unicast [peer0 18:58:42.235 from 10.0.1.1] * (100) [i]
//		via 10.0.1.1 on eC mpls 100
//		Type: BGP univ
//		BGP.next_hop: 10.0.1.1
//		BGP.ext_community: (rt, 65000, 1) (rt, 65000, 2)
//		BGP.mpls_label_stack: 100
//
// "*" marks the best path; "unreachable" replaces "unicast" when the next
// hop does not resolve. The label comes from BGP.mpls_label_stack (its last,
// bottom-of-stack entry), or for a static route from "mpls N" on its via
// line; the next hop from BGP.next_hop (first address: an IPv6 one may be
// followed by a link-local), else from the via line.
var (
	birdRouteHeader = regexp.MustCompile(`^(?:(\S+) (\S+)\s+|\s+)(unicast|unreachable|blackhole|prohibit)\s+\[(\S+)[^\]]*\](\s+\*)?`)
	birdVia         = regexp.MustCompile(`^\s+via (\S+)(?: on \S+)?(?: mpls ([0-9/]+))?`)
	birdRT          = regexp.MustCompile(`\(rt, ([^,]+), ([^)]+)\)`)
)

// VPNRoutes returns every path of fam in BIRD's VPN table.
func (b *BIRD) VPNRoutes(ctx context.Context, fam Family) ([]VPNRoute, error) {
	table := map[Family]string{VPNv4: "vpntab4", VPNv6: "vpntab6"}[fam]
	if table == "" {
		return nil, fmt.Errorf("family %q: want vpnv4 or vpnv6", fam)
	}
	out, err := b.Birdc(ctx, "show", "route", "table", table, "all")
	if err != nil {
		return nil, err
	}
	return parseBIRDRoutes(out)
}

func parseBIRDRoutes(text []byte) ([]VPNRoute, error) {
	var (
		routes   []VPNRoute
		cur      *VPNRoute // the path whose attributes follow
		net      [2]string // RD and prefix of the current net
		viaHop   netip.Addr
		viaLabel uint32
	)
	finish := func() {
		if cur == nil {
			return
		}
		if !cur.NextHop.IsValid() {
			cur.NextHop = viaHop
		}
		if cur.Label == 0 {
			cur.Label = viaLabel
		}
		cur.RTs = normalizeRTs(cur.RTs)
		routes = append(routes, *cur)
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := birdRouteHeader.FindStringSubmatch(line); m != nil {
			finish()
			if m[1] != "" {
				net = [2]string{m[1], m[2]}
			}
			if net[0] == "" {
				return nil, fmt.Errorf("bird routes line %d: path before any net: %q", n, line)
			}
			prefix, err := netip.ParsePrefix(net[1])
			if err != nil {
				return nil, fmt.Errorf("bird routes line %d: %w", n, err)
			}
			cur = &VPNRoute{RD: normalizeAdmin(net[0]), Prefix: prefix, Best: m[5] != ""}
			viaHop, viaLabel = netip.Addr{}, 0
			continue
		}
		if cur == nil || !strings.HasPrefix(line, "\t") {
			continue // banner, "Table ...:", blank lines
		}
		if m := birdVia.FindStringSubmatch(line); m != nil {
			viaHop = unmapNextHop(m[1])
			if m[2] != "" {
				stack := strings.Split(m[2], "/")
				l, err := strconv.ParseUint(stack[len(stack)-1], 10, 20)
				if err != nil {
					return nil, fmt.Errorf("bird routes line %d: label: %w", n, err)
				}
				viaLabel = uint32(l)
			}
			continue
		}
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "Type":
			cur.Local = !strings.HasPrefix(val, "BGP")
		case "BGP.next_hop":
			if f := strings.Fields(val); len(f) > 0 {
				cur.NextHop = unmapNextHop(f[0])
			}
		case "BGP.mpls_label_stack":
			f := strings.Fields(val)
			if len(f) == 0 {
				break
			}
			l, err := strconv.ParseUint(f[len(f)-1], 10, 20)
			if err != nil {
				return nil, fmt.Errorf("bird routes line %d: label stack %q: %w", n, val, err)
			}
			cur.Label = uint32(l)
		case "BGP.ext_community":
			for _, m := range birdRT.FindAllStringSubmatch(val, -1) {
				cur.RTs = append(cur.RTs, strings.TrimSpace(m[1])+":"+strings.TrimSpace(m[2]))
			}
		}
	}
	finish()
	sortRoutes(routes)
	return routes, sc.Err()
}

// Neighbors returns BIRD's BGP sessions, from `birdc show protocols all`:
//
//	peer0      BGP        ---        up     18:58:41.084  Established
//	  BGP state:          Established
//	    Neighbor address: 10.0.1.1
//	    Neighbor AS:      65000
//
// Other protocols (device, direct, static) are skipped.
func (b *BIRD) Neighbors(ctx context.Context) ([]Neighbor, error) {
	out, err := b.Birdc(ctx, "show", "protocols", "all")
	if err != nil {
		return nil, err
	}
	return parseBIRDProtocols(out)
}

func parseBIRDProtocols(text []byte) ([]Neighbor, error) {
	var (
		ns    []Neighbor
		cur   *Neighbor
		inBGP bool
	)
	flush := func() {
		if cur != nil && cur.Address.IsValid() {
			ns = append(ns, *cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != ' ' && line[0] != '\t' {
			// A protocol's header line (or the banner and column titles).
			flush()
			f := strings.Fields(line)
			inBGP = len(f) >= 2 && f[1] == "BGP"
			if inBGP {
				cur = &Neighbor{}
			}
			continue
		}
		if !inBGP || cur == nil {
			continue
		}
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "BGP state":
			cur.State = normalizeState(val)
		case "Neighbor address":
			a, err := netip.ParseAddr(strings.Fields(val + " x")[0])
			if err != nil {
				return nil, fmt.Errorf("bird protocols: neighbor address %q: %w", val, err)
			}
			cur.Address = a
		case "Neighbor AS":
			as, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bird protocols: neighbor AS %q: %w", val, err)
			}
			cur.RemoteAS = uint32(as)
		}
	}
	flush()
	slices.SortFunc(ns, func(a, b Neighbor) int { return a.Address.Compare(b.Address) })
	return ns, sc.Err()
}
