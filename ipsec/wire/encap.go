package wire

import "net/netip"

// DefaultTTL is the TTL (or hop limit) written when a Path leaves it zero.
const DefaultTTL = 64

// Path describes the outer headers of a tunnel: who sends to whom, raw ESP
// or ESP-in-UDP, and the header fields a sender chooses. The family of Src
// picks IPv4 or IPv6 (an IPv4-mapped IPv6 address means IPv6, as in
// net/netip); Dst must match.
//
// A Path is mostly per-SA, but it is passed by value so that per-packet
// fields can vary: TOS, which a tunnel copies from the inner header (DSCP
// per RFC 4301 section 5.1.2, ECN per RFC 6040), and the IPv4 ID.
type Path struct {
	Src, Dst netip.Addr

	// UDP selects ESP-in-UDP (RFC 3948). Zero ports mean PortNATT.
	UDP              bool
	SrcPort, DstPort uint16
	// UDPChecksum computes the UDP checksum over IPv4 as well; RFC 3948
	// section 2.1 lets it be zero there, which saves a pass over the
	// packet. Over IPv6 the checksum is always computed (RFC 8200).
	UDPChecksum bool

	TTL       uint8  // TTL or hop limit; zero means DefaultTTL
	TOS       uint8  // IPv4 TOS or IPv6 traffic class: DSCP and ECN
	FlowLabel uint32 // IPv6 only (RFC 6438 suggests one per tunnel flow)
	ID        uint16 // IPv4 only; any value is fine with DF (RFC 6864)
	DF        bool   // IPv4 only: set don't-fragment
}

// HeaderLen is the number of bytes Encapsulate writes before the ESP
// packet for p, or 0 if p's addresses are invalid or of mixed families.
func (p *Path) HeaderLen() int {
	if !sameFamily(p.Src, p.Dst) {
		return 0
	}
	n := IPv6HeaderLen
	if p.Src.Is4() {
		n = IPv4HeaderLen
	}
	if p.UDP {
		n += UDPHeaderLen
	}
	return n
}

// Outer is what Decapsulate learned from the outer headers: a Path that
// would rebuild them, as received (SrcPort is the peer's, possibly
// NAT-translated, port: swap the ends to reply), and HeaderLen, the number
// of bytes in front of the ESP packet or non-ESP marker.
type Outer struct {
	Path
	HeaderLen int
}

// Encapsulate writes the outer headers for p into the headroom before the
// ESP packet at buf[off:off+espLen] and returns where the finished packet
// starts: it is buf[pktOff:off+espLen]. off must leave p.HeaderLen() bytes
// of headroom (at most MaxOuterHeaderLen). For IKE, call PutNonESPMarker
// first and pass the marker's offset; Encapsulate does not look at what it
// wraps, except to checksum it.
func Encapsulate(buf []byte, off int, espLen int, p Path) (pktOff int, err error) {
	if off < 0 || espLen < 0 || off > len(buf) || espLen > len(buf)-off {
		return 0, ErrBounds
	}
	hl := p.HeaderLen()
	if hl == 0 {
		return 0, ErrAddrFamily
	}
	if off < hl {
		return 0, ErrHeadroom
	}
	start := off - hl
	ttl := p.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	proto, ipLen := uint8(ProtoESP), espLen
	if p.UDP {
		proto, ipLen = ProtoUDP, espLen+UDPHeaderLen
	}
	ipHL := hl
	if p.UDP {
		ipHL -= UDPHeaderLen
	}
	if p.Src.Is4() {
		err = PutIPv4(buf[start:], IPv4Fields{
			Src: p.Src, Dst: p.Dst, Protocol: proto, PayloadLen: ipLen,
			TTL: ttl, TOS: p.TOS, ID: p.ID, DF: p.DF,
		})
	} else {
		err = PutIPv6(buf[start:], IPv6Fields{
			Src: p.Src, Dst: p.Dst, NextHeader: proto, PayloadLen: ipLen,
			HopLimit: ttl, TrafficClass: p.TOS, FlowLabel: p.FlowLabel,
		})
	}
	if err != nil {
		return 0, err
	}
	if !p.UDP {
		return start, nil
	}
	sport, dport := orNATT(p.SrcPort), orNATT(p.DstPort)
	u := UDP(buf[start+ipHL : off+espLen])
	if err := PutUDP(u, sport, dport, espLen); err != nil {
		return 0, err
	}
	if p.UDPChecksum || !p.Src.Is4() {
		if err := u.SetChecksum(p.Src, p.Dst); err != nil {
			return 0, err
		}
	}
	return start, nil
}

func orNATT(port uint16) uint16 {
	if port == 0 {
		return PortNATT
	}
	return port
}

// Decapsulate parses a received IP packet that should carry ESP, either
// raw (IP protocol 50) or in UDP to port 4500, and returns the outer
// headers and, in place, the ESP packet (kind KindESP), the IKE message
// after its non-ESP marker (KindIKE) or the keepalive byte
// (KindKeepalive). Every failure is an [Error]; the other results are then
// zero.
func Decapsulate(pkt []byte) (o Outer, espOrIKE []byte, kind Kind, err error) {
	if len(pkt) == 0 {
		return Outer{}, nil, KindMalformed, ErrTruncated
	}
	var (
		proto   uint8
		payload []byte
	)
	switch pkt[0] >> 4 {
	case 4:
		h, p, err := ParseIPv4(pkt)
		if err != nil {
			return Outer{}, nil, KindMalformed, err
		}
		o.Src, o.Dst, o.TTL, o.TOS = h.Src(), h.Dst(), h.TTL(), h.TOS()
		o.ID, o.DF = h.ID(), h.DF()
		o.HeaderLen = h.HeaderLen()
		proto, payload = h.Protocol(), p
	case 6:
		h, p, err := ParseIPv6(pkt)
		if err != nil {
			return Outer{}, nil, KindMalformed, err
		}
		o.Src, o.Dst, o.TTL, o.TOS = h.Src(), h.Dst(), h.HopLimit(), h.TrafficClass()
		o.FlowLabel = h.FlowLabel()
		o.HeaderLen = IPv6HeaderLen
		proto, payload = h.NextHeader(), p
	default:
		return Outer{}, nil, KindMalformed, ErrVersion
	}
	switch proto {
	case ProtoESP:
		if len(payload) < ESPHeaderLen || payload[0]|payload[1]|payload[2]|payload[3] == 0 {
			return Outer{}, nil, KindMalformed, ErrESP
		}
		return o, payload, KindESP, nil
	case ProtoUDP:
		u, p, err := ParseUDP(payload, o.Src, o.Dst)
		if err != nil {
			return Outer{}, nil, KindMalformed, err
		}
		if u.DstPort() != PortNATT {
			return Outer{}, nil, KindMalformed, ErrPort
		}
		kind, body := Classify(p)
		if kind == KindMalformed {
			return Outer{}, nil, KindMalformed, ErrNATT
		}
		o.UDP, o.SrcPort, o.DstPort = true, u.SrcPort(), u.DstPort()
		o.UDPChecksum = u.Checksum() != 0
		o.HeaderLen += UDPHeaderLen
		return o, body, kind, nil
	}
	return Outer{}, nil, KindMalformed, ErrProtocol
}
