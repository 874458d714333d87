package userspace

import (
	"encoding/binary"
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

const (
	afInet              = unix.AF_INET
	afInet6             = unix.AF_INET6
	sizeofSockaddrInet4 = unix.SizeofSockaddrInet4
	sizeofSockaddrInet6 = unix.SizeofSockaddrInet6
	// socketBuffer is what SO_RCVBUFFORCE and SO_SNDBUFFORCE ask for: a
	// burst of a few batches must not overflow the kernel's queues.
	socketBuffer = 8 << 20
)

// sockaddr is a socket address in the kernel's layout (sockaddr_in or
// sockaddr_in6), built once per tunnel so that sending copies it.
type sockaddr struct {
	raw [sizeofSockaddrInet6]byte
	len uint32
}

func sockaddrOf(a netip.Addr, udp bool) sockaddr {
	var sa sockaddr
	port := uint16(0)
	if udp {
		port = wire.PortNATT
	}
	putSockaddr(&sa, a, port)
	return sa
}

// addrPort reads back what putSockaddr (or the kernel) wrote.
func (sa *sockaddr) addrPort() netip.AddrPort {
	port := binary.BigEndian.Uint16(sa.raw[2:4])
	switch binary.NativeEndian.Uint16(sa.raw[0:2]) {
	case afInet:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa.raw[4:8])), port)
	case afInet6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(sa.raw[8:24])).Unmap(), port)
	}
	return netip.AddrPort{}
}

// socket is one kernel socket of the fast path, used through its RawConn
// so that a reader waiting for packets parks in Go's netpoller and Close
// wakes it.
type socket struct {
	conn interface{ Close() error }
	rc   syscall.RawConn
	udp  bool
	// gso: the kernel takes UDP_SEGMENT (see sendBatch); cleared if a
	// coalesced send fails.
	gso atomic.Bool
	// gro: UDP_GRO is on; received messages may be runs (gro.go).
	gro bool
	log *slog.Logger
	// hdrIncluded: received datagrams start with the IP header (raw
	// IPv4 sockets; raw IPv6 sockets and UDP sockets give the payload).
	hdrIncluded bool
}

// sockets are the fast path's sockets for one local address: ESP-in-UDP on
// port 4500 and raw ESP (IP protocol 50).
type sockets struct {
	local netip.Addr
	uc    *net.UDPConn
	udp   *socket
	esp   *socket
}

// openSockets binds the UDP 4500 and raw ESP sockets to local.
func openSockets(local netip.Addr, log *slog.Logger) (*sockets, error) {
	ip := net.IP(local.AsSlice())
	udpNet, ipNet := "udp4", "ip4:50"
	if local.Is6() {
		udpNet, ipNet = "udp6", "ip6:50"
	}
	uc, err := net.ListenUDP(udpNet, &net.UDPAddr{IP: ip, Port: wire.PortNATT})
	if err != nil {
		return nil, fmt.Errorf("ESP-in-UDP socket: %w", err)
	}
	s := &sockets{local: local, uc: uc}
	if s.udp, err = newSocket(uc, true, false, log); err != nil {
		uc.Close()
		return nil, err
	}
	ic, err := net.ListenIP(ipNet, &net.IPAddr{IP: ip})
	if err != nil {
		uc.Close()
		return nil, fmt.Errorf("raw ESP socket: %w", err)
	}
	if s.esp, err = newSocket(ic, false, local.Is4(), log); err != nil {
		uc.Close()
		ic.Close()
		return nil, err
	}
	return s, nil
}

func newSocket(c interface {
	Close() error
	SyscallConn() (syscall.RawConn, error)
}, udp, hdrIncluded bool, log *slog.Logger) (*socket, error) {
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
	s := &socket{conn: c, rc: rc, udp: udp, hdrIncluded: hdrIncluded, gro: gro, log: log}
	s.gso.Store(gso)
	return s, nil
}

func (s *sockets) close() error {
	if s == nil {
		return nil
	}
	return errors.Join(s.udp.conn.Close(), s.esp.conn.Close())
}

// sendIKE sends msg to a peer behind the non-ESP marker. Control plane:
// it allocates.
func (s *sockets) sendIKE(to netip.AddrPort, msg []byte) error {
	buf := make([]byte, wire.NonESPMarkerLen+len(msg))
	copy(buf[wire.NonESPMarkerLen:], msg)
	_, err := s.uc.WriteToUDPAddrPort(buf, to)
	return err
}

// send sends what b holds, UDP and raw ESP, and returns how many packets
// were lost. A nil s (no local address yet) loses them all.
func (s *sockets) send(b *sendBatch) (lost int) {
	if s == nil {
		return b.udp.n + b.raw.n
	}
	if b.udp.n > 0 {
		lost += s.udp.sendmmsg(&b.udp)
	}
	if b.raw.n > 0 {
		lost += s.esp.sendmmsg(&b.raw)
	}
	return lost
}
