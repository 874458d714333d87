package userspace

import (
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// The inbound path, core to CE. One goroutine per socket:
//
//	remote PE --> UDP 4500 socket (ESP-in-UDP)  or  raw protocol-50 socket (raw ESP)
//	   --> esptransport.Socket.Receive: recvmmsg, a batch of up to 128
//	        datagrams, demultiplexed (UDP: ESP, IKE -> Options.IKE,
//	        keepalive; raw IPv4: the outer header is in the data)
//	   --> socketReader, per ESP packet, in place in its buffer:
//	        inbound: esptransport.InboundTable.Open (SPI -> SA, anti-replay, ICV)
//	                 next header 137, mpls.Pop (one label, S=1)
//	                 LFIB (atomic snapshot): label -> VRF    unknown: drop
//	                 label TTL into the IP header per mode
//	        (a UDP GRO run of datagrams is cut up and each opened, gro.go)
//	   --> writeTUNs: tun.Device.Write of each VRF's packets, in order
//	        (TCP segments coalesced by the TUN's GRO)
//	   --> kernel (ip rule iif pg-VRF lookup TABLE) --> CE

// inbound forwards one ESP packet, buf[off:off+n], with at least
// esp.ScratchLen bytes in front of it. It returns the VRF and the inner IP
// packet's offset and length in buf, or why it dropped the packet, having
// counted the drop. It allocates nothing.
func (d *dataplane) inbound(buf []byte, off, n int) (v *vrf, innerOff, innerLen int, why drop) {
	v, innerOff, innerLen, _, why = d.inboundLane(buf, off, n)
	return v, innerOff, innerLen, why
}

// inboundLane is inbound, returning too the lane of the SA that opened
// the packet (dataplane.inLanes), which its TUN queue is picked by.
func (d *dataplane) inboundLane(buf []byte, off, n int) (v *vrf, innerOff, innerLen, lane int, why drop) {
	if ai := d.attachmentSPI(buf, off, n); ai != nil {
		v, innerOff, innerLen, why = d.fromAttachment(ai, buf, off, n)
		return v, innerOff, innerLen, 0, why
	}
	payload, nh, sa, err := d.spis.Open(buf, off, n)
	if err != nil {
		return nil, 0, 0, 0, d.dropIn(dropOpen)
	}
	if nh != esp.NextHeaderMPLS {
		return nil, 0, 0, 0, d.dropIn(dropNotMPLS)
	}
	lane = (*d.inLanes.Load())[sa.SPI()]
	// The payload follows the ESP header and the suite's IV (8 bytes
	// for the AEADs, 16 for AES-CBC).
	po := off + esp.HeaderLen + sa.Cipher().IVLen()
	if lv := d.labeled; lv != nil {
		// A Gateway's: the kernel's LFIB pops the label, so the
		// MPLS packet goes to the kernel whole.
		lv.cnt.inSAs.add(sa.SPI(), len(payload))
		return lv, po, len(payload), lane, dropNone
	}
	v, io, il, why := d.popLabel(buf, po, len(payload), false)
	if why == dropNone {
		// By SPI: the receive socket that opens an SA is picked by
		// SPI (esptransport.OpenSpread), so its goroutine counts in a
		// shard of its own.
		v.cnt.inSAs.add(sa.SPI(), il)
	}
	return v, io, il, lane, why
}

// inboundUDP forwards the payload of a datagram received on UDP port 4500,
// buf[off:off+n]: ESP goes to inbound, IKE to the IKE callback.
func (d *dataplane) inboundUDP(buf []byte, off, n int, from netip.AddrPort) (v *vrf, innerOff, innerLen int, why drop) {
	return d.demuxed(buf, esptransport.DemuxUDP(buf, off, n, from))
}

// inboundIP forwards a whole IP packet carrying ESP, raw or in UDP,
// buf[off:off+n], as a raw IPv4 socket receives it.
func (d *dataplane) inboundIP(buf []byte, off, n int) (v *vrf, innerOff, innerLen int, why drop) {
	return d.demuxed(buf, esptransport.DemuxIP(buf, off, n))
}

// demuxed forwards what esptransport found in buf: ESP to inbound, the
// rest to control.
func (d *dataplane) demuxed(buf []byte, dg esptransport.Datagram) (v *vrf, innerOff, innerLen int, why drop) {
	if dg.Kind == wire.KindESP {
		return d.inbound(buf, dg.ESPOff, dg.ESPLen)
	}
	return nil, 0, 0, d.control(dg.Kind, dg.From, dg.Body)
}

// control takes what UDP port 4500 carries besides ESP: IKE messages go to
// the callback, NAT-keepalives are counted and ignored.
func (d *dataplane) control(kind wire.Kind, from netip.AddrPort, body []byte) drop {
	switch kind {
	case wire.KindIKE:
		d.cnt.ike.Add(1)
		if d.ike != nil {
			d.ike(from, body)
		}
		return dropNone
	case wire.KindKeepalive:
		d.cnt.keepalives.Add(1)
		return dropNone
	}
	return d.dropIn(dropMalformed)
}

func (d *dataplane) dropIn(why drop) drop {
	d.cnt.drops[why].Add(1)
	return why
}

func (v *vrf) dropIn(why drop) drop {
	v.cnt.inDrops[why].Add(1)
	return why
}

// setTTL writes ttl at inner[at] (IPv4 TTL or IPv6 hop limit) and, for
// IPv4, fixes the header checksum incrementally (RFC 1624 equation 3).
func setTTL(inner []byte, at int, ttl uint8) {
	if at == 7 {
		inner[7] = ttl
		return
	}
	old := uint32(inner[8])<<8 | uint32(inner[9])
	upd := uint32(ttl)<<8 | uint32(inner[9])
	sum := uint32(^(uint16(inner[10])<<8 | uint16(inner[11])))
	sum += uint32(^uint16(old)) + upd
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	c := ^uint16(sum)
	inner[8], inner[10], inner[11] = ttl, byte(c>>8), byte(c)
}

// delivery is where one received packet goes: a VRF's TUN, the lane of
// the SA that opened it (its TUN queue: device.queue), and the packet's
// bytes with tunOffset bytes of headroom in front.
type delivery struct {
	v    *vrf
	lane int
	pkt  []byte
}

// readSocket is a socket's inbound goroutine: it receives batches until
// the socket is closed and writes each VRF's packets to its TUN.
func (b *Backend) readSocket(s *esptransport.Socket) {
	defer b.wg.Done()
	copies := 0
	if s.GRO() {
		copies = batchSize
	}
	r := &socketReader{d: b.dp, w: newTUNWriter(copies)}
	defer r.w.release()
	blk := takeBufs(batchSize, inBufSize)
	defer blk.release()
	if err := s.Receive(blk.bufs, inHeadroom, r); err != nil {
		b.log.Warn("receiving ESP", "err", err)
	}
}

// socketReader is the fast path's esptransport.Handler: it opens each ESP
// packet and queues the inner packet for its VRF's TUN.
type socketReader struct {
	d *dataplane
	w *tunWriter
}

func (r *socketReader) ESP(buf []byte, off, n int, _ netip.AddrPort, inRun bool) {
	v, io, il, lane, _ := r.d.inboundLane(buf, off, n)
	switch {
	case v == nil:
	case inRun:
		r.w.copyIn(v, lane, buf[io:io+il])
	default:
		r.w.inPlace(v, lane, buf[io-tunOffset:io+il])
	}
}

func (r *socketReader) Control(dg esptransport.Datagram) {
	r.d.control(dg.Kind, dg.From, dg.Body)
}

func (r *socketReader) Flush() { r.w.flush() }

// writeTUNs writes each VRF's packets of out to its TUN, one write per
// VRF and lane, on the lane's queue (device.queue), in their order: a
// flow's packets are all opened by one SA, so of one lane.
func writeTUNs(out []delivery, scratch [][]byte) {
	for i := range out {
		v, lane := out[i].v, out[i].lane
		if v == nil {
			continue // already written with an earlier VRF or lane
		}
		scratch = scratch[:0]
		for j := i; j < len(out); j++ {
			if out[j].v == v && out[j].lane == lane {
				scratch = append(scratch, out[j].pkt)
				out[j].v = nil
			}
		}
		dev := v.dev.Load()
		if dev == nil {
			v.cnt.inDrops[dropTx].Add(uint64(len(scratch)))
			continue
		}
		if _, err := dev.queue(lane).Write(scratch, tunOffset); err != nil {
			v.cnt.inDrops[dropTx].Add(1) // Write does not say how many failed
		}
	}
}
