package userspace

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/wire"
	"golang.zx2c4.com/wireguard/tun"
)

// Path MTU for CE traffic. The kernel must not be the one to say "too big":
// its ICMP errors for packets it forwards into a TUN are routed out of the
// main table (they are the host's own packets, which match no `iif` rule),
// and where two VRFs use the same CE addresses the main table sends the
// error to the wrong VRF's CE (and the right CE's TCP stalls forever, the
// classic PMTU black hole). So the TUNs get a jumbo MTU the kernel never
// hits, and the fast path enforces Options.MTU itself: an inner packet
// larger than that with IPv4's DF bit set, or any such IPv6 packet, is
// dropped, and an ICMP "fragmentation needed" (RFC 792, RFC 1191) or
// ICMPv6 "packet too big" (RFC 4443 section 3.2) goes back into the VRF's
// TUN, where the VRF's policy rule routes it to the right CE. An IPv4
// packet without DF is sent whole, and the kernel fragments the outer
// datagram (RFC 4459 section 3.1's outer fragmentation).

// tunDeviceMTU is the MTU the TUN devices get: larger than any CE link's,
// so that the kernel sends the fast path every packet, whatever its size.
const tunDeviceMTU = 9000

// tooBigInterval is the shortest time between two ICMP errors a VRF sends,
// as the kernel's icmp_ratelimit (RFC 1812 section 4.3.2.8): a flood of
// large packets costs the fast path one ICMP per millisecond.
const tooBigInterval = time.Millisecond

// ICMP sizes: the most of the original packet an error quotes (RFC 1812
// 4.3.2.3: the whole error within 576 bytes; RFC 4443 2.4(c): within the
// IPv6 minimum MTU).
const (
	icmpv4Room       = ipv4HeaderLen + 8
	icmpv6Room       = ipv6HeaderLen + 8
	icmpv4Quote      = 576 - icmpv4Room
	icmpv6Quote      = 1280 - icmpv6Room
	protoICMP        = 1
	protoICMPv6      = 58
	icmpv4Unreach    = 3
	icmpv4FragNeeded = 4
	icmpv6TooBig     = 2
	icmpHopLimit     = 64
)

// tooBig reports whether an inner packet of n bytes, p its first bytes,
// must not leave: larger than mtu and not to be fragmented.
func tooBig(p []byte, n, mtu int) bool {
	if mtu == 0 || n <= mtu {
		return false
	}
	if p[0]>>4 == 4 {
		return p[6]&0x40 != 0 // DF
	}
	return true
}

// localAddrs are the addresses a VRF's ICMP errors come from: an address
// of one of its CE interfaces, per family.
type localAddrs struct{ v4, v6 netip.Addr }

// buildTooBig writes, in front of the packet buf[off:off+n], the ICMP
// error that tells its sender the path MTU is mtu, from src, and returns
// where the error starts and ends in buf. It needs icmpv6Room bytes in
// front of off and allocates nothing. ok is false if the packet is no IP
// packet it should answer (an ICMP error is never answered with one) or
// src is missing.
func buildTooBig(buf []byte, off, n, mtu int, src localAddrs) (start, end int, ok bool) {
	p := buf[off : off+n]
	switch p[0] >> 4 {
	case 4:
		if n < ipv4HeaderLen || !src.v4.IsValid() || isICMPError4(p) {
			return 0, 0, false
		}
		q := min(n, icmpv4Quote)
		start, end = off-icmpv4Room, off+q
		h := buf[start:end]
		h[0], h[1] = 0x45, 0xc0 // version, IHL; internetwork control
		binary.BigEndian.PutUint16(h[2:4], uint16(end-start))
		clear(h[4:8]) // id, flags, fragment offset
		h[8], h[9] = icmpHopLimit, protoICMP
		clear(h[10:12])
		s4 := src.v4.As4()
		copy(h[12:16], s4[:])
		copy(h[16:20], p[12:16]) // to the sender
		binary.BigEndian.PutUint16(h[10:12], wire.Checksum(h[:ipv4HeaderLen]))
		m := h[ipv4HeaderLen:]
		m[0], m[1] = icmpv4Unreach, icmpv4FragNeeded
		clear(m[2:6])
		binary.BigEndian.PutUint16(m[6:8], uint16(mtu))
		binary.BigEndian.PutUint16(m[2:4], wire.Checksum(m))
		return start, end, true
	case 6:
		if n < ipv6HeaderLen || !src.v6.IsValid() || isICMPError6(p) {
			return 0, 0, false
		}
		q := min(n, icmpv6Quote)
		start, end = off-icmpv6Room, off+q
		h := buf[start:end]
		binary.BigEndian.PutUint32(h[0:4], 6<<28)
		binary.BigEndian.PutUint16(h[4:6], uint16(end-start-ipv6HeaderLen))
		h[6], h[7] = protoICMPv6, icmpHopLimit
		s6 := src.v6.As16()
		copy(h[8:24], s6[:])
		copy(h[24:40], p[8:24]) // to the sender
		m := h[ipv6HeaderLen:]
		m[0], m[1] = icmpv6TooBig, 0
		clear(m[2:4])
		binary.BigEndian.PutUint32(m[4:8], uint32(mtu))
		dst := netip.AddrFrom16([16]byte(h[24:40]))
		binary.BigEndian.PutUint16(m[2:4], wire.UpperChecksum(src.v6, dst, protoICMPv6, m))
		return start, end, true
	}
	return 0, 0, false
}

// isICMPError4 reports whether p is an ICMP error message (or a fragment
// past the first, which could be one): RFC 1812 4.3.2.7 forbids answering
// those with an error.
func isICMPError4(p []byte) bool {
	if binary.BigEndian.Uint16(p[6:8])&0x1fff != 0 {
		return true
	}
	ihl := int(p[0]&0x0f) * 4
	if p[9] != protoICMP || len(p) < ihl+1 {
		return false
	}
	switch p[ihl] {
	case 0, 8, 13, 14, 15, 16, 17, 18: // echo, timestamp, information, mask
		return false
	}
	return true
}

// isICMPError6 reports whether p is an ICMPv6 error (types below 128,
// RFC 4443 section 2.1) without extension headers in between.
func isICMPError6(p []byte) bool {
	return p[6] == protoICMPv6 && len(p) > ipv6HeaderLen && p[ipv6HeaderLen] < 128
}

// sendTooBig answers the oversized packet buf[off:off+n] from v's TUN with
// an ICMP error into the same TUN, at most once per tooBigInterval. out is
// the caller's one-element scratch for tun.Device.Write.
func (b *Backend) sendTooBig(v *vrf, dev tun.Device, buf []byte, off, n, mtu int, out [][]byte) {
	now := time.Now().UnixNano()
	last := v.lastTooBig.Load()
	if now-last < int64(tooBigInterval) || !v.lastTooBig.CompareAndSwap(last, now) {
		return
	}
	src := v.addrs.Load()
	if src == nil {
		return
	}
	start, end, ok := buildTooBig(buf, off, n, mtu, *src)
	if !ok {
		return
	}
	out[0] = buf[:end]
	if _, err := dev.Write(out, start); err != nil {
		v.cnt.outDrops[dropTx].Add(1)
		return
	}
	v.cnt.tooBigSent.Add(1)
}

// tunMTU is the MTU of the TUN devices: see tunDeviceMTU.
func (b *Backend) tunMTU() int { return max(tunDeviceMTU, b.mtu) }

// localAddrs returns the first global unicast address of each family on
// ifaces, or nil if there is none.
func (host *hostView) localAddrs(ifaces []string) *localAddrs {
	var a localAddrs
	byIf := host.ifAddrs(ifaces)
	for _, name := range ifaces {
		for _, p := range byIf[name] {
			ip := p.Addr()
			if !ip.IsGlobalUnicast() {
				continue
			}
			if ip.Is4() && !a.v4.IsValid() {
				a.v4 = ip
			} else if ip.Is6() && !a.v6.IsValid() {
				a.v6 = ip
			}
		}
	}
	if !a.v4.IsValid() && !a.v6.IsValid() {
		return nil
	}
	return &a
}

// aeadOverhead is the most ESP adds to a packet with an AEAD suite (37
// bytes): what Options.MTU leaves room for.
var aeadOverhead = esp.AES128GCM16.MaxOverhead()

// extraOverhead is how much more than an AEAD the suite c adds to a packet
// at most: 0 for the AEADs, 20 to 36 bytes for AES-CBC with HMAC-SHA2 (a
// 16-byte IV, padding to 16 bytes, a 16- to 32-byte ICV).
func extraOverhead(c esp.Cipher) int {
	return max(0, c.MaxOverhead()-aeadOverhead)
}

// pathMTU is the largest inner packet tunnel t carries whole: Options.MTU,
// less what t's suite adds beyond an AEAD's overhead, so that its outer
// packets fit the core MTU that Options.MTU was chosen for. t may be nil
// (no tunnel yet): Options.MTU.
func (d *dataplane) pathMTU(t *tunnelOut) int {
	if d.mtu == 0 || t == nil {
		return d.mtu
	}
	return d.mtu - t.extra
}
