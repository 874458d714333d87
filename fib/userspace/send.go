package userspace

import (
	"errors"
	"net/netip"
	"os"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/mpls"
	"golang.zx2c4.com/wireguard/tun"
)

// The outbound path, CE to core. One goroutine per busy TUN queue:
//
//	CE --> kernel (ip rule iif CE-IF lookup TABLE: route "dev pg-VRF")
//	   --> TUN pg-VRF (an idle queue: in the Backend's epoll set, tunpoll.go,
//	        which starts its reader at the first packet)
//	   --> readTUN: parked in Go's netpoller until the queue is readable
//	        (tunwait.go), then a batch borrowed from the Backend's pool
//	        (readbatch.go) and tun.Device.Read, up to 128 packets
//	        (TSO super-packets arrive split into segments); the batch
//	        goes back to the pool once sent
//	   --> outbound, per packet, in place in its buffer:
//	        LPM in the VRF's table (atomic snapshot)     no route / local: drop
//	        peer -> tunnel (atomic snapshot)             no tunnel, no SA: drop, never clear
//	        mpls.Push labels, bottom first, TTL per mode
//	        esp.SA.Seal, next header 137 (MPLS)
//	   --> esptransport.SendBatch: sendmmsg on the UDP 4500 socket (ESP-in-UDP), runs
//	        of equal-sized packets to one PE coalesced with UDP GSO
//	        (esptransport), or on the raw protocol-50 socket (raw ESP); the
//	        kernel adds the outer IP (and UDP) header
//	   --> remote PE
//
// Order: a VRF's packets are sealed and sent in the order the TUN gave them,
// so each flow stays in order. Crypto runs on as many cores as there are
// busy VRFs (and receive sockets, see receive.go).

// IP header fields the fast path reads.
const (
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
)

// outbound forwards one inner packet read from v's TUN, buf[off:off+n],
// with outHeadroom bytes in front of it and outTailroom after. It returns
// the ESP packet (in buf) and the tunnel to send it on, or why it dropped
// the packet, having counted the drop; with dropTooBig it may return the
// tunnel whose MTU (pathMTU) the packet exceeds. It allocates nothing.
func (d *dataplane) outbound(v *vrf, buf []byte, off, n int) (pkt []byte, to *tunnelOut, why drop) {
	return d.outboundLane(v, 0, buf, off, n)
}

// outboundLane is outbound for a packet read from TUN queue lane: a
// tunnel with several outbound SAs (RFC 9611 resources) seals it with
// the SA of that lane (tunnelOut.forSeal).
func (d *dataplane) outboundLane(v *vrf, lane int, buf []byte, off, n int) (pkt []byte, to *tunnelOut, why drop) {
	if off < labelRoom+esp.Headroom || n < 1 || off+n+outTailroom > len(buf) {
		return nil, nil, v.dropOut(dropMalformed)
	}
	p := buf[off : off+n]
	var src, dst netip.Addr
	var ttl uint8
	switch p[0] >> 4 {
	case 4:
		if n < ipv4HeaderLen {
			return nil, nil, v.dropOut(dropMalformed)
		}
		src, dst, ttl = netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20])), p[8]
	case 6:
		if n < ipv6HeaderLen {
			return nil, nil, v.dropOut(dropMalformed)
		}
		src, dst, ttl = netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40])), p[7]
	default:
		return nil, nil, v.dropOut(dropMalformed)
	}
	if tooBig(p, n, d.mtu) {
		return nil, nil, v.dropOut(dropTooBig)
	}
	hop, ok := v.routes.Load().Lookup(dst)
	if !ok || hop.peer == nil {
		return nil, nil, v.dropOut(dropNoRoute)
	}
	t := hop.peer.out.Load()
	if t == nil {
		return nil, nil, v.dropOut(dropNoTunnel)
	}
	if t.plain != nil {
		// An unprotected peer: plain MPLS, framed by the caller (frame).
		if d.mode == mpls.Pipe {
			ttl = mpls.PipeTTL
		} else if ttl == 0 {
			return nil, nil, v.dropOut(dropTTLExpired)
		}
		pkt, ok := pushPlain(buf, off, n, hop.labels, ttl, t)
		if !ok {
			return nil, nil, v.dropOut(dropMalformed) // cannot happen: hop checked the labels
		}
		v.cnt.outPackets.Add(1)
		v.cnt.outBytes.Add(uint64(n))
		return pkt, t, dropNone
	}
	if t.ah != nil {
		return d.sealAH(v, t, hop, buf, off, n, ttl)
	}
	if t.sa == nil {
		if t.att != nil {
			t.att.cnt.noSA.Add(1)
		}
		return nil, nil, v.dropOut(dropNoSA)
	}
	if t.extra > 0 && tooBig(p, n, d.pathMTU(t)) {
		// A suite with more overhead than Options.MTU leaves room
		// for: the caller answers with the tunnel's MTU.
		return nil, t, v.dropOut(dropTooBig)
	}
	if t.att != nil {
		pkt, why := d.toAttachment(v, t, buf, off, n, src, ttl)
		if why != dropNone {
			return nil, nil, why
		}
		return pkt, t, why
	}
	// The kernel decremented the IP TTL forwarding into the TUN: that
	// was this PE's hop (see the package documentation).
	if d.mode == mpls.Pipe {
		ttl = mpls.PipeTTL
	} else if ttl == 0 {
		return nil, nil, v.dropOut(dropTTLExpired)
	}
	start := off
	for i := len(hop.labels) - 1; i >= 0; i-- {
		var err error
		if start, err = mpls.Push(buf, start, hop.labels[i], 0, ttl, i == len(hop.labels)-1); err != nil {
			return nil, nil, v.dropOut(dropMalformed) // cannot happen: hop checked the labels
		}
	}
	pkt, err := t.forSeal(lane).Seal(buf, start, off+n-start, esp.NextHeaderMPLS)
	if err != nil {
		return nil, nil, v.dropOut(dropSealError)
	}
	v.cnt.outLanes.add(uint32(lane), n) // each TUN queue's reader in its own shard
	return pkt, t, dropNone
}

// forSeal returns the outbound SA for TUN queue lane: sa for lane 0 or
// a tunnel of one SA, else lane's SA of [sa, more...], round robin.
func (t *tunnelOut) forSeal(lane int) *esp.SA {
	if len(t.more) == 0 || lane <= 0 {
		return t.sa
	}
	if i := lane % (len(t.more) + 1); i > 0 {
		return t.more[i-1]
	}
	return t.sa
}

func (v *vrf) dropOut(why drop) drop {
	v.cnt.outDrops[why].Add(1)
	return why
}

// readTUN is v's outbound goroutine for one queue of its TUN: it waits
// until the queue has packets, borrows a batch from the Backend's pool,
// reads, forwards and sends the batch, and gives the batch back before it
// waits again, until dev is closed. An idle queue holds no buffer. With
// e, the queue's entry in the Backend's queuePoller, it returns once the
// queue has let go of its device, and hands the queue back to the poller
// (tunpoll.go): an idle queue holds no goroutine either.
func (b *Backend) readTUN(v *vrf, lane int, dev tun.Device, e *parked) {
	defer b.wg.Done()
	icmpOut := make([][]byte, 1)
	n := min(batchSize, max(dev.BatchSize(), 1))
	ready := newReadiness(dev)
	for {
		if ready != nil {
			if err := ready.wait(); err != nil {
				if errors.Is(err, errParked) {
					e.p.park(e)
				}
				return // else closed: the only other error waiting reports
			}
		}
		rb := b.batches.get()
		open := b.forwardBatch(v, lane, dev, rb, n, icmpOut)
		b.batches.put(rb)
		if !open {
			return
		}
		if e != nil && e.q.live.Load() == nil {
			e.p.park(e) // the queue could not make its device: that packet was dropped
			return
		}
	}
}

// forwardBatch reads one batch of up to n packets from dev, queue lane
// of v's TUN, into rb, forwards each and sends them. It returns false
// once dev is closed.
func (b *Backend) forwardBatch(v *vrf, lane int, dev tun.Device, rb *readBatch, n int, icmpOut [][]byte) bool {
	readBufs := rb.bufs[:n]
	n, err := dev.Read(readBufs, rb.sizes, outHeadroom)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrClosed):
			return false
		case errors.Is(err, tun.ErrTooManySegments):
			v.cnt.outDrops[dropMalformed].Add(1)
		default:
			b.log.Warn("reading TUN", "vrf", v.name, "err", err)
		}
		return true
	}
	socks := b.net.Load()
	send := rb.send
	send.Reset(socks.GSO())
	rb.ah.Reset(false)
	for i := range n {
		pkt, t, why := b.dp.outboundLane(v, lane, readBufs[i], outHeadroom, rb.sizes[i])
		switch {
		case why == dropNone && t.plain != nil:
			rb.frames.add(v, b.dp, t, readBufs[i], pkt)
		case why == dropNone && t.ah != nil:
			rb.ah.Add(pkt, &t.dst)
		case why == dropNone:
			send.Add(pkt, &t.dst)
		case why == dropTooBig:
			b.sendTooBig(v, dev, readBufs[i], outHeadroom, rb.sizes[i], b.dp.pathMTU(t), icmpOut)
		}
	}
	if lost := socks.Send(send); lost > 0 {
		v.cnt.outDrops[dropTx].Add(uint64(lost))
	}
	if _, raw := rb.ah.Messages(); raw > 0 {
		if lost := b.sendAH(rb.ah); lost > 0 {
			v.cnt.outDrops[dropTx].Add(uint64(lost))
		}
	}
	rb.frames.flush(v)
	return true
}
