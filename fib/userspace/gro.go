package userspace

// UDP generic receive offload (ipsec/esptransport's gro.go): each ESP packet
// of the run is opened in place, in order; Open's scratch bytes in front of
// one are the previous one's ICV, already used. The inner packets are then
// copied out to write buffers of their own, because the TUN's GRO
// coalesces TCP segments by appending to a packet's buffer, which here
// would run over the next packet.

// tunWriter gathers the inner packets of a received batch and writes each
// VRF's to its TUN, in order. Packets stay in their receive buffers, with
// tunOffset bytes of headroom, except those of GRO runs, copied to
// copies' buffers.
type tunWriter struct {
	out     []delivery
	scratch [][]byte
	copies  bufBlock
	nw      int // copies' buffers in use
}

func newTUNWriter(copyBufs int) *tunWriter {
	return &tunWriter{
		out:     make([]delivery, 0, batchSize),
		scratch: make([][]byte, 0, batchSize),
		copies:  takeBufs(copyBufs, tunOffset+maxDatagram),
	}
}

// release gives the write buffers back (bufmem.go); w must not be used
// after it.
func (w *tunWriter) release() { w.copies.release() }

// inPlace queues pkt (tunOffset bytes of headroom, then the inner
// packet), opened by an SA of lane lane.
func (w *tunWriter) inPlace(v *vrf, lane int, pkt []byte) {
	if len(w.out) == cap(w.out) {
		w.flush()
	}
	w.out = append(w.out, delivery{v, lane, pkt})
}

// copyIn queues a copy of inner, opened by an SA of lane lane.
func (w *tunWriter) copyIn(v *vrf, lane int, inner []byte) {
	if w.nw == len(w.copies.bufs) || len(w.out) == cap(w.out) {
		w.flush()
	}
	buf := w.copies.bufs[w.nw]
	w.nw++
	n := copy(buf[tunOffset:], inner)
	w.out = append(w.out, delivery{v, lane, buf[:tunOffset+n]})
}

func (w *tunWriter) flush() {
	writeTUNs(w.out, w.scratch)
	w.out, w.nw = w.out[:0], 0
}
