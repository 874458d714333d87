package bgp

import (
	"net/netip"
	"syscall"
)

// listenAddresses is where GoBGP listens for sessions. A configured
// bgp.listen-address is taken as is (validation made sure every neighbor
// is of its family). Unset, it is one socket per family: GoBGP opens an
// IPv6 address as "tcp6", which Go makes IPV6_V6ONLY, so "::" alone would
// refuse IPv4 neighbors just as "0.0.0.0" alone refused IPv6 ones (issue
// 24). On a host with IPv6 disabled the IPv6 socket cannot exist; the
// speaker then listens on IPv4 only rather than failing to start, and an
// IPv6 neighbor's reason says so (see connectReason).
func listenAddresses(addr netip.Addr) []string {
	if addr.IsValid() {
		return []string{addr.String()}
	}
	if !ipv6Available() {
		return []string{netip.IPv4Unspecified().String()}
	}
	return []string{netip.IPv4Unspecified().String(), netip.IPv6Unspecified().String()}
}

// ipv6Available reports whether this host can open an IPv6 TCP socket. It
// creates one and closes it; nothing is bound or sent.
func ipv6Available() bool {
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	syscall.Close(fd)
	return true
}

// listensFor reports whether the addresses GoBGP listens on take a
// connection from addr.
func listensFor(listen []string, addr netip.Addr) bool {
	for _, l := range listen {
		if a, err := netip.ParseAddr(l); err == nil && a.Unmap().Is4() == addr.Unmap().Is4() {
			return true
		}
	}
	return false
}
