package userspace

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP generic receive offload. With UDP_GRO on the socket, the kernel
// hands over a run of datagrams from one sender as one message, back to
// back at a stride it reports in a UDP_GRO control message: the other end
// of sendBatch's GSO (a GSO run crosses a veth whole, and a NIC's GRO
// rebuilds one), saving the UDP stack's per-datagram work. Each ESP packet
// of the run is opened in place, in order; Open's scratch bytes in front of
// one are the previous one's ICV, already used. The inner packets are then
// copied out to write buffers of their own, because the TUN's GRO
// coalesces TCP segments by appending to a packet's buffer, which here
// would run over the next packet.

// ctrlSpace is the control buffer of one message: a UDP_SEGMENT (uint16)
// to send or a UDP_GRO (int) received.
var ctrlSpace = max(unix.CmsgSpace(2), unix.CmsgSpace(4))

// setControl points every message's control buffer at its slot in m.ctrl,
// for receiving UDP_GRO sizes.
func (m *mmsgs) setControl() {
	for i := range m.hdrs {
		h := &m.hdrs[i].Hdr
		h.Control = &m.ctrl[i*ctrlSpace]
		h.SetControllen(ctrlSpace)
	}
}

// groSize returns the segment size the kernel reported for received
// message i, or 0 if it is a single datagram.
func (m *mmsgs) groSize(i int) int {
	h := &m.hdrs[i].Hdr
	if h.Control == nil || int(h.Controllen) < unix.CmsgLen(4) {
		return 0
	}
	c := m.ctrl[i*ctrlSpace : (i+1)*ctrlSpace]
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
	if cm.Level != unix.SOL_UDP || cm.Type != unix.UDP_GRO || int(cm.Len) < unix.CmsgLen(4) {
		return 0
	}
	return int(*(*int32)(unsafe.Pointer(&c[unix.CmsgLen(0)])))
}

// segments opens each ESP packet of a GRO run, buf[off:off+n] cut every
// seg bytes, and queues the inner packets on w.
func (b *Backend) segments(w *tunWriter, buf []byte, off, n, seg int, from netip.AddrPort) {
	for o := 0; o < n; o += seg {
		v, io, il, _ := b.dp.inboundUDP(buf, off+o, min(seg, n-o), from)
		if v != nil {
			w.copyIn(v, buf[io:io+il])
		}
	}
}

// tunWriter gathers the inner packets of a received batch and writes each
// VRF's to its TUN, in order. Packets stay in their receive buffers, with
// tunOffset bytes of headroom, except those of GRO runs, copied to wbufs.
type tunWriter struct {
	out     []delivery
	scratch [][]byte
	wbufs   [][]byte
	nw      int // wbufs in use
}

func newTUNWriter(copyBufs int) *tunWriter {
	return &tunWriter{
		out:     make([]delivery, 0, batchSize),
		scratch: make([][]byte, 0, batchSize),
		wbufs:   newBufs(copyBufs, tunOffset+maxDatagram),
	}
}

// inPlace queues pkt (tunOffset bytes of headroom, then the inner packet).
func (w *tunWriter) inPlace(v *vrf, pkt []byte) {
	if len(w.out) == cap(w.out) {
		w.flush()
	}
	w.out = append(w.out, delivery{v, pkt})
}

// copyIn queues a copy of inner.
func (w *tunWriter) copyIn(v *vrf, inner []byte) {
	if w.nw == len(w.wbufs) || len(w.out) == cap(w.out) {
		w.flush()
	}
	buf := w.wbufs[w.nw]
	w.nw++
	n := copy(buf[tunOffset:], inner)
	w.out = append(w.out, delivery{v, buf[:tunOffset+n]})
}

func (w *tunWriter) flush() {
	writeTUNs(w.out, w.scratch)
	w.out, w.nw = w.out[:0], 0
}
