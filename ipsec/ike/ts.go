package ike

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Traffic selector types (RFC 7296 section 3.13.1).
const (
	tsIPv4 = 7
	tsIPv6 = 8
)

// TrafficSelector is one address range, protocol and port range (RFC 7296
// section 3.13.1):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   TS Type     |IP Protocol ID*|       Selector Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Start Port*         |           End Port*           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                         Starting Address*                     ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                         Ending Address*                       ~
//
// Protocol 0 means any protocol; ports 0-65535 mean any port.
type TrafficSelector struct {
	Protocol           uint8
	StartPort, EndPort uint16
	Start, End         netip.Addr
}

// TSFromPrefix is the selector for every packet to or from p, any protocol.
func TSFromPrefix(p netip.Prefix) TrafficSelector {
	p = p.Masked()
	return TrafficSelector{EndPort: 65535, Start: p.Addr(), End: lastAddr(p)}
}

// TSHost is the selector for one address, any protocol.
func TSHost(a netip.Addr) TrafficSelector {
	return TrafficSelector{EndPort: 65535, Start: a, End: a}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (ts TrafficSelector) String() string {
	s := ts.Start.String() + "-" + ts.End.String()
	if ts.Protocol != 0 {
		s += fmt.Sprintf(" proto %d", ts.Protocol)
	}
	if ts.StartPort != 0 || ts.EndPort != 65535 {
		s += fmt.Sprintf(" ports %d-%d", ts.StartPort, ts.EndPort)
	}
	return s
}

// valid reports whether the range is well formed: one family, start <= end.
func (ts TrafficSelector) valid() bool {
	return ts.Start.IsValid() && ts.Start.Is4() == ts.End.Is4() &&
		ts.Start.Compare(ts.End) <= 0 && ts.StartPort <= ts.EndPort
}

// Intersect returns the selector both ts and o match, and false when they
// have nothing in common. A responder narrows with it (RFC 7296 section
// 2.9).
func (ts TrafficSelector) Intersect(o TrafficSelector) (TrafficSelector, bool) {
	if ts.Start.Is4() != o.Start.Is4() {
		return TrafficSelector{}, false
	}
	r := ts
	switch {
	case ts.Protocol == 0:
		r.Protocol = o.Protocol
	case o.Protocol != 0 && o.Protocol != ts.Protocol:
		return TrafficSelector{}, false
	}
	r.StartPort, r.EndPort = max(ts.StartPort, o.StartPort), min(ts.EndPort, o.EndPort)
	if ts.Start.Less(o.Start) {
		r.Start = o.Start
	}
	if o.End.Less(ts.End) {
		r.End = o.End
	}
	return r, r.valid()
}

// ParseTS parses a TSi or TSr payload body.
func ParseTS(b []byte) ([]TrafficSelector, error) {
	if len(b) < 4 {
		return nil, perr("TS payload", 0, ErrTruncated)
	}
	n, off := int(b[0]), 4
	if n == 0 {
		return nil, perr("TS payload count", 0, ErrMalformed)
	}
	var out []TrafficSelector
	for range n {
		if len(b)-off < 8 {
			return nil, perr("traffic selector", off, ErrTruncated)
		}
		typ, slen := b[off], int(binary.BigEndian.Uint16(b[off+2:off+4]))
		alen := 4
		switch typ {
		case tsIPv4:
		case tsIPv6:
			alen = 16
		default:
			return nil, perr("traffic selector type", off, ErrMalformed)
		}
		if slen != 8+2*alen || slen > len(b)-off {
			return nil, perr("traffic selector length", off+2, ErrBadLength)
		}
		s := b[off : off+slen]
		start, _ := netip.AddrFromSlice(s[8 : 8+alen])
		end, _ := netip.AddrFromSlice(s[8+alen:])
		out = append(out, TrafficSelector{
			Protocol:  s[1],
			StartPort: binary.BigEndian.Uint16(s[4:6]),
			EndPort:   binary.BigEndian.Uint16(s[6:8]),
			Start:     start, End: end,
		})
		off += slen
	}
	if off != len(b) {
		return nil, perr("TS payload", off, ErrBadLength)
	}
	return out, nil
}

// TSPayload encodes selectors as TSi (initiator side) or TSr.
func TSPayload(initiator bool, tss []TrafficSelector) Payload {
	t := PayloadTSr
	if initiator {
		t = PayloadTSi
	}
	b := []byte{byte(len(tss)), 0, 0, 0}
	for _, ts := range tss {
		typ, alen := byte(tsIPv4), 4
		if ts.Start.Is6() {
			typ, alen = tsIPv6, 16
		}
		b = append(b, typ, ts.Protocol, 0, byte(8+2*alen))
		b = binary.BigEndian.AppendUint16(b, ts.StartPort)
		b = binary.BigEndian.AppendUint16(b, ts.EndPort)
		b = append(b, ts.Start.AsSlice()...)
		b = append(b, ts.End.AsSlice()...)
	}
	return Payload{Type: t, Body: b}
}
