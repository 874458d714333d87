// Package nlbatch writes rtnetlink requests (routes and policy rules) in
// batches, for both fib backends: many requests to a write, and only the
// last request of a write asks for an acknowledgement (NLM_F_ACK):
//
//	sendto: NEWROUTE seq 1 | NEWROUTE seq 2 | ... | NEWROUTE seq n, NLM_F_ACK
//	recv:   [NLMSG_ERROR seq i, errno]...  NLMSG_ERROR seq n (0 or errno)
//
// The kernel handles a write's requests in order and answers a request
// without NLM_F_ACK only if it fails, so once the answer to seq n is read
// every failure of the write has been read before it, each named by its
// sequence number. vishvananda/netlink (and `ip -batch`) wait for an ACK
// per request instead: one round trip, and one acknowledgement built and
// copied, per route. A batch costs one round trip (fib/kernel's make
// bench-vm: 100,000 routes in 0.3 of `ip -batch`'s time), which is what
// makes a million-route VRF (fib/kernel) or thousands of VRFs
// (fib/userspace, make bench-scale) quick to install.
//
// A failure the kernel cannot queue (the socket's receive buffer is full)
// is lost, and the socket reports ENOBUFS: batches are sized so that
// every request of one may fail and still fit (batchLimit), and a lost
// answer is reported as the batch's outcome being unknown
// (ErrOutcomeUnknown), naming its requests, never as success.
//
// Requests are encoded straight into the batch's buffer (AppendRouteMsg,
// AppendRuleMsg): no allocation per route.
package nlbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
	// maxMsg is room for the request that takes a batch past its
	// maxBytes (header, rtmsg and attributes: about 100 bytes with a
	// few labels). A longer one still fits: the send buffer holds
	// twice maxBytes.
	maxMsg = 512
	// maxBatch bounds the requests of one write.
	maxBatch = 4096
	// answerTimeout bounds a wait for the kernel's answers.
	answerTimeout = 10 * time.Second
)

// Conn is a NETLINK_ROUTE socket sized for batches: at most maxReqs
// requests (so that all of them may fail and their answers still fit
// the receive buffer) and about maxBytes per write. Not safe for
// concurrent use.
type Conn struct {
	fd                int
	maxReqs, maxBytes int
	rbuf              []byte
	// seq is the sequence number of the last request sent: every
	// request of the socket has its own, so an answer left from an
	// earlier Write (one whose answers were lost) is never taken for
	// one of this Write's.
	seq uint32
	// writes counts the batches written.
	writes int
}

// Open returns a Conn in the calling thread's network namespace.
func Open() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF)
	setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF)
	// Answers carry the failed request's header only, not the request,
	// and the kernel's reason as text where it gives one.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	// The kernel answers a batch while it is written (sendto), so a read
	// that waits this long waits for an answer that was dropped: its
	// batch's outcome is unknown, an error, never a hang.
	tv := unix.NsecToTimeval(answerTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink SO_RCVTIMEO: %w", err)
	}
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
	return &Conn{fd: fd, maxReqs: batchLimit(rcv), maxBytes: max(maxMsg, snd/2-maxMsg), rbuf: make([]byte, 1<<16)}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }

// Writes is how many batches c has written: each one write and one
// round trip.
func (c *Conn) Writes() int { return c.writes }

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

// Requests are the n requests of one kind that a Write sends.
type Requests struct {
	// N is how many.
	N int
	// Append appends request i to buf, with sequence number seq and
	// without NLM_F_ACK, and returns the longer buffer; on error, buf as
	// it was (AppendRouteMsg).
	Append func(buf []byte, i int, seq uint32) ([]byte, error)
	// Name names request i in an error, as the ip command that makes it
	// ("ip route replace 10.2.0.0/24 table 1000"). Called only for
	// requests that failed.
	Name func(i int) string
	// Done is the errno that means a request is already as asked (a
	// delete of what is gone), 0 for none.
	Done syscall.Errno
}

// Write sends every request of reqs, in batches (see the package
// documentation), and returns each failure named by its request: one
// that could not be encoded (not sent), one the kernel refused (its
// errno and the kernel's reason), and, for a batch whose answers were
// lost, ErrOutcomeUnknown naming its requests. The errors are sorted:
// requests come in no particular order (from maps), and their errors
// read the same from one call to the next.
func (c *Conn) Write(reqs Requests) error {
	if reqs.N == 0 {
		return nil
	}
	var errs []error
	base := c.seq
	c.seq += uint32(reqs.N)
	// seq is base + the request's index + 1: the answer names its request.
	index := func(seq uint32) int { return int(seq-base) - 1 }
	buf := make([]byte, 0, min(c.maxBytes, reqs.N*maxMsg)+maxMsg)
	for start := 0; start < reqs.N; {
		buf = buf[:0]
		last, lastOff := -1, 0 // the batch's last encoded request and where it starts
		end := start
		for ; end < reqs.N && end-start < c.maxReqs && len(buf) < c.maxBytes; end++ {
			off := len(buf)
			out, err := reqs.Append(buf, end, base+uint32(end)+1)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", reqs.Name(end), err))
				continue
			}
			buf, last, lastOff = out, end, off
		}
		if last >= 0 {
			// The last request asks for the ACK that closes the batch.
			setAck(buf[lastOff:])
			c.writes++
			errs = append(errs, c.exchange(buf, base+uint32(last)+1, func(seq uint32, errno syscall.Errno, msg string) error {
				i := index(seq)
				if i < start || i >= end || errno == reqs.Done {
					return nil // not this batch's, or no failure
				}
				if msg != "" {
					return fmt.Errorf("%s: %w (%s)", reqs.Name(i), errno, msg)
				}
				return fmt.Errorf("%s: %w", reqs.Name(i), errno)
			}, func(err error) error {
				return fmt.Errorf("%w: %d requests, %s to %s: the kernel's answers were lost, some may be applied: %w",
					ErrOutcomeUnknown, end-start, reqs.Name(start), reqs.Name(last), err)
			})...)
		}
		start = end
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// exchange writes one batch and reads answers until the one to lastSeq,
// handing every failure to fail, which names it (or returns nil when it
// is no failure). A write or read that fails leaves the batch's outcome
// unknown: lost names its requests in an error, never success.
func (c *Conn) exchange(out []byte, lastSeq uint32, fail func(seq uint32, errno syscall.Errno, msg string) error, lost func(error) error) []error {
	if err := unix.Sendto(c.fd, out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return []error{lost(fmt.Errorf("netlink write: %w", err))}
	}
	var errs []error
	for {
		n, _, err := unix.Recvfrom(c.fd, c.rbuf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			c.drain()
			return append(errs, lost(fmt.Errorf("netlink read: %w", err)))
		}
		closed := false
		for msg := c.rbuf[:n]; len(msg) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(msg))
			if l < unix.NLMSG_HDRLEN || l > len(msg) {
				return append(errs, lost(fmt.Errorf("netlink read: a message of %d bytes in %d", l, len(msg))))
			}
			typ := binary.NativeEndian.Uint16(msg[4:])
			seq := binary.NativeEndian.Uint32(msg[8:])
			if typ == unix.NLMSG_ERROR {
				errno, text, ok := parseAck(msg[:l])
				if !ok {
					return append(errs, lost(fmt.Errorf("netlink read: a short NLMSG_ERROR (%d bytes)", l)))
				}
				if errno != 0 {
					if err := fail(seq, errno, text); err != nil {
						errs = append(errs, err)
					}
				}
				closed = closed || seq == lastSeq
			}
			msg = msg[min(Align(l), len(msg)):]
		}
		if closed {
			return errs
		}
	}
}

// drain reads and drops every answer queued on the socket. After an
// overrun (ENOBUFS) the kernel drops every answer for the socket until
// its queue has been emptied once, the next batch's closing ACK
// included: a Conn that lost answers would otherwise wait for that ACK
// in vain. Answers to the lost batch read later would be ignored anyway
// (their sequence numbers are no later batch's).
func (c *Conn) drain() {
	for range 1 << 16 {
		_, _, err := unix.Recvfrom(c.fd, c.rbuf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return
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
		tlvs = errHdr + Align(int(binary.NativeEndian.Uint32(m[errHdr:])))
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
		a = a[min(Align(l), len(a)):]
	}
	return errno, text, true
}
