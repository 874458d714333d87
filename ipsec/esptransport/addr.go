package esptransport

import (
	"encoding/binary"
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/wire"
	"golang.org/x/sys/unix"
)

const (
	afInet              = unix.AF_INET
	afInet6             = unix.AF_INET6
	sizeofSockaddrInet4 = unix.SizeofSockaddrInet4
	sizeofSockaddrInet6 = unix.SizeofSockaddrInet6
)

// Addr is a socket address in the kernel's layout (sockaddr_in or
// sockaddr_in6), built once per destination so that sending copies it.
type Addr struct {
	raw [sizeofSockaddrInet6]byte
	len uint32
}

// AddrFrom returns a's socket address with port.
func AddrFrom(a netip.Addr, port uint16) Addr {
	var sa Addr
	if a.Is4() {
		binary.NativeEndian.PutUint16(sa.raw[0:2], afInet)
		binary.BigEndian.PutUint16(sa.raw[2:4], port)
		a4 := a.As4()
		copy(sa.raw[4:8], a4[:])
		sa.len = sizeofSockaddrInet4
		return sa
	}
	binary.NativeEndian.PutUint16(sa.raw[0:2], afInet6)
	binary.BigEndian.PutUint16(sa.raw[2:4], port)
	a16 := a.As16()
	copy(sa.raw[8:24], a16[:])
	sa.len = sizeofSockaddrInet6
	return sa
}

// AddrPort reads back what AddrFrom (or the kernel) wrote.
func (sa *Addr) AddrPort() netip.AddrPort {
	port := binary.BigEndian.Uint16(sa.raw[2:4])
	switch binary.NativeEndian.Uint16(sa.raw[0:2]) {
	case afInet:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa.raw[4:8])), port)
	case afInet6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(sa.raw[8:24])).Unmap(), port)
	}
	return netip.AddrPort{}
}

// Dest is where a tunnel's ESP packets go: a remote PE, in UDP to port
// 4500 or as raw ESP. A SendBatch coalesces packets for the same *Dest,
// so each tunnel keeps one.
type Dest struct {
	addr Addr
	udp  bool
}

// DestOf returns the destination of ESP to remote, in UDP if udp.
func DestOf(remote netip.Addr, udp bool) Dest {
	port := uint16(0)
	if udp {
		port = wire.PortNATT
	}
	return Dest{addr: AddrFrom(remote, port), udp: udp}
}

// DestUDP returns a UDP destination at any port (tests use ephemeral
// ports on loopback).
func DestUDP(to netip.AddrPort) Dest {
	return Dest{addr: AddrFrom(to.Addr(), to.Port()), udp: true}
}

// UDP reports whether d takes ESP-in-UDP.
func (d *Dest) UDP() bool { return d.udp }

// AddrPort is d's address (port 0 for raw ESP).
func (d *Dest) AddrPort() netip.AddrPort { return d.addr.AddrPort() }
