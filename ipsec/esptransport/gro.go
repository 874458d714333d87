package esptransport

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP generic receive offload. With UDP_GRO on the socket, the kernel
// hands over a run of datagrams from one sender as one message, back to
// back at a stride it reports in a UDP_GRO control message: the other end
// of SendBatch's GSO (a GSO run crosses a veth whole, and a NIC's GRO
// rebuilds one), saving the UDP stack's per-datagram work. The receiver
// cuts the run up again (GROSize tells where).

// ctrlSpace is the control buffer of one message: a UDP_SEGMENT (uint16)
// to send or a UDP_GRO (int) received.
var ctrlSpace = max(unix.CmsgSpace(2), unix.CmsgSpace(4))

// SetControl points every message's control buffer at its slot, for
// receiving UDP_GRO sizes: call it once for a socket whose GRO is on.
func (m *Batch) SetControl() {
	for i := range m.hdrs {
		h := &m.hdrs[i].Hdr
		h.Control = &m.ctrl[i*ctrlSpace]
		h.SetControllen(ctrlSpace)
	}
}

// GROSize returns the segment size the kernel reported for received
// message i, or 0 if it is a single datagram.
func (m *Batch) GROSize(i int) int {
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
