package esptransport

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// Batch is the argument block of one sendmmsg or recvmmsg call, allocated
// once per goroutine (Init): message headers, one iovec and one socket
// address each. The RawConn callbacks are method values made once too, so that a
// call allocates nothing.
type Batch struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []Addr
	n     int // messages queued (send) or received (recv)

	// Sending: message i carries segs[i] packets (iovecs from iov[i]),
	// all of size[i] bytes but the last, bytes[i] in all, to
	// destination to[i]; ctrl holds each message's UDP_SEGMENT control message.
	niov  int
	segs  []int
	size  []int
	bytes []int
	to    []*Dest
	ctrl  []byte

	done    int        // sendmmsg: messages sent so far
	errno   unix.Errno // the call's error, 0 if none
	readFn  func(uintptr) bool
	writeFn func(uintptr) bool
}

// Init allocates room for n messages.
func (m *Batch) Init(n int) {
	m.hdrs = make([]unix.Mmsghdr, n)
	m.iovs = make([]unix.Iovec, n)
	m.names = make([]Addr, n)
	m.segs, m.size, m.bytes = make([]int, n), make([]int, n), make([]int, n)
	m.to = make([]*Dest, n)
	m.ctrl = make([]byte, n*ctrlSpace)
	for i := range m.hdrs {
		h := &m.hdrs[i].Hdr
		h.Iov = &m.iovs[i]
		h.SetIovlen(1)
		h.Name = &m.names[i].raw[0]
		h.Namelen = uint32(len(m.names[i].raw))
	}
	m.readFn = m.recv
	m.writeFn = m.send
}

// SetBufs points message i's iovec at bufs[i][off:], for receiving.
func (m *Batch) SetBufs(bufs [][]byte, off int) {
	for i, b := range bufs {
		m.iovs[i].Base = &b[off]
		m.iovs[i].SetLen(len(b) - off)
	}
}

// send runs sendmmsg from message m.done on; RawConn.Write calls it when
// the socket may be writable.
func (m *Batch) send(fd uintptr) bool {
	n, e, ready := Mmsg(unix.SYS_SENDMMSG, fd, m.hdrs[m.done:m.n], 0)
	m.done += n
	if e != 0 {
		m.errno = e
	}
	return ready
}

// recv runs recvmmsg into every message; RawConn.Read calls it when the
// socket may be readable.
func (m *Batch) recv(fd uintptr) bool {
	n, e, ready := Mmsg(unix.SYS_RECVMMSG, fd, m.hdrs, unix.MSG_DONTWAIT)
	if e != 0 {
		m.errno = e
	} else if ready {
		m.n = n
	}
	return ready
}

// SendMmsg sends the messages queued in m and returns how many packets
// were lost. sendmmsg reports an error only for the first message it could not
// send; that one is counted lost and the rest retried.
func (s *Socket) SendMmsg(m *Batch) (lost int) {
	m.done = 0
	for m.done < m.n {
		m.errno = 0
		if err := s.rc.Write(m.writeFn); err != nil {
			for ; m.done < m.n; m.done++ { // closed
				lost += m.segs[m.done]
			}
			return lost
		}
		if m.errno != 0 {
			if m.segs[m.done] > 1 && s.gso.Swap(false) {
				// EIO: no checksum offload on the way out; EINVAL:
				// segments above the path MTU. Send one by one.
				s.log.Warn("UDP GSO send failed; sending one datagram per packet from now on", "err", m.errno)
			}
			lost += m.segs[m.done]
			m.done++
		}
	}
	return lost
}

// RecvMmsg receives up to len(m.hdrs) datagrams into the buffers SetBufs
// gave m. It returns how many arrived; Len and From tell their lengths
// and sources. A non-nil error other than unix.Errno
// means the socket was closed.
func (s *Socket) RecvMmsg(m *Batch) (int, error) {
	for i := range m.hdrs {
		h := &m.hdrs[i].Hdr
		h.Namelen = uint32(len(m.names[i].raw))
		h.Flags = 0
		if h.Control != nil {
			h.SetControllen(ctrlSpace)
		}
	}
	m.n, m.errno = 0, 0
	if err := s.rc.Read(m.readFn); err != nil {
		return 0, err
	}
	if m.errno != 0 {
		return 0, m.errno
	}
	return m.n, nil
}

// Truncated reports whether received message i did not fit its buffer.
func (m *Batch) Truncated(i int) bool { return m.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 }

// Len is the length of received message i.
func (m *Batch) Len(i int) int { return int(m.hdrs[i].Len) }

// From is the source of received message i.
func (m *Batch) From(i int) netip.AddrPort { return m.names[i].AddrPort() }
