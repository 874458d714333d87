package esptransport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/peregrine-net/peregrine/ipsec/wire"
	"golang.org/x/sys/unix"
)

// socketBuffer is what SO_RCVBUFFORCE and SO_SNDBUFFORCE ask for: a burst
// of a few batches must not overflow the kernel's queues.
const socketBuffer = 8 << 20

// Socket is one kernel socket that carries ESP, used through its RawConn
// so that a reader waiting for packets parks in Go's netpoller and Close
// wakes it.
type Socket struct {
	conn interface{ Close() error }
	uc   *net.UDPConn // conn, if it is UDP: for SendIKE and WriteTo
	rc   syscall.RawConn
	udp  bool
	// gso: the kernel takes UDP_SEGMENT (see SendBatch); cleared if a
	// coalesced send fails.
	gso atomic.Bool
	// gro: UDP_GRO is on; received messages may be runs (gro.go).
	gro bool
	log *slog.Logger
	// hdrIncluded: received datagrams start with the IP header (raw
	// IPv4 sockets; raw IPv6 sockets and UDP sockets give the payload).
	hdrIncluded bool
}

// UDP reports whether s is a UDP socket (ESP-in-UDP and IKE), not raw ESP.
func (s *Socket) UDP() bool { return s.udp }

// GSO reports whether sends on s may coalesce runs with UDP_SEGMENT.
func (s *Socket) GSO() bool { return s.gso.Load() }

// GRO reports whether received messages may be UDP_GRO runs.
func (s *Socket) GRO() bool { return s.gro }

// HeaderIncluded reports whether received datagrams start with their IP
// header (raw IPv4).
func (s *Socket) HeaderIncluded() bool { return s.hdrIncluded }

// Close closes the socket; a reader in RecvMmsg returns net.ErrClosed.
func (s *Socket) Close() error { return s.conn.Close() }

// Sockets are the ESP sockets for one local address: ESP-in-UDP on port
// 4500 and raw ESP (IP protocol 50).
type Sockets struct {
	local netip.Addr
	// UDP sends ESP-in-UDP and IKE, and receives; MoreUDP, with
	// OpenSpread, are the other receivers of its SO_REUSEPORT group
	// (reuseport.go): each needs a reader of its own.
	UDP     *Socket
	MoreUDP []*Socket
	ESP     *Socket
}

// Open binds the UDP 4500 and raw ESP sockets to local (raw ESP needs
// CAP_NET_RAW).
func Open(local netip.Addr, log *slog.Logger) (*Sockets, error) {
	return OpenSpread(local, 1, log)
}

// OpenSpread is Open with receivers UDP sockets on port 4500, a
// SO_REUSEPORT group that spreads ESP-in-UDP over them by SPI
// (reuseport.go), so that a peer's per-resource SAs are opened on as
// many goroutines. One receiver is Open's single socket.
func OpenSpread(local netip.Addr, receivers int, log *slog.Logger) (*Sockets, error) {
	if receivers < 1 {
		return nil, errNoReceivers
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ip := net.IP(local.AsSlice())
	ipNet := "ip4:50"
	if local.Is6() {
		ipNet = "ip6:50"
	}
	ucs, err := listenGroup(netip.AddrPortFrom(local, wire.PortNATT), receivers)
	if err != nil {
		return nil, fmt.Errorf("ESP-in-UDP socket: %w", err)
	}
	s := &Sockets{local: local}
	closeUDP := func() {
		for _, uc := range ucs {
			uc.Close()
		}
	}
	for i, uc := range ucs {
		us, err := NewSocket(uc, true, false, log)
		if err != nil {
			closeUDP()
			return nil, err
		}
		if i == 0 {
			s.UDP = us
		} else {
			s.MoreUDP = append(s.MoreUDP, us)
		}
	}
	ic, err := net.ListenIP(ipNet, &net.IPAddr{IP: ip})
	if err != nil {
		closeUDP()
		return nil, fmt.Errorf("raw ESP socket: %w", err)
	}
	if s.ESP, err = NewSocket(ic, false, local.Is4(), log); err != nil {
		closeUDP()
		ic.Close()
		return nil, err
	}
	return s, nil
}

// Receivers are the UDP sockets that receive, UDP first: each needs a
// reader goroutine.
func (s *Sockets) Receivers() []*Socket {
	return append([]*Socket{s.UDP}, s.MoreUDP...)
}

// NewSocket wraps a bound socket: udp for ESP-in-UDP, hdrIncluded for a
// raw IPv4 socket. It turns on UDP GSO and GRO where the kernel has them.
func NewSocket(c interface {
	Close() error
	SyscallConn() (syscall.RawConn, error)
}, udp, hdrIncluded bool, log *slog.Logger) (*Socket, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	gso, gro := false, false
	err = rc.Control(func(fd uintptr) {
		// Best effort: without CAP_NET_ADMIN the defaults stay.
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer)
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer)
		gso = udp && unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT, 0) == nil
		gro = udp && unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_GRO, 1) == nil
	})
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Socket{conn: c, rc: rc, udp: udp, hdrIncluded: hdrIncluded, gro: gro, log: log}
	s.uc, _ = c.(*net.UDPConn)
	s.gso.Store(gso)
	return s, nil
}

// Local is the address the sockets are bound to.
func (s *Sockets) Local() netip.Addr { return s.local }

// GSO reports whether UDP sends may be coalesced; false for nil s.
func (s *Sockets) GSO() bool { return s != nil && s.UDP.GSO() }

// Close closes both sockets. A nil s is closed already.
func (s *Sockets) Close() error {
	if s == nil {
		return nil
	}
	errs := []error{s.UDP.conn.Close(), s.ESP.conn.Close()}
	for _, u := range s.MoreUDP {
		errs = append(errs, u.conn.Close())
	}
	return errors.Join(errs...)
}

// SendIKE sends msg to a peer from port 4500 behind the non-ESP marker
// (RFC 3948 section 2.2). Control plane: it allocates.
func (s *Sockets) SendIKE(to netip.AddrPort, msg []byte) error { return s.UDP.SendIKE(to, msg) }

// SendIKE sends msg from the UDP socket s behind the non-ESP marker.
// Control plane: it allocates.
func (s *Socket) SendIKE(to netip.AddrPort, msg []byte) error {
	buf := make([]byte, wire.NonESPMarkerLen+len(msg))
	copy(buf[wire.NonESPMarkerLen:], msg)
	return s.WriteTo(buf, to)
}

// WriteTo sends one datagram from the UDP socket s, for what is not
// batched: IKE, and ESP a test echoes. The fast path uses SendBatch.
func (s *Socket) WriteTo(pkt []byte, to netip.AddrPort) error {
	if s.uc == nil {
		return errors.New("esptransport: WriteTo on a socket that is not UDP")
	}
	_, err := s.uc.WriteToUDPAddrPort(pkt, to)
	return err
}

// Send sends what b holds, UDP and raw ESP, and returns how many packets
// were lost. A nil s (no local address yet) loses them all.
func (s *Sockets) Send(b *SendBatch) (lost int) {
	if s == nil {
		return b.udp.n + b.raw.n
	}
	if b.udp.n > 0 {
		lost += s.UDP.SendMmsg(&b.udp)
	}
	if b.raw.n > 0 {
		lost += s.ESP.SendMmsg(&b.raw)
	}
	return lost
}
