package ike

import (
	"encoding/binary"
	"net/netip"
)

// CFGType is the CFG Type of a Configuration payload (RFC 7296 section
// 3.15).
type CFGType uint8

// CFG types. A remote-access host sends CFG_REQUEST in IKE_AUTH; the
// responder answers CFG_REPLY. SET and ACK are parsed, never sent.
const (
	CFGRequest CFGType = 1
	CFGReply   CFGType = 2
	CFGSet     CFGType = 3
	CFGAck     CFGType = 4
)

// CFGAttrType is a configuration attribute's type (RFC 7296 section
// 3.15.1), 15 bits.
type CFGAttrType uint16

// The attributes a pool answers; others are carried and ignored.
const (
	AttrInternalIP4Address CFGAttrType = 1
	AttrInternalIP4Netmask CFGAttrType = 2
	AttrInternalIP4DNS     CFGAttrType = 3
	AttrInternalIP6Address CFGAttrType = 8
	AttrInternalIP6DNS     CFGAttrType = 10
)

// CFGAttr is one configuration attribute:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|         Attribute Type      |            Length             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                             Value                             ~
//
// An empty Value in a CFG_REQUEST asks for any value.
type CFGAttr struct {
	Type  CFGAttrType
	Value []byte
}

// cfgAttrLens are the lengths a known attribute's non-empty value must
// have (section 3.15.1): an IPv6 address carries its prefix length.
var cfgAttrLens = map[CFGAttrType]int{
	AttrInternalIP4Address: 4, AttrInternalIP4Netmask: 4, AttrInternalIP4DNS: 4,
	AttrInternalIP6Address: 17, AttrInternalIP6DNS: 16,
}

// CP is the Configuration payload body:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   CFG Type    |                    RESERVED                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	~                   Configuration Attributes                    ~
//
// Values alias the message buffer.
type CP struct {
	Type  CFGType
	Attrs []CFGAttr
}

// ParseCP parses a CP payload body. A known attribute whose value has
// neither length 0 nor its own is malformed, as is an attribute that
// overruns the payload.
func ParseCP(b []byte) (CP, error) {
	if len(b) < 4 {
		return CP{}, perr("CP payload", 0, ErrTruncated)
	}
	cp := CP{Type: CFGType(b[0])}
	for off := 4; off < len(b); {
		if len(b)-off < 4 {
			return CP{}, perr("CP attribute header", off, ErrTruncated)
		}
		t := CFGAttrType(binary.BigEndian.Uint16(b[off:]) & 0x7fff)
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n > len(b)-off-4 {
			return CP{}, perr("CP attribute", off, ErrTruncated)
		}
		v := b[off+4 : off+4+n]
		if want, known := cfgAttrLens[t]; known && n != 0 && n != want {
			return CP{}, perr("CP attribute length", off+2, ErrBadLength)
		}
		cp.Attrs = append(cp.Attrs, CFGAttr{Type: t, Value: v})
		off += 4 + n
	}
	return cp, nil
}

// Payload encodes the CP payload.
func (c CP) Payload() Payload {
	b := []byte{byte(c.Type), 0, 0, 0}
	for _, a := range c.Attrs {
		b = binary.BigEndian.AppendUint16(b, uint16(a.Type)&0x7fff)
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.Value)))
		b = append(b, a.Value...)
	}
	return Payload{Type: PayloadCP, Body: b}
}

// Asks reports whether the CP asks for attribute t.
func (c CP) Asks(t CFGAttrType) bool {
	for _, a := range c.Attrs {
		if a.Type == t {
			return true
		}
	}
	return false
}

// AddrAttr is the attribute t carrying address a: an IPv6 address gets
// prefix length 128 (a host's address, section 3.15.3).
func AddrAttr(t CFGAttrType, a netip.Addr) CFGAttr {
	v := a.AsSlice()
	if t == AttrInternalIP6Address {
		v = append(v, 128)
	}
	return CFGAttr{Type: t, Value: v}
}

// Addr is the address an address attribute carries, invalid for an
// empty or non-address one.
func (a CFGAttr) Addr() netip.Addr {
	want, ok := cfgAttrLens[a.Type]
	if !ok || len(a.Value) != want {
		return netip.Addr{}
	}
	if want == 17 {
		return netip.AddrFrom16([16]byte(a.Value[:16]))
	}
	ip, _ := netip.AddrFromSlice(a.Value)
	return ip
}
