package bgp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// neighborDiag remembers why each neighbor that is not Established is not:
// the last error of GoBGP's own connection attempts (a session
// stuck in Active said nothing, and the cause, a refused connection, was
// only in GoBGP's debug log). It reads what GoBGP already does: no probe of
// our own reaches the neighbor.
//
// GoBGP logs a failed connect at debug level only, and asks the logger
// whether to bother; capturing tells it yes while some configured neighbor
// is down, so that the cost of GoBGP building its debug messages is paid
// only then, never on a healthy router's UPDATE path.
type neighborDiag struct {
	log *slog.Logger // the speaker's, for one line per change of reason
	// listen is where GoBGP listens (listenAddresses); nil for a server
	// that never listens (a VRF's CE server: the PE opens those
	// sessions), which has no listener to miss.
	listen []string

	// anyDown is len(up) < len(configured), kept beside them so that
	// GoBGP's GetLevel, asked on every UPDATE, takes no lock.
	anyDown atomic.Bool

	mu struct {
		sync.Mutex
		configured map[netip.Addr]bool // neighbor -> passive
		up         map[netip.Addr]bool // Established
		reasons    map[netip.Addr]string
	}
}

func newNeighborDiag(log *slog.Logger, listen []string) *neighborDiag {
	d := &neighborDiag{log: log, listen: listen}
	d.mu.configured = map[netip.Addr]bool{}
	d.mu.up = map[netip.Addr]bool{}
	d.mu.reasons = map[netip.Addr]string{}
	return d
}

// configure records a neighbor added (or re-added) to GoBGP.
func (d *neighborDiag) configure(addr netip.Addr, passive bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mu.configured[addr] = passive
	delete(d.mu.up, addr)
	delete(d.mu.reasons, addr)
	d.refresh()
}

// remove forgets a neighbor deleted from GoBGP.
func (d *neighborDiag) remove(addr netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.mu.configured, addr)
	delete(d.mu.up, addr)
	delete(d.mu.reasons, addr)
	d.refresh()
}

// capturing reports whether some configured neighbor is not Established.
func (d *neighborDiag) capturing() bool { return d.anyDown.Load() }

// refresh recomputes anyDown; d.mu is held.
func (d *neighborDiag) refresh() { d.anyDown.Store(len(d.mu.up) < len(d.mu.configured)) }

// peerEvent follows a session state change from GoBGP's peer watch.
func (d *neighborDiag) peerEvent(p *api.Peer) {
	addr, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
	if err != nil {
		return
	}
	addr = addr.Unmap()
	established := p.GetState().GetSessionState() == api.PeerState_ESTABLISHED
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.mu.configured[addr]; !ok {
		return
	}
	if established {
		d.mu.up[addr] = true
		delete(d.mu.reasons, addr)
	} else {
		delete(d.mu.up, addr)
	}
	d.refresh()
}

// gobgpDebug sees each GoBGP debug message; it keeps the error of a failed
// connection attempt ("failed to connect", Key: the neighbor, Error: the
// dial error) and logs the reason when it changes.
func (d *neighborDiag) gobgpDebug(msg string, fields gobgplog.Fields) {
	if msg != "failed to connect" {
		return
	}
	key, _ := fields["Key"].(string)
	err, _ := fields["Error"].(error)
	addr, perr := netip.ParseAddr(key)
	if perr != nil || err == nil {
		return
	}
	addr = addr.Unmap()
	reason := d.describe(addr, err)
	d.mu.Lock()
	_, known := d.mu.configured[addr]
	changed := known && !d.mu.up[addr] && d.mu.reasons[addr] != reason
	if changed {
		d.mu.reasons[addr] = reason
	}
	d.mu.Unlock()
	if changed {
		d.log.Warn("neighbor cannot connect", "neighbor", addr.String(), "reason", reason)
	}
}

// reason says why a neighbor is not Established, or "" if it is, or if
// nothing has been learnt yet.
func (d *neighborDiag) reason(addr netip.Addr) string {
	addr = addr.Unmap()
	d.mu.Lock()
	defer d.mu.Unlock()
	passive, known := d.mu.configured[addr]
	if !known || d.mu.up[addr] {
		return ""
	}
	if r := d.mu.reasons[addr]; r != "" {
		return r
	}
	if d.listen != nil && !listensFor(d.listen, addr) {
		return d.noListener(addr)
	}
	if passive {
		return "passive: waiting for the neighbor to connect"
	}
	return ""
}

func (d *neighborDiag) noListener(addr netip.Addr) string {
	return fmt.Sprintf("no %s listener here (listening on %v), so the neighbor cannot connect to us", familyOf(addr), d.listen)
}

// describe turns a dial error into what an operator can act on.
func (d *neighborDiag) describe(addr netip.Addr, err error) string {
	var why string
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused: nothing listens on the neighbor's BGP port for this address"
	case errors.Is(err, syscall.ENETUNREACH):
		why = "network unreachable: no route to the neighbor"
	case errors.Is(err, syscall.EHOSTUNREACH):
		why = "no route to host"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		why = "local address not available: local-address is not on this host"
	case errors.As(err, &ne) && ne.Timeout():
		why = "connect timed out: no answer (a firewall, the neighbor down, or a TCP MD5 password mismatch)"
	default:
		var se syscall.Errno
		if errors.As(err, &se) {
			why = se.Error()
		} else {
			why = err.Error()
		}
	}
	if d.listen != nil && !listensFor(d.listen, addr) {
		why += "; and " + d.noListener(addr)
	}
	return why
}

func familyOf(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// NeighborReason says why a configured neighbor's session is not
// Established (the last connect error, or that it is passive and waits),
// or "" when it is up or nothing is known yet. It is safe to call from any
// goroutine.
func (s *Speaker) NeighborReason(addr netip.Addr) string { return s.diag.reason(addr) }

// PeerReason says what is wrong with the session GoBGP describes as p:
// while it is not Established, why (NeighborReason); once it is, whether
// its VPNv4 routes cross without the extended next hop negotiation they
// need (extendedNextHopReason). "" when nothing is known to be wrong.
func (s *Speaker) PeerReason(p *api.Peer) string {
	addr, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
	if err != nil {
		return ""
	}
	if p.GetState().GetSessionState() != api.PeerState_ESTABLISHED {
		return s.diag.reason(addr)
	}
	return extendedNextHopReason(addr, p)
}

// extendedNextHopReason flags an IPv6 session carrying VPNv4 whose peer did
// not offer RFC 8950's extended next hop for VPNv4 (capability 5, AFI 1,
// SAFI 128, next hop AFI 2). Over an IPv6 session GoBGP v3.37.0 gives
// VPNv4 routes an IPv6 next hop all the same (rfc8950_test.go shows it on
// the wire), which such a peer may reject as a malformed UPDATE. Peregrine
// cannot change GoBGP's encoding, so it says so instead of hiding it.
func extendedNextHopReason(addr netip.Addr, p *api.Peer) string {
	if addr.Unmap().Is4() {
		return ""
	}
	caps, err := apiutil.UnmarshalCapabilities(p.GetState().GetRemoteCap())
	if err != nil {
		return ""
	}
	var vpnv4, enh bool
	for _, c := range caps {
		switch c := c.(type) {
		case *gobgp.CapMultiProtocol:
			vpnv4 = vpnv4 || c.CapValue == gobgp.RF_IPv4_VPN
		case *gobgp.CapExtendedNexthop:
			for _, t := range c.Tuples {
				enh = enh || (t.NLRIAFI == gobgp.AFI_IP && t.NLRISAFI == uint16(gobgp.SAFI_MPLS_VPN) && t.NexthopAFI == gobgp.AFI_IP6)
			}
		}
	}
	if !vpnv4 || enh {
		return ""
	}
	return "the neighbor did not offer RFC 8950 extended next hop for VPNv4, yet GoBGP sends it VPNv4 routes with IPv6 next hops over this IPv6 session; enable it there (FRR: neighbor X capability extended-nexthop; BIRD: extended next hop on) or carry VPNv4 over IPv4"
}
