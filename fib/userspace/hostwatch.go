package userspace

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// hostWatch says whether the host's links or addresses may have changed
// since it was last asked, so that an Apply reuses the last hostView
// instead of dumping every link, address and local route again: at 2,000
// VRFs (6,000 links) those dumps cost each Apply 0.2 s and 25 MB of
// garbage, whatever the Apply changed (issue 23).
//
// It is a netlink socket that joins the link and address groups
// (`ip monitor link address`) and that nobody reads between Applies:
// changed drains it without blocking. The kernel queues a notification
// on every listening socket while it makes the change, so a change that
// anything in this process has heard of (the fib's interface watcher,
// whose news leads to the Apply) is in this socket's queue by the time
// the Apply asks. The local table's routes change with the addresses
// and links (the kernel adds local, broadcast and multicast routes for
// an address or a link coming up); a route an operator adds there by
// hand is read at the next full read (fullHostReadEvery).
type hostWatch struct {
	fd  int
	buf []byte
}

// newHostWatch opens the watch in the calling goroutine's network
// namespace, as netlink.NewHandle does.
func newHostWatch() (*hostWatch, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink monitor: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
		Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink monitor: %w", err)
	}
	return &hostWatch{fd: fd, buf: make([]byte, 64<<10)}, nil
}

// changed reports whether any link or address message arrived since the
// last call about a link not in own, or some may have been lost (a queue
// overflow: ENOBUFS), or the socket failed: anything but an empty queue
// or news of own links only says yes. A nil watch always says yes.
//
// own are the TUNs this backend made: the host view does not need them
// (it serves CE and core interfaces), and each one made sends several
// link messages, so that without leaving them out every Apply of a
// bring-up read the host's 6,000 links and their local routes again
// (issue 23: a tenth of the bring-up's allocation).
func (w *hostWatch) changed(own map[int32]bool) bool {
	if w == nil || w.fd < 0 {
		return true
	}
	changed := false
	for {
		n, _, err := unix.Recvfrom(w.fd, w.buf, unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return changed
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS): // messages were dropped: read on
			changed = true
		case err != nil:
			return true
		case n > 0:
			changed = changed || aboutOthers(w.buf[:n], own)
		}
	}
}

// aboutOthers reports whether the netlink messages in b say anything but
// that links of own, or their addresses, changed. What it cannot read
// counts as news.
func aboutOthers(b []byte, own map[int32]bool) bool {
	for len(b) > 0 {
		if len(b) < unix.NLMSG_HDRLEN {
			return true
		}
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return true
		}
		typ := binary.NativeEndian.Uint16(b[4:])
		switch typ {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK, unix.RTM_NEWADDR, unix.RTM_DELADDR:
			// ifinfomsg and ifaddrmsg both carry the link's index at
			// offset 4.
			if l < unix.NLMSG_HDRLEN+8 {
				return true
			}
			index := int32(binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN+4:]))
			if !own[index] {
				return true
			}
		default:
			return true
		}
		b = b[min(nlAlign(l), len(b)):]
	}
	return false
}

// nlAlign rounds n up to netlink's 4-byte alignment.
func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

func (w *hostWatch) close() {
	if w != nil && w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}
