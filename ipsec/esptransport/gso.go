package esptransport

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP segmentation offload on the send side. Packets that follow each
// other in a batch, go to the same tunnel and have the same size (the
// last may be shorter) become one sendmmsg message: an iovec per packet,
// no copy, and a UDP_SEGMENT control message with the size. The kernel
// takes the whole run through its UDP and IP stacks once and cuts it into
// datagrams at the device, as wireguard-go does. A TCP flow's segments,
// which the TUN hands over as a run of equal-sized packets, are the case
// this is for.
const (
	// maxGSOSegments is the kernel's UDP_MAX_SEGMENTS (older kernels).
	maxGSOSegments = 64
	// maxGSOBytes keeps a run within one IP packet's length field.
	maxGSOBytes = 65535 - 8 - 40
)

// SendBatch is a batch of ESP packets sorted by socket, each with its
// destination, coalesced for GSO where the socket allows.
type SendBatch struct {
	udp, raw Batch
	gso      bool
}

// NewSendBatch returns a SendBatch for up to n packets of each kind.
func NewSendBatch(n int) *SendBatch {
	b := &SendBatch{}
	b.udp.Init(n)
	b.raw.Init(n)
	return b
}

// Reset empties the batch; gso says whether to coalesce its UDP packets.
func (b *SendBatch) Reset(gso bool) {
	b.udp.n, b.udp.niov = 0, 0
	b.raw.n, b.raw.niov = 0, 0
	b.gso = gso
}

// Add queues pkt for t. It allocates nothing.
func (b *SendBatch) Add(pkt []byte, t *Dest) {
	m := &b.raw
	if t.udp {
		m = &b.udp
		if b.gso && m.n > 0 && m.join(m.n-1, pkt, t) {
			return
		}
	}
	i, v := m.n, m.niov
	m.iovs[v].Base = &pkt[0]
	m.iovs[v].SetLen(len(pkt))
	h := &m.hdrs[i].Hdr
	h.Iov = &m.iovs[v]
	h.SetIovlen(1)
	h.Control, h.Controllen = nil, 0
	m.names[i] = t.addr
	h.Namelen = t.addr.len
	m.segs[i], m.size[i], m.bytes[i], m.to[i] = 1, len(pkt), len(pkt), t
	m.n++
	m.niov++
}

// join appends pkt to message i if GSO can carry them together, and
// writes or updates the message's UDP_SEGMENT control message.
func (m *Batch) join(i int, pkt []byte, t *Dest) bool {
	last := m.bytes[i] - (m.segs[i]-1)*m.size[i] // the message's last packet
	if m.to[i] != t || m.segs[i] == maxGSOSegments || m.bytes[i]+len(pkt) > maxGSOBytes ||
		len(pkt) > m.size[i] || last != m.size[i] {
		return false
	}
	v := m.niov
	m.iovs[v].Base = &pkt[0]
	m.iovs[v].SetLen(len(pkt))
	m.niov++
	m.segs[i]++
	m.bytes[i] += len(pkt)
	h := &m.hdrs[i].Hdr
	h.SetIovlen(m.segs[i])
	if m.segs[i] == 2 {
		c := m.ctrl[i*ctrlSpace : (i+1)*ctrlSpace]
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
		cm.SetLen(unix.CmsgLen(2))
		*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16(m.size[i])
		h.Control = &c[0]
		h.SetControllen(unix.CmsgSpace(2))
	}
	return true
}

// Messages is how many sendmmsg messages the batch holds, UDP and raw:
// with GSO, fewer than its packets.
func (b *SendBatch) Messages() (udp, raw int) { return b.udp.n, b.raw.n }

// SendRaw sends the batch's raw messages on s, which need not be a
// Sockets' (the userspace fast path sends AH, IP protocol 51, this way),
// and returns how many packets were lost.
func (b *SendBatch) SendRaw(s *Socket) (lost int) { return s.SendMmsg(&b.raw) }

// SendUDP sends the batch's UDP messages on s, which need not be a
// Sockets' (tests send between loopback sockets), and returns how many
// packets were lost.
func (b *SendBatch) SendUDP(s *Socket) (lost int) { return s.SendMmsg(&b.udp) }
