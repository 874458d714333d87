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
// news drains it without blocking. The kernel queues a notification
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

// hostNews is what the watch heard since it was last asked.
type hostNews struct {
	// changed: a link or address other than the backend's TUNs (or
	// theirs) changed, or news was lost: the host view is read again.
	changed bool
	// lost: the kernel may have deleted routes of the backend's. Linux
	// deletes every route through a link set down or removed, in every
	// table, and when it is up again brings back only its own connected
	// routes in the main and local tables; removing an address deletes
	// routes too. So a link other than the TUNs going down or away, an
	// address removed, or news lost: the next route sync is a full one.
	// (A TUN is made down and set up in the same Apply, so its link
	// messages cannot tell an operator's `ip link set down`; one that
	// does is left to the periodic full sync, and fails closed.)
	lost bool
}

// allNews is news of every kind: what the watch cannot read or lost.
var allNews = hostNews{changed: true, lost: true}

// news drains the watch and reports what it heard since the last call:
// own are the TUNs this backend made, whose link and address news the
// host view does not need (it serves CE and core interfaces), and each
// one made sends several link messages, so that without leaving them
// out every Apply of a bring-up read the host's 6,000 links and their
// local routes again (issue 23: a tenth of the bring-up's allocation).
// A queue overflow (ENOBUFS), a failed socket or a nil watch is news of
// every kind.
func (w *hostWatch) news(own map[int32]bool) hostNews {
	if w == nil || w.fd < 0 {
		return hostNews{changed: true}
	}
	var got hostNews
	for {
		n, _, err := unix.Recvfrom(w.fd, w.buf, unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return got
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS): // messages were dropped: read on
			got = allNews
		case err != nil:
			return allNews
		case n > 0:
			m := readNews(w.buf[:n], own)
			got.changed, got.lost = got.changed || m.changed, got.lost || m.lost
		}
	}
}

// readNews reads the netlink messages in b: news of links of own, or of
// their addresses, is none; what it cannot read is news of every kind.
func readNews(b []byte, own map[int32]bool) hostNews {
	var got hostNews
	for len(b) > 0 {
		if len(b) < unix.NLMSG_HDRLEN {
			return allNews
		}
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return allNews
		}
		typ := binary.NativeEndian.Uint16(b[4:])
		switch typ {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK, unix.RTM_NEWADDR, unix.RTM_DELADDR:
			// ifinfomsg and ifaddrmsg both carry the link's index at
			// offset 4; ifinfomsg its flags at offset 8.
			if l < unix.NLMSG_HDRLEN+8 {
				return allNews
			}
			index := int32(binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN+4:]))
			if own[index] {
				break
			}
			got.changed = true
			switch typ {
			case unix.RTM_DELLINK, unix.RTM_DELADDR:
				got.lost = true
			case unix.RTM_NEWLINK:
				if l < unix.NLMSG_HDRLEN+12 || binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN+8:])&unix.IFF_UP == 0 {
					got.lost = true
				}
			}
		default:
			return allNews
		}
		b = b[min(nlAlign(l), len(b)):]
	}
	return got
}

// nlAlign rounds n up to netlink's 4-byte alignment.
func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

func (w *hostWatch) close() {
	if w != nil && w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}
