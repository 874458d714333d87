package esptransport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// Spreading inbound ESP-in-UDP over cores (RFC 9611 per-resource SAs).
//
// All of one remote PE's ESP-in-UDP arrives from one address and port to
// port 4500, so the kernel's 4-tuple hash would put every SA of the PE on
// one socket and one goroutine. With several receivers, the UDP sockets
// are a SO_REUSEPORT group on port 4500 and the group carries a classic
// BPF program (SO_ATTACH_REUSEPORT_CBPF) that picks the socket by the
// SPI, the first four bytes of the UDP payload:
//
//	ld [0]      A = SPI (the kernel runs the program past the UDP header)
//	mod #n      A = SPI mod n
//	ret A       socket A of the group
//
// So each SA is opened by one socket's goroutine (its replay window and
// counters stay on one core) and SAs with consecutive SPIs land on
// different sockets. IKE (the non-ESP marker, SPI 0) and keepalives (too
// short to load: the program returns 0) go to socket 0. The program never
// returns n or more, so a socket that joined the group later (the kernel
// lets only the same user) receives nothing.
//
// A peer with one SA (strongSwan) is served by one socket, as before.
//
// Limits. The kernel runs the program once per received skb: a UDP GRO
// run (UDP_GRO is on, gro.go) or a peer's GSO super-packet goes whole to
// the socket its first datagram's SPI picks. Our senders coalesce only
// runs of one TUN queue, hence of one SA; but a NIC's GRO merges
// datagrams by address and port, and all SAs of one peer share those,
// so under GRO a run may carry several SAs' packets to one socket. Every
// packet is still opened by its own SA (esp.SA is safe for concurrent
// Open), and the runs spread over the sockets as their first packets do;
// an SA is then not pinned to one core. A distinct UDP source port per
// SA at the sender would keep GRO runs (and NIC RSS) per SA: not done,
// since a kernel-IPsec peer would take a new source port for a NAT
// mapping change. Raw ESP (IP protocol 50) stays on one socket.

// spiModFilter is the program above for n sockets.
func spiModFilter(n int) []unix.SockFilter {
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_ALU | unix.BPF_MOD | unix.BPF_K, K: uint32(n)},
		{Code: unix.BPF_RET | unix.BPF_A},
	}
}

// SocketForSPI is the index of the socket of a group of n (OpenSpread)
// that receives ESP with SPI spi: what the group's BPF program computes.
func SocketForSPI(spi uint32, n int) int {
	if n <= 1 {
		return 0
	}
	return int(spi % uint32(n))
}

// listenGroup binds n UDP sockets to at as one SO_REUSEPORT group whose
// BPF program spreads ESP by SPI. With n = 1 it binds one socket, without
// SO_REUSEPORT, as Open always did. at's port 0 picks a free port for all.
//
// The port must be free: a probe socket without SO_REUSEPORT binds it
// first, so a port another process (or another Sockets) holds fails with
// EADDRINUSE instead of joining its group.
func listenGroup(at netip.AddrPort, n int) ([]*net.UDPConn, error) {
	network := "udp4"
	if at.Addr().Is6() {
		network = "udp6"
	}
	probe, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(at))
	if err != nil {
		return nil, err
	}
	if n <= 1 {
		return []*net.UDPConn{probe}, nil
	}
	at = netip.AddrPortFrom(at.Addr(), probe.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	probe.Close()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	conns := make([]*net.UDPConn, 0, n)
	fail := func(err error) ([]*net.UDPConn, error) {
		for _, c := range conns {
			c.Close()
		}
		return nil, err
	}
	for range n {
		pc, err := lc.ListenPacket(context.Background(), network, at.String())
		if err != nil {
			return fail(err)
		}
		conns = append(conns, pc.(*net.UDPConn))
	}
	prog := spiModFilter(n)
	rc, err := conns[0].SyscallConn()
	if err != nil {
		return fail(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	}); err != nil {
		return fail(err)
	}
	if serr != nil {
		return fail(fmt.Errorf("SO_ATTACH_REUSEPORT_CBPF: %w", serr))
	}
	return conns, nil
}

// errNoReceivers is OpenSpread's error for n < 1.
var errNoReceivers = errors.New("esptransport: at least one ESP-in-UDP receiver")
