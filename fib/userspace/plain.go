package userspace

import (
	"net/netip"
	"sync/atomic"

	"github.com/peregrine-net/peregrine/mpls"
	"golang.org/x/sys/unix"
)

// Plain MPLS to unprotected peers (fib.State.IsUnprotected), on kernels
// without MPLS forwarding: the fast path frames the labelled packet itself
// and sends it on a core interface (one of State.MPLSInterfaces) with a
// packet socket, to the MAC address of the next hop toward the remote PE.
//
//	outbound (send.go) --> labels pushed, no ESP
//	   --> frame: the next hop's Ethernet header in front     unresolved: drop (no-neighbor)
//	   --> coreSocket.send: sendmmsg on the core's AF_PACKET socket
//	   --> next hop (the remote PE itself: implicit null; or a P router)
//
//	core --> AF_PACKET socket bound to 0x8847 on each MPLS interface
//	   --> coreSocket.recv: recvmmsg, a batch of frames
//	   --> inboundFrame: Ethernet header (for this host, 0x8847)
//	        source MAC one of the core's next hops?       no: drop (bad-source)
//	        explicit null or an own transport label on top popped;
//	        VPN label -> VRF (LFIB)
//	        deeper stacks: drop (unknown-label)
//	   --> the VRF's TUN, as ESP's inner packets
//
// Labelled frames arriving on any other interface meet no socket and no
// kernel MPLS: the kernel drops them (rx_dropped or rx_nohandler).
//
// On a core interface a frame is taken only from a MAC address that is
// the resolved next hop, on that interface, toward one of the
// unprotected peers (the kernel's neighbour entry the resolver found:
// the peer itself, or the P router toward it): another host on the core
// segment cannot hand a VRF packets by guessing a label. This narrows the
// exposure, it does not close it: a host on the same layer 2 can forge
// a next hop's source MAC, and a peer whose frames arrive through a
// router other than our next hop toward it (asymmetric paths) is refused.
// Plain MPLS is for cores the operator trusts; ESP is the protection.

// plainOut is how packets leave toward one unprotected peer. It lives as
// long as the peer is unprotected; the resolver (cores.go) republishes
// its l2 as the next hop and its MAC address change.
type plainOut struct {
	remote netip.Addr
	// l2 is nil until the next hop is resolved: packets are dropped
	// and counted (no-neighbor), never sent elsewhere.
	l2 atomic.Pointer[l2Hop]
}

// l2Hop is a resolved next hop: the core interface and the Ethernet
// header toward it. Immutable once published.
type l2Hop struct {
	core *coreIface
	hdr  ethHeader
	gw   netip.Addr // for logs and tests
}

// coreIface is one of State.MPLSInterfaces with its packet socket.
type coreIface struct {
	name  string
	index int
	mac   [6]byte
	sock  *coreSocket // nil in unit tests
	// sources are the MAC addresses labelled frames are taken from on
	// this core, published by the resolver (cores.go); nil takes none.
	sources atomic.Pointer[sourceMACs]
}

// sourceMACs are a core's next hops' MAC addresses, sorted. Immutable
// once published.
type sourceMACs [][6]byte

// accepts reports whether a labelled frame from src may enter on c. It
// allocates nothing: a short list, scanned.
func (c *coreIface) accepts(src [6]byte) bool {
	s := c.sources.Load()
	if s == nil {
		return false
	}
	for _, m := range *s {
		if m == src {
			return true
		}
	}
	return false
}

// frame puts the Ethernet header toward t's next hop in front of pkt, an
// MPLS packet outbound left in buf with its headroom in front, and
// returns the frame and the core to send it on, or why it dropped it,
// having counted the drop on v. It allocates nothing.
func (d *dataplane) frame(v *vrf, t *tunnelOut, buf, pkt []byte) ([]byte, *coreIface, drop) {
	h := t.plain.l2.Load()
	if h == nil {
		return nil, nil, v.dropOut(dropNoNeighbor)
	}
	start := cap(buf) - cap(pkt) // pkt's offset in buf
	if start < ethHeaderLen {
		return nil, nil, v.dropOut(dropMalformed) // cannot happen: outHeadroom
	}
	start -= ethHeaderLen
	copy(buf[start:], h.hdr[:])
	return buf[start : start+ethHeaderLen+len(pkt)], h.core, dropNone
}

// pushPlain pushes a route's labels, and t's transport label above them
// if it has one, in front of the inner packet buf[off:off+n] with the TTL
// ttl (per mode, from outbound) and returns the MPLS packet.
func pushPlain(buf []byte, off, n int, labels []mpls.Label, ttl uint8, t *tunnelOut) ([]byte, bool) {
	start := off
	var err error
	for i := len(labels) - 1; i >= 0; i-- {
		if start, err = mpls.Push(buf, start, labels[i], 0, ttl, i == len(labels)-1); err != nil {
			return nil, false
		}
	}
	if t.hasTransport {
		if start, err = mpls.Push(buf, start, t.transport, 0, ttl, false); err != nil {
			return nil, false
		}
	}
	return buf[start : off+n], true
}

// inboundFrame forwards one frame core c's packet socket received,
// buf[off:off+n], with at least tunOffset bytes in front of it. pktType is
// the socket address's sll_pkttype: only frames addressed to this host
// (PACKET_HOST) are taken; another host's (a promiscuous interface) or our
// own going out are not ours to forward, and are ignored uncounted. A
// frame from a MAC address c does not accept is dropped (bad-source). It
// returns the VRF and the inner packet's offset and length in buf, or why
// it dropped the frame, having counted the drop. It allocates nothing.
func (d *dataplane) inboundFrame(c *coreIface, buf []byte, off, n int, pktType uint8) (v *vrf, innerOff, innerLen int, why drop) {
	if pktType != unix.PACKET_HOST {
		return nil, 0, 0, dropOtherHost
	}
	f := ethFrame(buf[off : off+n])
	if !f.IsValid() || f.EtherType() != etherTypeMPLS {
		return nil, 0, 0, d.dropIn(dropMalformed)
	}
	if !c.accepts(f.Source()) {
		return nil, 0, 0, d.dropIn(dropBadSource)
	}
	d.cnt.plainIn.Add(1)
	return d.popToVRF(buf, off+ethHeaderLen, n-ethHeaderLen, true)
}

// ownTransport marks this PE's own transport labels in the LFIB
// (fib.State.LocalTransportLabels): on a frame from the core one is
// popped and the label beneath looked up. It is no VRF anything is
// delivered to.
var ownTransport = &vrf{name: "(own transport label)"}

// popToVRF pops the label stack buf[off:off+n] down to the inner packet:
// one VPN label (bottom of stack) that the LFIB maps to a VRF, with, if
// explicitNull (a frame from the core), one label above it that is an
// IPv4 or IPv6 explicit null (RFC 3032: the penultimate hop asked to keep
// a label, for TC or TTL; the remote PE did not pop the transport label)
// or one of this PE's own transport labels (ownTransport: a far PE that
// pushes a label even toward a connected PE). Anything deeper, or a null
// or transport label at the bottom (a packet for the global table, which
// a PE's core has none of here), is dropped. The TTL is carried into the inner packet per mode; see the
// package documentation.
func (d *dataplane) popToVRF(buf []byte, off, n int, explicitNull bool) (v *vrf, innerOff, innerLen int, why drop) {
	v, innerOff, innerLen, why = d.popLabel(buf, off, n, explicitNull)
	if why == dropNone {
		v.cnt.inPackets.Add(1)
		v.cnt.inBytes.Add(uint64(innerLen))
	}
	return v, innerOff, innerLen, why
}

// popLabel is popToVRF without counting the delivered packet: the
// caller counts it (inbound, in its SA's shard).
func (d *dataplane) popLabel(buf []byte, off, n int, explicitNull bool) (v *vrf, innerOff, innerLen int, why drop) {
	e, io, il, err := mpls.Pop(buf, off, n)
	if err != nil {
		return nil, 0, 0, d.dropIn(dropMalformed)
	}
	ttl := e.TTL
	lfib := *d.lfib.Load()
	if explicitNull && !e.Bottom && (e.Label == mpls.IPv4ExplicitNull || e.Label == mpls.IPv6ExplicitNull || lfib[e.Label] == ownTransport) {
		if e, io, il, err = mpls.Pop(buf, io, il); err != nil {
			return nil, 0, 0, d.dropIn(dropMalformed)
		}
		ttl = min(ttl, e.TTL)
	}
	if !e.Bottom {
		return nil, 0, 0, d.dropIn(dropUnknownLabel)
	}
	v = lfib[e.Label]
	if v == nil || v == ownTransport {
		return nil, 0, 0, d.dropIn(dropUnknownLabel)
	}
	inner := buf[io : io+il]
	ttlAt := 0
	switch {
	case il >= ipv4HeaderLen && inner[0]>>4 == 4 && int(inner[0]&0x0f)*4 >= ipv4HeaderLen:
		ttlAt = 8
	case il >= ipv6HeaderLen && inner[0]>>4 == 6:
		ttlAt = 7
	default:
		return nil, 0, 0, v.dropIn(dropMalformed)
	}
	if ttl == 0 {
		return nil, 0, 0, v.dropIn(dropTTLExpired)
	}
	// Uniform: the hops the packet took in the core come back into the
	// IP TTL. The kernel decrements it forwarding out of the TUN: that
	// is this PE's hop (see the package documentation).
	if d.mode == mpls.Uniform && ttl < inner[ttlAt] {
		setTTL(inner, ttlAt, ttl)
	}
	// The kernel would answer a packet it cannot forward out of the TUN
	// for want of TTL with time exceeded, routed by the main table, not
	// back through the VRF: a customer packet's first bytes in clear.
	if inner[ttlAt] <= 1 {
		return nil, 0, 0, v.dropIn(dropTTLExpired)
	}
	return v, io, il, dropNone
}

// plainOf returns remote's plainOut, made unresolved if it has none.
func (d *dataplane) plainOf(remote netip.Addr) *plainOut {
	po := d.plains[remote]
	if po == nil {
		po = &plainOut{remote: remote}
		d.plains[remote] = po
	}
	return po
}

// forgetPlains drops the plainOut of each remote PE that is no longer an
// unprotected peer of the State (after updateTunnels and forgetPeers).
func (d *dataplane) forgetPlains() {
	for remote, po := range d.plains {
		p := d.peers[remote]
		if t := p.outOrNil(); t == nil || t.plain != po {
			delete(d.plains, remote)
		}
	}
}

func (p *peer) outOrNil() *tunnelOut {
	if p == nil {
		return nil
	}
	return p.out.Load()
}

// frameSender gathers a TUN reader's plain MPLS frames and sends them in
// batches, one core at a time (a change of core sends what is queued).
type frameSender struct {
	m    *frameBatch
	core *coreIface
}

// add frames pkt (in buf) toward t's next hop and queues it.
func (s *frameSender) add(v *vrf, d *dataplane, t *tunnelOut, buf, pkt []byte) {
	f, core, why := d.frame(v, t, buf, pkt)
	if why != dropNone {
		return
	}
	if core != s.core || s.m.n == len(s.m.hdrs) {
		s.flush(v)
		s.core = core
	}
	s.m.add(f)
}

// flush sends the queued frames, counting those lost on v.
func (s *frameSender) flush(v *vrf) {
	if s.m.n == 0 || s.core == nil {
		return
	}
	if s.core.sock == nil {
		v.cnt.outDrops[dropTx].Add(uint64(s.m.n))
		s.m.n = 0
		return
	}
	if lost := s.core.sock.send(s.m); lost > 0 {
		v.cnt.outDrops[dropTx].Add(uint64(lost))
	}
}
