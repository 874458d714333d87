package userspace

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/ipsec/esptransport"
)

// coreSocket is an AF_PACKET socket on one core interface, bound to MPLS
// unicast frames (ETH_P_MPLS_UC): whole Ethernet frames in both
// directions (SOCK_RAW), the header written by the fast path. It is
// non-blocking and in Go's poller, so Close wakes a reader blocked in
// recv. Its own outgoing frames are not read back
// (PACKET_IGNORE_OUTGOING, and the packet type where the kernel predates
// it).
type coreSocket struct {
	f  *os.File
	rc syscall.RawConn
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openCoreSocket opens the socket on interface ifindex.
func openCoreSocket(ifindex int) (*coreSocket, error) {
	proto := htons(unix.ETH_P_MPLS_UC)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding the packet socket to interface %d: %w", ifindex, err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1) // Linux 4.20+
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
	f := os.NewFile(uintptr(fd), "mpls-packet")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &coreSocket{f: f, rc: rc}, nil
}

// Close closes the socket; a blocked recv returns.
func (s *coreSocket) Close() error { return s.f.Close() }

// frameBatch is the argument block of one sendmmsg or recvmmsg on a
// coreSocket, allocated once per goroutine, as esptransport.Batch is for
// the ESP sockets: nothing is allocated per call.
type frameBatch struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrLinklayer // received frames' addresses (packet type)
	n     int                         // frames queued (send) or received (recv)
	done  int                         // sendmmsg: frames sent so far
	errno unix.Errno

	readFn, writeFn func(uintptr) bool
}

func newFrameBatch(n int) *frameBatch {
	m := &frameBatch{
		hdrs:  make([]unix.Mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrLinklayer, n),
	}
	for i := range m.hdrs {
		h := &m.hdrs[i].Hdr
		h.Iov = &m.iovs[i]
		h.SetIovlen(1)
	}
	m.readFn, m.writeFn = m.recvmmsg, m.sendmmsg
	return m
}

// add queues frame for sending; it reports false when the batch is full.
func (m *frameBatch) add(frame []byte) bool {
	if m.n == len(m.hdrs) {
		return false
	}
	m.iovs[m.n].Base = &frame[0]
	m.iovs[m.n].SetLen(len(frame))
	h := &m.hdrs[m.n].Hdr
	h.Name, h.Namelen = nil, 0 // the socket is bound: its interface and protocol
	m.n++
	return true
}

func (m *frameBatch) sendmmsg(fd uintptr) bool {
	n, e, ready := esptransport.Mmsg(unix.SYS_SENDMMSG, fd, m.hdrs[m.done:m.n], 0)
	m.done += n
	if e != 0 {
		m.errno = e
	}
	return ready
}

func (m *frameBatch) recvmmsg(fd uintptr) bool {
	n, e, ready := esptransport.Mmsg(unix.SYS_RECVMMSG, fd, m.hdrs, unix.MSG_DONTWAIT)
	if e != 0 {
		m.errno = e
	} else if ready {
		m.n = n
	}
	return ready
}

// send sends the queued frames, empties the batch and returns how many
// were lost (a frame the kernel refused is counted and skipped).
func (s *coreSocket) send(m *frameBatch) (lost int) {
	m.done = 0
	for m.done < m.n {
		m.errno = 0
		if err := s.rc.Write(m.writeFn); err != nil {
			lost += m.n - m.done // closed
			break
		}
		if m.errno != 0 {
			lost++
			m.done++
		}
	}
	m.n = 0
	return lost
}

// setBufs points frame i's iovec at bufs[i][off:], for receiving.
func (m *frameBatch) setBufs(bufs [][]byte, off int) {
	for i, b := range bufs {
		m.iovs[i].Base = &b[off]
		m.iovs[i].SetLen(len(b) - off)
	}
}

// errSocketClosed is recv's answer once the socket is closed.
var errSocketClosed = errors.New("packet socket closed")

// recv receives up to a batch of frames into the buffers setBufs gave m
// and returns how many arrived; length and pktType say what each is.
func (s *coreSocket) recv(m *frameBatch) (int, error) {
	for i := range m.hdrs {
		h := &m.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		h.Namelen = unix.SizeofSockaddrLinklayer
		h.Flags = 0
	}
	m.n, m.errno = 0, 0
	if err := s.rc.Read(m.readFn); err != nil {
		return 0, errSocketClosed
	}
	if m.errno != 0 {
		return 0, m.errno
	}
	return m.n, nil
}

// length is received frame i's length; truncated frames (larger than
// their buffer) report 0, which the frame parser drops.
func (m *frameBatch) length(i int) int {
	if m.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
		return 0
	}
	return int(m.hdrs[i].Len)
}

// pktType is received frame i's sll_pkttype (PACKET_HOST, ...).
func (m *frameBatch) pktType(i int) uint8 { return m.names[i].Pkttype }
