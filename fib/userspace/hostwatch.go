package userspace

import (
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
// last call, or some may have been lost (a queue overflow: ENOBUFS), or
// the socket failed: anything but an empty queue says yes. A nil watch
// always says yes.
func (w *hostWatch) changed() bool {
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
			changed = true
		}
	}
}

func (w *hostWatch) close() {
	if w != nil && w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}
