package esptransport

import (
	"errors"
	"net"
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/wire"
	"golang.org/x/sys/unix"
)

// Handler takes what Receive reads off a socket, on Receive's goroutine.
// Its methods must not keep buf or body past the call but as they say.
type Handler interface {
	// ESP takes one ESP packet, buf[off:off+n], with off bytes of
	// headroom in front, from from (port 0 for raw ESP). inRun: the packet is one of a UDP GRO run, and
	// the bytes after it are the next packet's (copy what is kept past
	// the run); otherwise the packet has its buffer to itself until
	// Flush.
	ESP(buf []byte, off, n int, from netip.AddrPort, inRun bool)
	// Control takes what is not ESP: an IKE message (d.Body, after
	// the non-ESP marker), a NAT-keepalive or a malformed datagram.
	Control(d Datagram)
	// Flush ends a batch; the buffers are then reused.
	Flush()
}

// Receive reads batches off s into bufs (headroom bytes in front of each
// datagram), demultiplexes each datagram and hands it to h, until s is
// closed; then it returns nil. It cuts UDP GRO runs up again. What does
// not fit its buffer is malformed. Per packet it allocates nothing.
func (s *Socket) Receive(bufs [][]byte, headroom int, h Handler) error {
	var m Batch
	m.Init(len(bufs))
	m.SetBufs(bufs, headroom)
	if s.gro {
		m.SetControl()
	}
	for {
		n, err := s.RecvMmsg(&m)
		if err != nil {
			var errno unix.Errno
			if errors.As(err, &errno) {
				continue // an ICMP error queued on the socket, say
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		for i := range n {
			s.deliver(&m, i, bufs[i], headroom, h)
		}
		h.Flush()
	}
}

// deliver hands received message i, in buf at off, to h.
func (s *Socket) deliver(m *Batch, i int, buf []byte, off int, h Handler) {
	size := m.Len(i)
	if m.Truncated(i) {
		h.Control(Datagram{Kind: wire.KindMalformed, From: m.From(i)})
		return
	}
	if s.udp {
		if seg := m.GROSize(i); seg > 0 && seg < size {
			from := m.From(i)
			for o := 0; o < size; o += seg {
				dispatch(h, DemuxUDP(buf, off+o, min(seg, size-o), from), buf, true)
			}
			return
		}
	}
	dispatch(h, s.Demux(m, i, buf, off, size), buf, false)
}

func dispatch(h Handler, d Datagram, buf []byte, inRun bool) {
	if d.Kind == wire.KindESP {
		h.ESP(buf, d.ESPOff, d.ESPLen, d.From, inRun)
		return
	}
	h.Control(d)
}
