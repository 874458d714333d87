// Package nlbatch sends rtnetlink requests in batches: Size requests in
// one write, then their acknowledgements read together. vishvananda/netlink
// waits for each request's acknowledgement, one round trip per route or
// rule; a batch costs one round trip for Size of them, which is what
// makes a million-route VRF (fib/kernel, make bench-vm) or thousands of
// VRFs (fib/userspace, make bench-scale) quick to install. The fib
// backends share it.
package nlbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Size is how many requests go to the kernel in one write before their
// acknowledgements are read.
const Size = 256

// Conn is a NETLINK_ROUTE socket for batches. Not safe for concurrent use.
type Conn struct {
	fd   int
	rbuf []byte
}

// Open returns a Conn in the calling thread's network namespace.
func Open() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &Conn{fd: fd, rbuf: make([]byte, 1<<16)}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }

// Do sends msgs, each one whole netlink message asking for an
// acknowledgement (NLM_F_ACK), Size per write, and calls refused with
// the index and error of each the kernel refused. It numbers the
// messages itself (their sequence numbers are overwritten). It returns
// an error only if the socket failed; the requests after that were not
// all sent.
func (c *Conn) Do(msgs [][]byte, refused func(i int, err syscall.Errno)) error {
	for start := 0; start < len(msgs); start += Size {
		chunk := msgs[start:min(start+Size, len(msgs))]
		var out []byte
		for i, m := range chunk {
			if len(m) < unix.NLMSG_HDRLEN {
				return fmt.Errorf("netlink message %d: %d bytes, shorter than a header", start+i, len(m))
			}
			binary.NativeEndian.PutUint32(m[8:12], uint32(start+i+1)) // nlmsg_seq
			out = append(out, m...)
		}
		if err := unix.Sendto(c.fd, out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("netlink write: %w", err)
		}
		for acked := 0; acked < len(chunk); {
			n, _, err := unix.Recvfrom(c.fd, c.rbuf, 0)
			if err != nil {
				return fmt.Errorf("netlink read: %w", err)
			}
			ms, err := syscall.ParseNetlinkMessage(c.rbuf[:n])
			if err != nil {
				return fmt.Errorf("netlink read: %w", err)
			}
			for _, m := range ms {
				if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
					continue
				}
				acked++
				code := int32(binary.NativeEndian.Uint32(m.Data[:4]))
				if i := int(m.Header.Seq) - 1; code != 0 && i >= start && i < start+len(chunk) {
					refused(i, syscall.Errno(-code))
				}
			}
		}
	}
	return nil
}

// ErrNoDestination: a route to encode has neither a prefix nor a label.
var ErrNoDestination = errors.New("route without a destination")
