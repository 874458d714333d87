package ike

import (
	"errors"
	"net"
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// NewRunnerSharedNATT runs e with its own UDP 500 socket but without a NAT-T
// socket: UDP 4500 belongs to the ESP transport (ipsec/esptransport), whose
// receiver hands IKE messages found behind the non-ESP marker to HandleNATT and
// sends the engine's NAT-T messages with sendNATT, which adds the marker
// itself (msg is the bare IKE message). The runner closes conn500 when Run
// returns.
func NewRunnerSharedNATT(e *Engine, conn500 *net.UDPConn, sendNATT func(to netip.AddrPort, msg []byte) error) (*Runner, error) {
	if sendNATT == nil {
		return nil, errors.New("ike: NewRunnerSharedNATT needs a send function")
	}
	la, ok := conn500.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil, errors.New("ike: conn500 is not bound")
	}
	return &Runner{
		e: e, conn500: conn500, local: la.AddrPort().Addr().Unmap(), sendNATT: sendNATT,
		in: make(chan inbound, 64), cmds: make(chan func(*Engine)), done: make(chan struct{}),
	}, nil
}

// HandleNATT queues an IKE message that arrived on the shared NAT-T port
// (msg without the non-ESP marker; it is copied). Safe from any goroutine;
// it drops the message if the engine is not keeping up, as a full socket
// buffer would, since IKE retransmits.
func (r *Runner) HandleNATT(from netip.AddrPort, msg []byte) {
	data := make([]byte, wire.NonESPMarkerLen+len(msg))
	copy(data[wire.NonESPMarkerLen:], msg)
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	select {
	case r.in <- inbound{local: netip.AddrPortFrom(r.local, r.e.cfg.NATTPort), remote: from, data: data}:
	case <-r.done:
	default:
	}
}
