package ike

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// Runner drives an Engine over UDP: port 500 for IKE and port 4500 for
// IKE behind the non-ESP marker. One goroutine (Run) owns the engine;
// socket readers hand it datagrams:
//
//	conn500  --IKE-->  \
//	                    Run (owns Engine) --> events --> OnChildSA, OnChildSADeleted
//	conn4500 --IKE-->  /                  --> Output --> conn500/conn4500 (once installed)
//
// ESP has no place here: where ESP flows, port 4500 belongs to the ESP
// transport (ipsec/esptransport), which hands IKE to HandleNATT (see
// NewRunnerSharedNATT). A runner with its own conn4500 (no dataplane)
// drops the ESP it receives.
type Runner struct {
	e        *Engine
	conn500  *net.UDPConn
	conn4500 *net.UDPConn
	local    netip.Addr
	in       chan inbound
	cmds     chan func(*Engine)
	done     chan struct{} // closed when Run returns

	onChild, onChildDeleted func(ChildSA)
	onEvent                 func(Event)
	awaitInstalled          func(context.Context, ChildSA) error
	installTimeout          time.Duration

	// sendNATT, when set, replaces conn4500 (nil then): the NAT-T port
	// belongs to the ESP dataplane (see NewRunnerSharedNATT).
	sendNATT func(to netip.AddrPort, msg []byte) error
}

type inbound struct {
	local, remote netip.AddrPort
	data          []byte
}

// NewRunnerConns runs e over sockets the caller bound, for a PE without a
// dataplane. The runner closes them when Run returns.
func NewRunnerConns(e *Engine, conn500, conn4500 *net.UDPConn) (*Runner, error) {
	la, ok := conn500.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil, errors.New("ike: conn500 is not bound")
	}
	return &Runner{
		e: e, conn500: conn500, conn4500: conn4500, local: la.AddrPort().Addr().Unmap(),
		in: make(chan inbound, 64), cmds: make(chan func(*Engine)), done: make(chan struct{}),
	}, nil
}

// OnChildSA sets the callback that installs a child SA in the dataplane.
// Call before Run; it runs on Run's goroutine.
func (r *Runner) OnChildSA(f func(ChildSA)) { r.onChild = f }

// AwaitInstalled sets how the runner learns that the dataplane installed
// a child SA OnChildSA was given: wait returns once it is installed, or
// an error when its context (timeout long) ends first. The messages of
// the step that brought the child up leave only after it returned nil
// (see flush). Without it they leave once OnChildSA returns.
func (r *Runner) AwaitInstalled(wait func(ctx context.Context, c ChildSA) error, timeout time.Duration) {
	r.awaitInstalled, r.installTimeout = wait, timeout
}

// OnChildSADeleted sets the callback that removes a child SA.
func (r *Runner) OnChildSADeleted(f func(ChildSA)) { r.onChildDeleted = f }

// OnEvent sets a callback for every event (after the two above).
func (r *Runner) OnEvent(f func(Event)) { r.onEvent = f }

// Do runs f on the engine's goroutine and waits for it: the way to call
// Engine methods (Initiate, Rekey, SAs...) while Run is running.
func (r *Runner) Do(ctx context.Context, f func(*Engine)) error {
	done := make(chan struct{})
	select {
	case r.cmds <- func(e *Engine) { f(e); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
		return net.ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run starts the configured initiations and serves until ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	defer close(r.done)
	defer r.conn500.Close()
	go r.read(r.conn500, false)
	if r.conn4500 != nil {
		defer r.conn4500.Close()
		go r.read(r.conn4500, true)
	}
	r.e.Start()
	r.flush()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Hour
		if d := r.e.NextDeadline(); !d.IsZero() {
			wait = max(time.Until(d), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p := <-r.in:
			r.e.Handle(p.local, p.remote, p.data)
		case f := <-r.cmds:
			f(r.e)
		case <-timer.C:
			r.e.Tick()
		}
		r.flush()
	}
}

func (r *Runner) read(c *net.UDPConn, natt bool) {
	port := r.e.cfg.Port
	if natt {
		port = r.e.cfg.NATTPort
	}
	local := netip.AddrPortFrom(r.local, port)
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if natt {
			if kind, _ := wire.Classify(buf[:n]); kind != wire.KindIKE {
				continue // ESP, keepalives, junk: no dataplane here
			}
		}
		select {
		case r.in <- inbound{local: local, remote: from, data: append([]byte(nil), buf[:n]...)}:
		case <-r.done:
			return
		}
	}
}

// flush delivers the engine's events, then sends its output.
//
// Events first: a step that brought a child SA up (our IKE_AUTH or
// CREATE_CHILD_SA response, or, rekeying, the DELETE of the old SA that
// follows the peer's response) sends its messages once OnChildSA has
// returned and AwaitInstalled said the child is installed. The peer
// seals with a new SA as soon as it has our response, so our inbound SA
// must be open by then (RFC 7296 section 2.8 leaves the switch to each
// side). If the install is not confirmed within its timeout the messages
// are withheld, as if lost, rather than have the peer seal into an SA we
// cannot open: the peer retransmits its request, which the engine
// answers from its last response, and our own requests are retransmitted
// on the engine's timer.
func (r *Runner) flush() {
	out := r.e.Output()
	up := r.deliver(r.e.Events())
	if len(out) > 0 && !r.installed(up) {
		return
	}
	for _, d := range out {
		var err error
		switch {
		case d.Local.Port() != r.e.cfg.NATTPort:
			_, err = r.conn500.WriteToUDPAddrPort(d.Data, d.Remote)
		case r.sendNATT != nil:
			err = r.sendNATT(d.Remote, d.Data[wire.NonESPMarkerLen:])
		default:
			_, err = r.conn4500.WriteToUDPAddrPort(d.Data, d.Remote)
		}
		if err != nil {
			r.e.log.Warn("sending IKE message failed", "to", d.Remote, "err", err)
		}
	}
}

// deliver hands events to the callbacks and returns the children that
// came up.
func (r *Runner) deliver(events []Event) (up []ChildSA) {
	for _, ev := range events {
		switch ev.Kind {
		case ChildUp:
			up = append(up, ev.Child)
			if r.onChild != nil {
				r.onChild(ev.Child)
			}
		case ChildDown:
			if r.onChildDeleted != nil {
				r.onChildDeleted(ev.Child)
			}
		}
		if r.onEvent != nil {
			r.onEvent(ev)
		}
	}
	return up
}

// installed waits, each for at most the AwaitInstalled timeout, until the
// dataplane has installed every child in up; false (logged) if one was
// not.
func (r *Runner) installed(up []ChildSA) bool {
	if r.awaitInstalled == nil {
		return true
	}
	for _, c := range up {
		ctx, cancel := context.WithTimeout(context.Background(), r.installTimeout)
		err := r.awaitInstalled(ctx, c)
		cancel()
		if err != nil {
			r.e.log.Warn("child SA not installed in time: IKE messages withheld, to be retransmitted",
				"peer", c.Peer, "in_spi", fmt.Sprintf("0x%08x", c.InSPI), "timeout", r.installTimeout, "err", err)
			return false
		}
	}
	return true
}
