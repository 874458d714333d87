package ah

import (
	"encoding/binary"
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// outerTTL is the TTL or hop limit of a tunnel-mode outer header.
const outerTTL = wire.DefaultTTL

// SealTunnel wraps buf[off:off+n] (an inner IPv4 or IPv6 packet or an
// MPLS label stack; nextHeader NextHeaderIPv4, NextHeaderIPv6 or
// NextHeaderMPLS) in an outer IP header from src to dst and an AH header,
// written into the headroom, and returns the whole packet: buf[off-h-ahLen
// : off+n], h the IP header (20 or 40 bytes) and ahLen Integ.HeaderLen().
// The payload is not changed: AH protects it, it does not hide it.
//
// The caller leaves h+ahLen bytes in front of off (at most Headroom) and,
// for AES-GMAC with ESN, ESNTailroom bytes after the payload, which are
// borrowed and restored. SealTunnel allocates nothing and is safe from
// many goroutines, each with its own buffer. Errors: ErrNoHeadroom,
// ErrNoTailroom, ErrTooLong, ErrAddrFamily, ErrSequenceExhausted.
func (sa *SA) SealTunnel(buf []byte, off, n int, nextHeader uint8, src, dst netip.Addr) ([]byte, error) {
	var v6 bool
	switch {
	case src.Is4() && dst.Is4():
	case src.Is6() && dst.Is6():
		v6 = true
	default:
		return nil, sa.sealErr(ErrAddrFamily)
	}
	h := IPv4HeaderLen
	if v6 {
		h = IPv6HeaderLen
	}
	ahLen := sa.integ.HeaderLen()
	if err := sa.checkRoom(buf, off, n, h+ahLen); err != nil {
		return nil, sa.sealErr(err)
	}
	if ahLen+n > 0xffff-h {
		return nil, sa.sealErr(ErrTooLong)
	}
	seq, err := sa.takeSeq()
	if err != nil {
		return nil, sa.sealErr(err)
	}
	start := off - h - ahLen
	if v6 {
		_ = wire.PutIPv6(buf[start:], wire.IPv6Fields{Src: src, Dst: dst, NextHeader: ProtoAH, PayloadLen: ahLen + n, HopLimit: outerTTL})
	} else {
		_ = wire.PutIPv4(buf[start:], wire.IPv4Fields{Src: src, Dst: dst, Protocol: ProtoAH, PayloadLen: ahLen + n, TTL: outerTTL, DF: true})
	}
	return sa.finish(buf, start, off+n, h, ahLen, nextHeader, seq, n), nil
}

// SealTransport inserts an AH header into the IP packet buf[off:off+n]
// (IPv4 without options, or IPv6 without extension headers) between its
// IP header and its payload, by moving the IP header ahLen bytes up into
// the headroom, and returns the packet: buf[off-ahLen : off+n]. The IP
// header's protocol (next header) moves into AH, and its length fields
// and IPv4 checksum are updated.
//
// The caller leaves Integ.HeaderLen bytes in front of off (at most
// MaxHeaderLen) and, for AES-GMAC with ESN, ESNTailroom bytes after the
// packet. Errors: those of SealTunnel, ErrUnsupported for IPv4 options,
// IPv6 extension headers or another version, ErrTruncated when the
// length fields disagree with n, ErrFragment for a fragment.
func (sa *SA) SealTransport(buf []byte, off, n int) ([]byte, error) {
	if off < 0 || n < 1 || off > len(buf) || n > len(buf)-off {
		return nil, sa.sealErr(ErrTruncated)
	}
	pkt := buf[off : off+n]
	h, v6, err := parseIP(pkt, false)
	if err != nil {
		return nil, sa.sealErr(err)
	}
	ahLen := sa.integ.HeaderLen()
	if err := sa.checkRoom(buf, off, n, ahLen); err != nil {
		return nil, sa.sealErr(err)
	}
	if n+ahLen > 0xffff+IPv6HeaderLen*boolInt(v6) {
		return nil, sa.sealErr(ErrTooLong)
	}
	seq, err := sa.takeSeq()
	if err != nil {
		return nil, sa.sealErr(err)
	}
	start := off - ahLen
	copy(buf[start:start+h], pkt[:h])
	ip := buf[start : start+h]
	var nextHeader uint8
	if v6 {
		nextHeader = ip[ipv6NextHeader]
		ip[ipv6NextHeader] = ProtoAH
		binary.BigEndian.PutUint16(ip[ipv6PayloadLen:], uint16(n+ahLen-h))
	} else {
		nextHeader = ip[ipv4Protocol]
		ip[ipv4Protocol] = ProtoAH
		binary.BigEndian.PutUint16(ip[ipv4TotalLen:], uint16(n+ahLen))
		setIPv4Checksum(ip)
	}
	return sa.finish(buf, start, off+n, h, ahLen, nextHeader, seq, n-h), nil
}

// checkRoom checks that buf has front bytes before off and n bytes from
// off, plus ESNTailroom after them for AES-GMAC with ESN.
func (sa *SA) checkRoom(buf []byte, off, n, front int) error {
	if off < front || off > len(buf) {
		return ErrNoHeadroom
	}
	if n < 0 || n > len(buf)-off {
		return ErrNoTailroom
	}
	if sa.esn && sa.gmac != nil && n > len(buf)-off-ESNTailroom {
		return ErrNoTailroom
	}
	return nil
}

// finish writes the AH header of the packet buf[start:end] (IP header h
// bytes, AH ahLen bytes, in place) and its ICV, counts payload bytes, and
// returns the packet.
func (sa *SA) finish(buf []byte, start, end, h, ahLen int, nextHeader uint8, seq uint64, payload int) []byte {
	sa.putAH(buf[start+h:start+h+ahLen], nextHeader, ahLen, seq)
	w := sa.work.Get().(*work)
	sa.computeICV(w, buf, start, end, h, ahLen, seq)
	icvAt := start + h + FixedLen + sa.integ.IVLen()
	copy(buf[icvAt:icvAt+ICVLen], w.sum[:ICVLen])
	sa.work.Put(w)
	sa.sealed.packets.Add(1)
	sa.sealed.bytes.Add(uint64(payload))
	return buf[start:end]
}

// setIPv4Checksum recomputes the checksum of a 20-byte IPv4 header.
func setIPv4Checksum(ip []byte) {
	binary.BigEndian.PutUint16(ip[ipv4Checksum:], 0)
	binary.BigEndian.PutUint16(ip[ipv4Checksum:], wire.Checksum(ip[:IPv4HeaderLen]))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
