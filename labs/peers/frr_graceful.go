package peers

// Restarting FRR's bgpd as a crash would, and reading the graceful-restart
// state of its paths.
//
// `show bgp ipv4|ipv6 vpn json` lists every path under its RD and prefix;
// a path bgpd keeps for a restarting neighbor (RFC 4724's helper) carries
// "stale": true:
//
//	{"routes": {"routeDistinguishers": {"65000:11": {"10.2.0.0/24": [
//	   {"valid": true, "stale": true, "peerId": "10.255.0.2", ...}]}}}}

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
)

// Kill kills bgpd with SIGKILL, as a crash would: it sends no
// NOTIFICATION and its neighbors see their TCP connections closed. It
// returns once the process is gone.
func (f *FRR) Kill(ctx context.Context) error {
	if err := syscall.Kill(f.proc.Pid(), syscall.SIGKILL); err != nil {
		return fmt.Errorf("%s: kill: %w", f.name, err)
	}
	select {
	case <-f.proc.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: still running after SIGKILL: %w", f.name, ctx.Err())
	}
}

// Restart starts bgpd again after Kill, with the same bgpd.conf (routes
// added since StartFRR with AddRoute are not in it), and waits until
// vtysh answers.
func (f *FRR) Restart(ctx context.Context) error {
	if exited, _ := f.proc.Exited(); !exited {
		return fmt.Errorf("%s: restart while bgpd runs (pid %d)", f.name, f.proc.Pid())
	}
	return f.start(ctx)
}

// FRRPath is one path of bgpd's VPN table with its graceful-restart state.
type FRRPath struct {
	RD     string // normalised, as VPNRoute.RD
	Prefix netip.Prefix
	// Peer is the neighbor the path came from; invalid for bgpd's own.
	Peer  netip.Addr
	Valid bool
	Stale bool // kept for a restarting neighbor
}

func (p FRRPath) String() string {
	from := "self"
	if p.Peer.IsValid() {
		from = p.Peer.String()
	}
	s := fmt.Sprintf("%s:%s from %s", p.RD, p.Prefix, from)
	if p.Stale {
		s += " stale"
	}
	return s
}

// Paths returns every path of fam in bgpd's VPN table, sorted.
func (f *FRR) Paths(ctx context.Context, fam Family) ([]FRRPath, error) {
	afi, err := frrAFI(fam)
	if err != nil {
		return nil, err
	}
	out, err := f.Vtysh(ctx, "show bgp "+afi+" vpn json")
	if err != nil {
		return nil, err
	}
	return parseFRRPaths(out)
}

// parseFRRPaths reads a table listing (`show bgp ipv4|ipv6 vpn json`).
func parseFRRPaths(b []byte) ([]FRRPath, error) {
	var t frrTable
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("frr table json: %w", err)
	}
	var paths []FRRPath
	for rd, prefixes := range t.Routes.RDs {
		if _, err := splitAdmin(rd); err != nil {
			continue // "rd" is not the only key FRR puts here in every version
		}
		for p, raw := range prefixes {
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("frr table: rd %s: prefix %q: %w", rd, p, err)
			}
			var listed []struct {
				Valid  bool   `json:"valid"`
				Stale  bool   `json:"stale"`
				PeerID string `json:"peerId"`
			}
			if err := json.Unmarshal(raw, &listed); err != nil {
				return nil, fmt.Errorf("frr table: rd %s prefix %s: %w", rd, p, err)
			}
			for _, l := range listed {
				peer, _ := netip.ParseAddr(l.PeerID) // "(unspec)" for bgpd's own
				paths = append(paths, FRRPath{RD: normalizeAdmin(rd), Prefix: prefix.Masked(), Peer: peer.Unmap(), Valid: l.Valid, Stale: l.Stale})
			}
		}
	}
	slices.SortFunc(paths, func(a, b FRRPath) int { return strings.Compare(a.String(), b.String()) })
	return paths, nil
}
