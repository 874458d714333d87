package peers

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Family is a BGP address family the drivers speak.
type Family string

const (
	VPNv4 Family = "vpnv4" // AFI 1, SAFI 128 (RFC 4364)
	VPNv6 Family = "vpnv6" // AFI 2, SAFI 128 (RFC 4659)
)

// FamilyOf returns VPNv4 for an IPv4 prefix and VPNv6 otherwise.
func FamilyOf(p netip.Prefix) Family {
	if p.Addr().Is4() {
		return VPNv4
	}
	return VPNv6
}

// VPNRoute is one labelled VPN route, read from a peer's RIB or handed to a
// peer to originate.
type VPNRoute struct {
	RD     string       // route distinguisher, "65000:1" or "192.0.2.1:1"
	Prefix netip.Prefix // the customer prefix, without the RD
	Label  uint32       // the VPN label (bottom of stack); see the drivers for when a peer does not show it
	RTs    []string     // route targets, "65000:1", sorted

	// NextHop is the BGP next hop. An IPv4 next hop of a VPNv6 route
	// (carried as ::ffff:a.b.c.d, RFC 4659 section 3.2.1.2) is given
	// unmapped, as gobgp prints it, so that every peer reports the same
	// value. When originating, an invalid NextHop lets the daemon choose.
	NextHop netip.Addr

	Best  bool // the peer selected this path (read only)
	Local bool // the peer originated the route itself (read only)
}

// Family returns the route's address family.
func (r VPNRoute) Family() Family { return FamilyOf(r.Prefix) }

func (r VPNRoute) String() string {
	s := fmt.Sprintf("%s:%s label %d rt %s", r.RD, r.Prefix, r.Label, strings.Join(r.RTs, ","))
	if r.NextHop.IsValid() {
		s += " nh " + r.NextHop.String()
	}
	if r.Best {
		s += " best"
	}
	if r.Local {
		s += " local"
	}
	return s
}

// Neighbor is a BGP session as a peer reports it.
type Neighbor struct {
	Address  netip.Addr
	RemoteAS uint32
	State    string // RFC 4271 FSM state name: "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"
}

// Established is the State of a session that is up.
const Established = "Established"

// Speaker is what every driver offers a test.
type Speaker interface {
	// Name names the daemon and its node, for messages ("frr@rr").
	Name() string
	// VPNRoutes returns every path of the family in the peer's RIB.
	VPNRoutes(ctx context.Context, fam Family) ([]VPNRoute, error)
	// Neighbors returns the peer's BGP sessions.
	Neighbors(ctx context.Context) ([]Neighbor, error)
	// AddRoute originates r; DelRoute withdraws it (RD, prefix and label
	// identify it).
	AddRoute(ctx context.Context, r VPNRoute) error
	DelRoute(ctx context.Context, r VPNRoute) error
}

// NeighborConfig is one BGP session a driver configures; both VPN families
// are activated on it.
type NeighborConfig struct {
	Address  netip.Addr
	RemoteAS uint32
	// LocalAddress is the session's source address (FRR's update-source,
	// gobgp's transport local-address, BIRD's local); optional.
	LocalAddress netip.Addr
	// RRClient makes the neighbor a route-reflector client (iBGP only).
	RRClient bool
	// ExtendedNextHop offers RFC 8950's extended next hop, so that VPNv4
	// crosses an IPv6 session with IPv6 next hops: FRR's `capability
	// extended-nexthop`, BIRD's `extended next hop on` (and a vpn4 channel
	// on the IPv6 session). gobgpd always offers it.
	ExtendedNextHop bool
}

// Config is what every driver needs to know about its speaker.
type Config struct {
	RouterID  netip.Addr
	ASN       uint32
	Neighbors []NeighborConfig
	Routes    []VPNRoute // originated from the start
}

func (c Config) validate() error {
	if !c.RouterID.Is4() {
		return fmt.Errorf("router-id %v: want an IPv4 address", c.RouterID)
	}
	if c.ASN == 0 {
		return fmt.Errorf("asn: missing")
	}
	for i, n := range c.Neighbors {
		if !n.Address.IsValid() || n.RemoteAS == 0 {
			return fmt.Errorf("neighbors[%d]: address and remote AS are required", i)
		}
	}
	for i, r := range c.Routes {
		if err := checkRoute(r); err != nil {
			return fmt.Errorf("routes[%d]: %w", i, err)
		}
	}
	return nil
}

func checkRoute(r VPNRoute) error {
	if _, err := splitAdmin(r.RD); err != nil {
		return fmt.Errorf("route %v: rd: %w", r, err)
	}
	if !r.Prefix.IsValid() || r.Prefix != r.Prefix.Masked() {
		return fmt.Errorf("route %v: prefix must be valid and masked", r)
	}
	if r.Label < 16 || r.Label > 1<<20-1 {
		return fmt.Errorf("route %v: label %d outside 16..1048575", r, r.Label)
	}
	for _, rt := range r.RTs {
		if _, err := splitAdmin(rt); err != nil {
			return fmt.Errorf("route %v: rt: %w", r, err)
		}
	}
	return nil
}

// splitAdmin splits "ADMIN:NUMBER" (an RD or RT in text form) after
// normalising it.
func splitAdmin(s string) ([2]string, error) {
	admin, num, ok := strings.Cut(normalizeAdmin(s), ":")
	if !ok || admin == "" || num == "" {
		return [2]string{}, fmt.Errorf("%q: want ADMIN:NUMBER", s)
	}
	if _, err := strconv.ParseUint(num, 10, 32); err != nil {
		return [2]string{}, fmt.Errorf("%q: number: %w", s, err)
	}
	return [2]string{admin, num}, nil
}

// normalizeAdmin rewrites an RD or RT text so all peers agree: it drops an
// "RT:", "rt:" or "target:" prefix and turns an asdot administrator
// ("1.2:3", as gobgp prints four-octet ASNs) into asplain ("65538:3"). IPv4
// administrators ("192.0.2.1:3") are left alone.
func normalizeAdmin(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"RT:", "rt:", "target:"} {
		s = strings.TrimPrefix(s, p)
	}
	admin, num, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	if hi, lo, ok := strings.Cut(admin, "."); ok && !strings.Contains(lo, ".") {
		h, err1 := strconv.ParseUint(hi, 10, 16)
		l, err2 := strconv.ParseUint(lo, 10, 16)
		if err1 == nil && err2 == nil {
			return strconv.FormatUint(h<<16|l, 10) + ":" + num
		}
	}
	return admin + ":" + num
}

// normalizeRTs normalises and sorts rts; nil stays nil.
func normalizeRTs(rts []string) []string {
	if len(rts) == 0 {
		return nil
	}
	out := make([]string, len(rts))
	for i, rt := range rts {
		out[i] = normalizeAdmin(rt)
	}
	slices.Sort(out)
	return out
}

// unmapNextHop turns ::ffff:a.b.c.d into a.b.c.d; "::" and "0.0.0.0" (a
// locally originated path) become the invalid Addr.
func unmapNextHop(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a.Unmap()
}

// sortRoutes orders routes by RD, prefix and next hop, so that output and
// messages are stable.
func sortRoutes(routes []VPNRoute) {
	slices.SortStableFunc(routes, func(a, b VPNRoute) int {
		if c := strings.Compare(a.RD, b.RD); c != 0 {
			return c
		}
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
			return c
		}
		return a.NextHop.Compare(b.NextHop)
	})
}
