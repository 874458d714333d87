package ike

import (
	"encoding/binary"
	"fmt"
)

// ProtocolID names the protocol of a proposal, notify or delete (RFC 7296
// section 3.3.1).
type ProtocolID uint8

// Protocol IDs.
const (
	ProtoIKE ProtocolID = 1
	ProtoAH  ProtocolID = 2
	ProtoESP ProtocolID = 3
)

// TransformType is the kind of a transform (RFC 7296 section 3.3.2).
type TransformType uint8

// Transform types.
const (
	TransformENCR  TransformType = 1
	TransformPRF   TransformType = 2
	TransformINTEG TransformType = 3
	TransformDH    TransformType = 4
	TransformESN   TransformType = 5
)

// attrKeyLength is the only transform attribute defined (RFC 7296 section
// 3.3.5), always in the short TV format.
const attrKeyLength = 14

// Transform is one transform of a proposal. KeyLen is the Key Length
// attribute in bits, 0 when absent. A transform carrying an attribute this
// implementation does not know has Unknown set and must not be selected
// (RFC 7296 section 3.3.6).
type Transform struct {
	Type    TransformType
	ID      uint16
	KeyLen  uint16
	Unknown bool
}

// Proposal is one proposal substructure of an SA payload.
type Proposal struct {
	Num        uint8
	Protocol   ProtocolID
	SPI        []byte // 0 bytes (IKE_SA_INIT), 4 (ESP) or 8 (IKE rekey)
	Transforms []Transform
}

// SA is the Security Association payload: a list of proposals.
//
// Proposal substructure (RFC 7296 section 3.3.1):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Last Substruc |   RESERVED    |         Proposal Length       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                        SPI (variable)                         ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                        <Transforms>                           ~
//
// Transform substructure (section 3.3.2), attributes (section 3.3.5):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Last Substruc |   RESERVED    |        Transform Length       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Transform Type |   RESERVED    |          Transform ID         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|A|       Attribute Type        |    AF=0  Attribute Length     |
//	|F|                             |    AF=1  Attribute Value      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type SA struct {
	Proposals []Proposal
}

// ParseSA parses an SA payload body. Proposal and transform counts,
// lengths and Last Substruc markers must agree; any disagreement is
// ErrMalformed or ErrBadLength rather than a guess.
func ParseSA(b []byte) (SA, error) {
	var sa SA
	off := 0
	for {
		if len(b)-off < 8 {
			return SA{}, perr("proposal header", off, ErrTruncated)
		}
		last, plen := b[off], int(binary.BigEndian.Uint16(b[off+2:off+4]))
		if last != 0 && last != 2 {
			return SA{}, perr("proposal Last Substruc", off, ErrMalformed)
		}
		if plen < 8 || plen > len(b)-off {
			return SA{}, perr("proposal length", off+2, ErrBadLength)
		}
		p, err := parseProposal(b[off:off+plen], off)
		if err != nil {
			return SA{}, err
		}
		sa.Proposals = append(sa.Proposals, p)
		off += plen
		if last == 0 {
			break
		}
	}
	if off != len(b) {
		return SA{}, perr("SA payload", off, ErrBadLength)
	}
	return sa, nil
}

func parseProposal(b []byte, base int) (Proposal, error) {
	p := Proposal{Num: b[4], Protocol: ProtocolID(b[5])}
	spiSize, n := int(b[6]), int(b[7])
	if 8+spiSize > len(b) {
		return Proposal{}, perr("proposal SPI", base+6, ErrBadLength)
	}
	p.SPI = b[8 : 8+spiSize]
	off := 8 + spiSize
	for i := range n {
		what := fmt.Sprintf("proposal %d transform %d", p.Num, i+1)
		if len(b)-off < 8 {
			return Proposal{}, perr(what, base+off, ErrTruncated)
		}
		last, tlen := b[off], int(binary.BigEndian.Uint16(b[off+2:off+4]))
		if (i == n-1) != (last == 0) || (last != 0 && last != 3) {
			return Proposal{}, perr(what+" Last Substruc", base+off, ErrMalformed)
		}
		if tlen < 8 || tlen > len(b)-off {
			return Proposal{}, perr(what+" length", base+off+2, ErrBadLength)
		}
		t := Transform{Type: TransformType(b[off+4]), ID: binary.BigEndian.Uint16(b[off+6 : off+8])}
		if err := parseAttributes(&t, b[off+8:off+tlen], base+off+8); err != nil {
			return Proposal{}, err
		}
		p.Transforms = append(p.Transforms, t)
		off += tlen
	}
	if off != len(b) {
		return Proposal{}, perr(fmt.Sprintf("proposal %d", p.Num), base+off, ErrBadLength)
	}
	return p, nil
}

func parseAttributes(t *Transform, b []byte, base int) error {
	off := 0
	for off < len(b) {
		if len(b)-off < 4 {
			return perr("transform attribute", base+off, ErrTruncated)
		}
		typ := binary.BigEndian.Uint16(b[off : off+2])
		val := binary.BigEndian.Uint16(b[off+2 : off+4])
		if typ&0x8000 == 0 { // TLV: val is the length
			if int(val) > len(b)-off-4 {
				return perr("transform attribute", base+off, ErrTruncated)
			}
			t.Unknown = true
			off += 4 + int(val)
			continue
		}
		if typ&0x7fff == attrKeyLength {
			t.KeyLen = val
		} else {
			t.Unknown = true
		}
		off += 4
	}
	return nil
}

// Payload encodes the SA payload. Proposals are numbered as given.
func (sa SA) Payload() Payload {
	var b []byte
	for i, p := range sa.Proposals {
		start := len(b)
		last := byte(2)
		if i == len(sa.Proposals)-1 {
			last = 0
		}
		b = append(b, last, 0, 0, 0, p.Num, byte(p.Protocol), byte(len(p.SPI)), byte(len(p.Transforms)))
		b = append(b, p.SPI...)
		for j, t := range p.Transforms {
			tl := byte(3)
			if j == len(p.Transforms)-1 {
				tl = 0
			}
			length := 8
			if t.KeyLen != 0 {
				length += 4
			}
			b = append(b, tl, 0, byte(length>>8), byte(length), byte(t.Type), 0, byte(t.ID>>8), byte(t.ID))
			if t.KeyLen != 0 {
				b = append(b, 0x80, attrKeyLength, byte(t.KeyLen>>8), byte(t.KeyLen))
			}
		}
		binary.BigEndian.PutUint16(b[start+2:start+4], uint16(len(b)-start))
	}
	return Payload{Type: PayloadSA, Body: b}
}
