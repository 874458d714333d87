package ah

import (
	"crypto/subtle"
	"encoding/binary"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// Open verifies the IP packet buf[off:off+n], which carries AH right
// after its IP header (IPv4 without options, IPv6 without extension
// headers before AH), and returns what AH protects (the inner packet in
// tunnel mode, the upper-layer data in transport mode) and AH's next
// header. Bytes after the IP length (link-layer padding) are ignored.
//
// Order of checks (RFC 4302 section 3.4): IP header and lengths, not a
// fragment, AH length for the SA's transform (Integ.HeaderLen, or over
// IPv4 also RFC 4302's shorter 4-byte aligned form), SPI, anti-replay window,
// ICV in constant time, window update. A packet that fails
// authentication never moves the window. The packet's bytes are as they
// were on return, on success or error (Open borrows the mutable fields,
// the ICV field and, for AES-GMAC with ESN, the ESNTailroom bytes after
// the packet, which must exist, and puts them back). Open allocates
// nothing, never panics, and on every drop bumps the counter its error
// names. Errors: ErrTruncated, ErrUnsupported, ErrNotAH, ErrFragment,
// ErrUnknownSPI, ErrNoTailroom, ErrTooOld, ErrReplayed, ErrAuthFailed.
func (sa *SA) Open(buf []byte, off, n int) (payload []byte, nextHeader uint8, err error) {
	pkt, h, ahLen, err := sa.open(buf, off, n)
	if err != nil {
		return nil, 0, err
	}
	p := pkt[h+ahLen:]
	return p[:len(p):len(p)], pkt[h], nil
}

// OpenTransport is Open for a transport-mode packet: it returns the IP
// packet without AH (a subslice of buf ending where the packet ended),
// with AH's next header back in the IP header and its length fields and
// IPv4 checksum updated. It moves the IP header down over the AH header.
func (sa *SA) OpenTransport(buf []byte, off, n int) ([]byte, error) {
	pkt, h, ahLen, err := sa.open(buf, off, n)
	if err != nil {
		return nil, err
	}
	nextHeader := pkt[h]
	copy(pkt[ahLen:ahLen+h], pkt[:h])
	out := pkt[ahLen:]
	ip := out[:h]
	if h == IPv6HeaderLen {
		ip[ipv6NextHeader] = nextHeader
		binary.BigEndian.PutUint16(ip[ipv6PayloadLen:], uint16(len(out)-h))
	} else {
		ip[ipv4Protocol] = nextHeader
		binary.BigEndian.PutUint16(ip[ipv4TotalLen:], uint16(len(out)))
		setIPv4Checksum(ip)
	}
	return out, nil
}

// open does Open's checks and returns the packet (trimmed to its IP
// length) and the lengths of its IP and AH headers.
func (sa *SA) open(buf []byte, off, n int) (pkt []byte, h, ahLen int, err error) {
	if off < 0 || n < 1 || off > len(buf) || n > len(buf)-off {
		return nil, 0, 0, sa.openErr(ErrTruncated)
	}
	h, v6, err := parseIP(buf[off:off+n], true)
	if err != nil {
		return nil, 0, 0, sa.openErr(err)
	}
	if v6 {
		n = IPv6HeaderLen + int(binary.BigEndian.Uint16(buf[off+ipv6PayloadLen:]))
	} else {
		n = int(binary.BigEndian.Uint16(buf[off+ipv4TotalLen:]))
	}
	pkt = buf[off : off+n]
	if n < h+FixedLen {
		return nil, 0, 0, sa.openErr(ErrTruncated)
	}
	ahLen = (int(pkt[h+1]) + 2) * 4
	if ahLen != sa.integ.HeaderLen() && (v6 || ahLen != sa.integ.minHeaderLen4()) || n < h+ahLen {
		return nil, 0, 0, sa.openErr(ErrTruncated)
	}
	a := pkt[h : h+ahLen]
	if binary.BigEndian.Uint32(a[4:8]) != sa.spi {
		return nil, 0, 0, sa.openErr(ErrUnknownSPI)
	}
	if sa.esn && sa.gmac != nil && n > len(buf)-off-ESNTailroom {
		return nil, 0, 0, sa.openErr(ErrNoTailroom)
	}
	seq, ok := sa.inferSeq(binary.BigEndian.Uint32(a[8:12]))
	if !ok {
		return nil, 0, 0, sa.openErr(ErrTooOld)
	}
	if err := sa.window.Check(seq); err != nil {
		return nil, 0, 0, sa.openErr(err)
	}
	w := sa.work.Get().(*work)
	sa.computeICV(w, buf, off, off+n, h, ahLen, seq)
	good := subtle.ConstantTimeCompare(w.sum[:ICVLen], w.icv[:ICVLen]) == 1
	sa.work.Put(w)
	if !good {
		return nil, 0, 0, sa.openErr(ErrAuthFailed)
	}
	if err := sa.window.Update(seq); err != nil {
		return nil, 0, 0, sa.openErr(err)
	}
	sa.opened.packets.Add(1)
	sa.opened.bytes.Add(uint64(n - h - ahLen))
	return pkt, h, ahLen, nil
}

// parseIP checks the IP header at the start of pkt and returns its length
// and family: IPv4 with IHL 5, a total length within pkt (equal to it
// unless trailing bytes are allowed), not a fragment; or IPv6 with a
// payload length within pkt and, if wantAH, AH as next header, else no
// extension header. With wantAH the protocol must be AH (ErrNotAH).
func parseIP(pkt []byte, wantAH bool) (h int, v6 bool, err error) {
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < IPv4HeaderLen {
			return 0, false, ErrTruncated
		}
		if pkt[0]&0x0f != IPv4HeaderLen/4 {
			return 0, false, ErrUnsupported
		}
		total := int(binary.BigEndian.Uint16(pkt[ipv4TotalLen:]))
		if total < IPv4HeaderLen || total > len(pkt) || (!wantAH && total != len(pkt)) {
			return 0, false, ErrTruncated
		}
		if binary.BigEndian.Uint16(pkt[ipv4FlagsFrag:])&0x3fff != 0 {
			return 0, false, ErrFragment
		}
		if wantAH && pkt[ipv4Protocol] != ProtoAH {
			return 0, false, ErrNotAH
		}
		return IPv4HeaderLen, false, nil
	case 6:
		if len(pkt) < IPv6HeaderLen {
			return 0, false, ErrTruncated
		}
		total := IPv6HeaderLen + int(binary.BigEndian.Uint16(pkt[ipv6PayloadLen:]))
		if total > len(pkt) || (!wantAH && total != len(pkt)) {
			return 0, false, ErrTruncated
		}
		nh := pkt[ipv6NextHeader]
		switch {
		case wantAH && nh == ProtoAH:
		case wire.IsIPv6ExtensionHeader(nh):
			return 0, false, ErrUnsupported
		case wantAH:
			return 0, false, ErrNotAH
		}
		return IPv6HeaderLen, true, nil
	}
	return 0, false, ErrUnsupported
}
