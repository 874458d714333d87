package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Route writes go to the kernel many requests to a write, and only the
// last request of a write asks for an acknowledgement (NLM_F_ACK):
//
//	sendto: NEWROUTE seq 1 | NEWROUTE seq 2 | ... | NEWROUTE seq n, NLM_F_ACK
//	recv:   [NLMSG_ERROR seq i, errno]...  NLMSG_ERROR seq n (0 or errno)
//
// The kernel handles a write's requests in order and answers a request
// without NLM_F_ACK only if it fails, so once the answer to seq n is read
// every failure of the write has been read before it, each named by its
// sequence number. vishvananda/netlink (and `ip -batch`) wait for an ACK
// per route instead: one round trip, and one acknowledgement built and
// copied, per route. Writing a batch costs one round trip per batch
// (make bench-vm).
//
// A failure the kernel cannot queue (the socket's receive buffer is full)
// is lost, and the socket reports ENOBUFS: batches are sized so that
// every request of one may fail and still fit (batchLimits), and ENOBUFS
// is reported as the batch's outcome being unknown, never as success.

// routeOp is what a batch asks of the kernel for each route.
type routeOp struct {
	msgType uint16
	flags   uint16
	// verb names the request in an error, as `ip route VERB`.
	verb string
	// done is the errno that means the route is already as asked (a
	// delete of a route that is gone), 0 for none.
	done syscall.Errno
	// keyOnly: the request names the route by its key, not its next hop
	// (appendRouteMsg).
	keyOnly bool
}

var (
	// opReplace is `ip route replace`: create or replace.
	opReplace = routeOp{msgType: unix.RTM_NEWROUTE, flags: unix.NLM_F_CREATE | unix.NLM_F_REPLACE, verb: "replace"}
	// opDelete is `ip route del`; a route already gone is no error.
	opDelete = routeOp{msgType: unix.RTM_DELROUTE, verb: "del", done: unix.ESRCH, keyOnly: true}
)

const (
	// socketBuffer is the send and receive buffer asked for (the kernel
	// doubles it); without CAP_NET_ADMIN the system maximum applies and
	// batches shrink to fit what the socket got.
	socketBuffer = 4 << 20
	// errorAckSize bounds what one failure's answer (a capped
	// NLMSG_ERROR with an extended-ack message) costs in the receive
	// buffer: its skb's truesize.
	errorAckSize = 2048
	// maxRouteMsg is room for the request that takes a batch past its
	// maxBytes (header, rtmsg and attributes: about 100 bytes with a
	// few labels). A longer one still fits: the send buffer holds
	// twice maxBytes.
	maxRouteMsg = 512
	// maxBatch bounds the requests of one write.
	maxBatch = 4096
)

// replaceRoutes installs routes with RTM_NEWROUTE (create or replace)
// and returns every route the kernel refused, named.
func (b *Backend) replaceRoutes(routes []*netlink.Route) error {
	return b.writeRoutes(opReplace, routes)
}

// deleteRoutes removes routes with RTM_DELROUTE and returns every route
// the kernel could not delete, named; a route already gone is no error.
func (b *Backend) deleteRoutes(routes []*netlink.Route) error {
	return b.writeRoutes(opDelete, routes)
}

// writeRoutes asks op of the kernel for every route, in batches (see
// above), and returns each failure named by its route; a route that
// cannot be encoded is named and not sent.
func (b *Backend) writeRoutes(op routeOp, routes []*netlink.Route) error {
	if len(routes) == 0 {
		return nil
	}
	s, err := b.openBatchSocket()
	if err != nil {
		return err
	}
	defer unix.Close(s.fd)
	return s.write(op, routes)
}

// write is writeRoutes on s.
func (s *batchSocket) write(op routeOp, routes []*netlink.Route) error {
	var errs []error
	buf := make([]byte, 0, s.maxBytes+maxRouteMsg)
	rbuf := make([]byte, 1<<16)
	for start := 0; start < len(routes); {
		buf = buf[:0]
		last, lastOff := -1, 0 // the batch's last encoded route and where its request starts
		end := start
		for ; end < len(routes) && end-start < s.maxRoutes && len(buf) < s.maxBytes; end++ {
			// seq is the route's index + 1: the answer names its route.
			off := len(buf)
			out, err := appendRouteMsg(buf, routes[end], op, uint32(end+1))
			if err != nil {
				errs = append(errs, fmt.Errorf("ip route %s %s: %w", op.verb, routeKey(routes[end]), err))
				continue
			}
			buf, last, lastOff = out, end, off
		}
		if last >= 0 {
			// The last request asks for the ACK that closes the batch.
			setAck(buf[lastOff:])
			errs = append(errs, s.exchange(buf, rbuf, uint32(last+1), func(seq uint32, errno syscall.Errno, msg string) error {
				i := int(seq) - 1
				if i < start || i >= end {
					return nil // not this batch's: nothing of ours
				}
				if errno == op.done {
					return nil
				}
				if msg != "" {
					return fmt.Errorf("ip route %s %s: %w (%s)", op.verb, routeKey(routes[i]), errno, msg)
				}
				return fmt.Errorf("ip route %s %s: %w", op.verb, routeKey(routes[i]), errno)
			}, start, end)...)
		}
		start = end
	}
	// Routes come in no particular order (routeChanges); their errors
	// read the same from one Apply to the next.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// batchSocket is a NETLINK_ROUTE socket sized for batches: at most
// maxRoutes requests (so that all of them may fail and their answers
// still fit the receive buffer) and about maxBytes per write.
type batchSocket struct {
	fd                  int
	maxRoutes, maxBytes int
}

func (b *Backend) openBatchSocket() (*batchSocket, error) {
	var fd int
	open := func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	}
	if err := b.inNS(open); err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF)
	setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF)
	// Answers carry the failed request's header only, not the request,
	// and the kernel's reason as text where it gives one.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	rcv, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink SO_RCVBUF: %w", err)
	}
	snd, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink SO_SNDBUF: %w", err)
	}
	return &batchSocket{fd: fd, maxRoutes: batchLimit(rcv), maxBytes: max(maxRouteMsg, snd/2-maxRouteMsg)}, nil
}

// batchLimit is how many requests a batch may hold with a receive buffer
// of rcvbuf bytes: all of them may fail, and their answers (and the
// closing ACK) must fit.
func batchLimit(rcvbuf int) int {
	return min(maxBatch, max(1, rcvbuf/errorAckSize-1))
}

// setBuffer asks for socketBuffer with force (CAP_NET_ADMIN), else up to
// the system's maximum.
func setBuffer(fd, force, plain int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, socketBuffer) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, socketBuffer)
	}
}

// exchange writes one batch and reads answers until the one to lastSeq,
// handing every failure to fail, which names it (or returns nil when it
// is no failure). Lost answers (ENOBUFS) leave the routes of first..end
// unknown: that is an error naming them, never success.
func (s *batchSocket) exchange(out, rbuf []byte, lastSeq uint32, fail func(seq uint32, errno syscall.Errno, msg string) error, first, end int) []error {
	if err := unix.Sendto(s.fd, out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return []error{fmt.Errorf("netlink write of routes %d to %d: %w", first+1, end, err)}
	}
	var errs []error
	for {
		n, _, err := unix.Recvfrom(s.fd, rbuf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return append(errs, fmt.Errorf("netlink read: the kernel's answers to routes %d to %d were lost, some may be applied: %w", first+1, end, err))
		}
		closed := false
		for msg := rbuf[:n]; len(msg) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(msg))
			if l < unix.NLMSG_HDRLEN || l > len(msg) {
				return append(errs, fmt.Errorf("netlink read: a message of %d bytes in %d", l, len(msg)))
			}
			typ := binary.NativeEndian.Uint16(msg[4:])
			seq := binary.NativeEndian.Uint32(msg[8:])
			if typ == unix.NLMSG_ERROR {
				errno, text, ok := parseAck(msg[:l])
				if !ok {
					return append(errs, fmt.Errorf("netlink read: a short NLMSG_ERROR (%d bytes)", l))
				}
				if errno != 0 {
					if err := fail(seq, errno, text); err != nil {
						errs = append(errs, err)
					}
				}
				closed = closed || seq == lastSeq
			}
			msg = msg[min(nlmsgAlign(l), len(msg)):]
		}
		if closed {
			return errs
		}
	}
}

// parseAck reads an NLMSG_ERROR message: the errno (0 for an ACK) and the
// kernel's extended-ack text, if any.
func parseAck(m []byte) (errno syscall.Errno, text string, ok bool) {
	const errHdr = unix.NLMSG_HDRLEN + 4 // header, then the int32 error
	if len(m) < errHdr+unix.NLMSG_HDRLEN {
		return 0, "", false
	}
	flags := binary.NativeEndian.Uint16(m[6:])
	errno = syscall.Errno(-int32(binary.NativeEndian.Uint32(m[unix.NLMSG_HDRLEN:])))
	if flags&unix.NLM_F_ACK_TLVS == 0 {
		return errno, "", true
	}
	tlvs := errHdr + unix.NLMSG_HDRLEN // capped: the request's header only
	if flags&unix.NLM_F_CAPPED == 0 {
		tlvs = errHdr + nlmsgAlign(int(binary.NativeEndian.Uint32(m[errHdr:])))
	}
	for a := m[min(tlvs, len(m)):]; len(a) >= 4; {
		l := int(binary.NativeEndian.Uint16(a))
		if l < 4 || l > len(a) {
			break
		}
		if binary.NativeEndian.Uint16(a[2:])&^unix.NLA_F_NESTED == unix.NLMSGERR_ATTR_MSG {
			s := a[4:l]
			for len(s) > 0 && s[len(s)-1] == 0 {
				s = s[:len(s)-1]
			}
			text = string(s)
		}
		a = a[min(nlmsgAlign(l), len(a)):]
	}
	return errno, text, true
}

func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
