package bgp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Passive CE sessions: the CE connects, this PE accepts.
//
// A VRF with a passive CE has its CE server listen on this PE's address
// on the CE's link (the neighbor's local-address), on bgp.listen-port,
// with the listener bound (SO_BINDTODEVICE) to the CE's interface, or to
// the VRF's device with the kernel backend (ceBinding). The kernel hands
// such a listener only connections that arrived on that device, so red's
// listener and blue's may both be on 10.1.0.1:179, each on its own link,
// and each takes only its own CE's connection. GoBGP then accepts a
// connection only from an address configured as a neighbor of that
// server (server.go handleIncomingConnection: anything else is closed;
// the CE servers have no dynamic neighbors), so an unconfigured source
// is refused and a session can only land in the VRF whose link it came
// in by.
//
// What was measured, in a network namespace with veth pairs (SO_REUSEADDR
// set, as Go sets it): a listener bound to a device on the wildcard
// address beside the core's unbound wildcard listener on the same port
// fails with EADDRINUSE (TestCEPassiveBindConflict), and so does one on
// a specific address; with the core on a specific address
// (bgp.listen-address), a listener on the PE's CE-facing address bound to
// the CE's interface binds, and another VRF's listener on that same
// address bound to its own interface binds too (TestCEPassiveListeners).
// Hence the rules cePassiveRunnable enforces: a passive CE needs
// local-address, bgp.listen-address set (the core then also no longer
// listens on the CE-facing addresses, where under the userspace backend
// it accepts a CE's connection in the PE's own stack:
// labs/interop TestE2ECECoreWildcardTakesCEConnections) and not equal to
// the local-address, and a listen port.
//
// GoBGP v3.37.0 creates a server's listeners once, in StartBgp, with one
// BindToDevice for all of them, and offers no way to hand it a connection
// accepted elsewhere (its accept channel and peer.PassConn are
// unexported), so Peregrine cannot run an accept loop of its own. So:
//
//   - a VRF's passive CEs must all be on one interface (or the VRF's
//     device): a passive CE on another interface is not run, and
//     CEReason says why;
//   - when the listener a VRF needs changes (its first passive CE, its
//     last removed, a new local-address, the CE's interface), that VRF's
//     CE server is restarted: every CE session of that VRF, active ones
//     included, is closed and re-established and its routes withdrawn
//     meanwhile. Other VRFs' CE servers and the core's sessions are not
//     touched. Adding or removing a passive CE whose address the listener
//     already has changes no listener and restarts nothing. (A restart's
//     StartBgp writes GoBGP v3.37.0's package-level route selection
//     options, which every GoBGP server of the process reads: a data race
//     on identical values, which any CE server a reload starts has too;
//     the old server's routes are withdrawn after it, so that the restart
//     does not itself set the core's server propagating meanwhile.);
//   - a listener that cannot bind (its address not on the interface yet)
//     is probed first, so a failing one does not restart the server: the
//     passive CEs whose address is not open are not run, CEReason says
//     why, and it is tried again every ceListenRetry and when the VRF's
//     addresses or configuration change; the others keep their sessions.
//
// The listener also takes connections from the VRF's active CEs (GoBGP's
// collision detection then keeps one session): they are of the same VRF.

// ErrCEPassiveUnsafe is returned for a passive CE neighbor whose
// configuration would not let this PE accept its session only in its own
// VRF. The error names the field; set what it asks for, or leave passive
// unset (this PE then connects).
var ErrCEPassiveUnsafe = errors.New("passive CE session cannot be accepted safely")

// cePassiveRunnable checks the passive CE neighbors of cfg against the
// rules above.
func cePassiveRunnable(cfg *Config) error {
	for i, v := range cfg.VRFs {
		for j, n := range v.Neighbors {
			if !n.Passive {
				continue
			}
			np := fmt.Sprintf("vrfs[%d].neighbors[%d]", i, j)
			var why string
			switch {
			case !cfg.ListenAddress.IsValid() || cfg.ListenAddress.IsUnspecified():
				why = np + ".passive: true needs bgp.listen-address (a specific address): the core listening on every address would take the CE's connection, and Linux refuses the VRF's listener beside it"
			case cfg.ListenPort == 0:
				why = np + ".passive: true needs bgp.listen-port, the port the CE connects to"
			case !n.LocalAddress.IsValid():
				why = np + ".local-address: required with passive: true: this PE's address on the CE's link, where vrf " + v.Name + " listens"
			case n.LocalAddress.Unmap() == cfg.ListenAddress.Unmap():
				why = fmt.Sprintf("%s.local-address: %s is bgp.listen-address, where the core listens: a passive CE needs the PE's address on its own link", np, n.LocalAddress)
			default:
				continue
			}
			return fmt.Errorf("%s: %w", why, ErrCEPassiveUnsafe)
		}
	}
	return nil
}

// ceListen is where a VRF's CE server listens: nothing (the zero value)
// for a VRF without passive CEs. Comparable, so that a change is seen.
type ceListen struct {
	device string
	addrs  string // sorted, space-separated
	port   uint16
}

func (l ceListen) addresses() []string { return strings.Fields(l.addrs) }

func (l ceListen) String() string {
	hosts := l.addresses()
	for i, a := range hosts {
		hosts[i] = net.JoinHostPort(a, strconv.Itoa(int(l.port)))
	}
	return strings.Join(hosts, ", ") + " bound to " + l.device
}

// ceListenFor computes the listener v's passive CEs need, given its
// interfaces' prefixes conns and the speaker's port. The device is the
// first on-link passive CE's binding; a passive CE bound elsewhere is
// left out and gets a reason in split. Off-link CEs are left to
// ceBinding's reason.
func ceListenFor(v *VRF, conns []Connected, port uint16) (l ceListen, split map[netip.Addr]string) {
	var addrs []string
	for _, n := range v.Neighbors {
		if !n.Passive {
			continue
		}
		a := n.Address.Unmap()
		bind, off := ceBinding(v, conns, a)
		if off != "" {
			continue
		}
		if l.device == "" {
			l.device = bind
		}
		if bind != l.device {
			if split == nil {
				split = map[netip.Addr]string{}
			}
			split[a] = fmt.Sprintf("not accepted: passive CE on %s, but vrf %s accepts passive CEs on %s only (GoBGP binds all of one server's listeners to one device); move it there or leave passive unset", bind, v.Name, l.device)
			continue
		}
		if s := n.LocalAddress.Unmap().String(); !slices.Contains(addrs, s) {
			addrs = append(addrs, s)
		}
	}
	if len(addrs) == 0 {
		return ceListen{}, split
	}
	slices.Sort(addrs)
	l.addrs, l.port = strings.Join(addrs, " "), port
	return l, split
}

// probeCEListen opens and closes the listeners l describes as GoBGP
// would (bound to l.device), so that a listener that cannot bind is found
// without restarting the VRF's CE server for it.
func probeCEListen(ctx context.Context, l ceListen) error {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, l.device)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	for _, a := range l.addresses() {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(a, strconv.Itoa(int(l.port))))
		if err != nil {
			return err
		}
		ln.Close()
	}
	return nil
}

// passiveReason says why passive CE n of vrf, on link and bound to
// bind, is not run, or "" when the server's listener accepts it.
func (cs *ceServer) passiveReason(vrf string, n CENeighbor, bind string, split map[netip.Addr]string) string {
	if r := split[n.Address.Unmap()]; r != "" {
		return r
	}
	if cs.open.device == bind && slices.Contains(cs.open.addresses(), n.LocalAddress.Unmap().String()) {
		return ""
	}
	return fmt.Sprintf("not accepted: vrf %s's listener on %s did not open: %v; it is tried again every %v", vrf, cs.want, cs.listenErr, ceListenRetry)
}

// newListenersOf is what of want old does not already listen on: the
// addresses to probe (probing one old listens on would find it in use).
func newListenersOf(want, old ceListen) ceListen {
	if old.device != want.device || old.port != want.port {
		return want
	}
	var fresh []string
	for _, a := range want.addresses() {
		if !slices.Contains(old.addresses(), a) {
			fresh = append(fresh, a)
		}
	}
	want.addrs = strings.Join(fresh, " ")
	return want
}

// ceListenRetry is how often a VRF's listener that did not open is tried
// again: an IPv6 address is tentative (not bindable) for its duplicate
// address detection, and its becoming usable changes no connected prefix,
// so no SetConnected would retry it.
const ceListenRetry = ceConnectRetry

// armCEListenRetry schedules, once per server, a retry of cs's listener.
func (s *Speaker) armCEListenRetry(vrf string, cs *ceServer) {
	if cs.retryArmed {
		return
	}
	cs.retryArmed = true
	time.AfterFunc(ceListenRetry, func() {
		s.hand(func() {
			if s.ces[vrf] != cs {
				return // replaced or removed meanwhile
			}
			cs.retryArmed = false
			if cs.listenErr == nil {
				return
			}
			if v := s.cfg.vrf(vrf); v != nil {
				if _, err := s.ceRelisten(context.Background(), v); err != nil {
					s.log.Warn("CE listener not retried", "vrf", vrf, "error", err)
				}
			}
		})
	})
}

// ceRelisten brings v's CE server's listener in line with v's passive
// CEs and interfaces, restarting the server if that takes it, and
// reconciles its sessions. restarted reports a new server, whose own
// paths have been sent.
func (s *Speaker) ceRelisten(ctx context.Context, v *VRF) (restarted bool, err error) {
	cs := s.ces[v.Name]
	if cs == nil {
		return false, nil
	}
	now, err := s.ceServerFor(ctx, s.cfg, v)
	if err != nil {
		return false, err
	}
	if err := now.setPeers(ctx, s, v); err != nil {
		return false, err
	}
	if now == cs {
		return false, nil
	}
	return true, s.ceResync(ctx, v.Name)
}
