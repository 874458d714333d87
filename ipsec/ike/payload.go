package ike

import (
	"encoding/binary"
	"fmt"
)

// PayloadType identifies a payload (RFC 7296 section 3.2).
type PayloadType uint8

// Payload types.
const (
	PayloadNone      PayloadType = 0
	PayloadSA        PayloadType = 33
	PayloadKE        PayloadType = 34
	PayloadIDi       PayloadType = 35
	PayloadIDr       PayloadType = 36
	PayloadCERT      PayloadType = 37
	PayloadCERTREQ   PayloadType = 38
	PayloadAUTH      PayloadType = 39
	PayloadNonce     PayloadType = 40
	PayloadNotify    PayloadType = 41
	PayloadDelete    PayloadType = 42
	PayloadVendor    PayloadType = 43
	PayloadTSi       PayloadType = 44
	PayloadTSr       PayloadType = 45
	PayloadSK        PayloadType = 46
	PayloadCP        PayloadType = 47
	PayloadEAP       PayloadType = 48
	PayloadSKF       PayloadType = 53
	genericHeaderLen             = 4
)

var payloadNames = map[PayloadType]string{
	PayloadSA: "SA", PayloadKE: "KE", PayloadIDi: "IDi", PayloadIDr: "IDr",
	PayloadCERT: "CERT", PayloadCERTREQ: "CERTREQ", PayloadAUTH: "AUTH",
	PayloadNonce: "N(once)", PayloadNotify: "N", PayloadDelete: "D",
	PayloadVendor: "V", PayloadTSi: "TSi", PayloadTSr: "TSr", PayloadSK: "SK",
	PayloadCP: "CP", PayloadEAP: "EAP", PayloadSKF: "SKF",
}

func (t PayloadType) String() string {
	if n, ok := payloadNames[t]; ok {
		return n
	}
	return fmt.Sprintf("PAYLOAD(%d)", uint8(t))
}

// known reports whether this implementation understands t (it may still
// ignore it, as it does V). Unknown payloads are skipped unless
// critical.
func (t PayloadType) known() bool {
	_, ok := payloadNames[t]
	return ok
}

// Payload is one payload of a message: its type and its body, the bytes
// after the generic payload header:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Payload  |C|  RESERVED   |         Payload Length        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                            Body                               ~
//
// Parsed payloads alias the message buffer. Typed views come from the
// Parse* functions (ParseSA, ParseKE, ...), and typed values turn back
// into a Payload with their Payload method.
type Payload struct {
	Type     PayloadType
	Critical bool
	Body     []byte
}

// parseChain walks a chain of payloads starting with type first in b.
// An SK payload must end the chain; parseChain returns its offset in b (its
// generic header's), or -1 without one. base is added to offsets in errors.
func parseChain(b []byte, first PayloadType, base int, inner bool) (ps []Payload, skOff int, err error) {
	next, off := first, 0
	fail := func(what string, at int, e error) ([]Payload, int, error) {
		return nil, -1, &ParseError{What: what, Offset: base + at, Inner: inner, Err: e}
	}
	for next != PayloadNone {
		if len(b)-off < genericHeaderLen {
			return fail(next.String()+" payload header", off, ErrTruncated)
		}
		plen := int(binary.BigEndian.Uint16(b[off+2 : off+4]))
		if plen < genericHeaderLen {
			return fail(next.String()+" payload length", off+2, ErrBadLength)
		}
		if plen > len(b)-off {
			return fail(next.String()+" payload", off, ErrTruncated)
		}
		p := Payload{Type: next, Critical: b[off+1]&0x80 != 0, Body: b[off+genericHeaderLen : off+plen]}
		switch {
		case p.Type == PayloadSK:
			if inner {
				return fail("nested SK payload", off, ErrMalformed)
			}
			if off+plen != len(b) {
				return fail("SK payload", off, ErrSKNotLast)
			}
			return ps, off, nil
		case !p.Type.known():
			if p.Critical {
				return fail(p.Type.String(), off, ErrCritical)
			}
		default:
			ps = append(ps, p)
		}
		off += plen
		next = PayloadType(b[off-plen])
	}
	if off != len(b) {
		return fail("payload chain", off, ErrBadLength)
	}
	return ps, -1, nil
}

// appendChain encodes ps after b, each payload's Next Payload naming the
// one after it and the last one PayloadNone.
func appendChain(b []byte, ps []Payload) []byte {
	for i, p := range ps {
		next := PayloadNone
		if i+1 < len(ps) {
			next = ps[i+1].Type
		}
		var c byte
		if p.Critical {
			c = 0x80
		}
		b = append(b, byte(next), c, 0, 0)
		binary.BigEndian.PutUint16(b[len(b)-2:], uint16(genericHeaderLen+len(p.Body)))
		b = append(b, p.Body...)
	}
	return b
}

func firstType(ps []Payload) PayloadType {
	if len(ps) == 0 {
		return PayloadNone
	}
	return ps[0].Type
}

// chainLen is the encoded length of ps.
func chainLen(ps []Payload) int {
	n := 0
	for _, p := range ps {
		n += genericHeaderLen + len(p.Body)
	}
	return n
}
