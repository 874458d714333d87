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
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// neighborDiag remembers why each neighbor that is not Established is not:
// the last error of GoBGP's own connection attempts (issue 24: a session
// stuck in Active said nothing, and the cause, a refused connection, was
// only in GoBGP's debug log). It reads what GoBGP already does: no probe of
// our own reaches the neighbor.
//
// GoBGP logs a failed connect at debug level only, and asks the logger
// whether to bother; capturing tells it yes while some configured neighbor
// is down, so that the cost of GoBGP building its debug messages is paid
// only then, never on a healthy router's UPDATE path.
type neighborDiag struct {
	log    *slog.Logger // the speaker's, for one line per change of reason
	listen []string     // where GoBGP listens (listenAddresses)

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
	if !listensFor(d.listen, addr) {
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
	if !listensFor(d.listen, addr) {
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
