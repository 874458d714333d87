package vpn

import (
	"encoding/binary"
	"fmt"
)

// RD is a route distinguisher (RFC 4364 section 4.2): 8 bytes prepended to
// an IPv4 or IPv6 prefix so that two customers' 10.0.0.0/8 stay distinct
// routes in the provider's BGP. The zero RD is invalid (IsValid false); a
// valid RD with every field zero ("0:0") is still distinguishable from it.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Type (0,1,2)          |  Administrator ...            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   ... Administrator / Assigned Number (6 bytes in all)        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type RD struct {
	v     value
	valid bool
}

// ParseRD parses "65000:1", "192.0.2.1:1" or "4200000000:1".
func ParseRD(s string) (RD, error) {
	v, err := parseValue("route distinguisher", s)
	if err != nil {
		return RD{}, err
	}
	return RD{v: v, valid: true}, nil
}

// MustParseRD is ParseRD for constants in tests and examples; it panics on error.
func MustParseRD(s string) RD {
	rd, err := ParseRD(s)
	if err != nil {
		panic(err)
	}
	return rd
}

// RDFromBytes decodes the 8-byte wire form.
func RDFromBytes(b [8]byte) (RD, error) {
	t := binary.BigEndian.Uint16(b[:2])
	if t > uint16(KindAS4) {
		return RD{}, fmt.Errorf("route distinguisher type %d: %w: want 0, 1 or 2", t, ErrSyntax)
	}
	return RD{v: value{kind: Kind(t), b: [6]byte(b[2:])}, valid: true}, nil
}

// IsValid reports whether rd was parsed or decoded (the zero RD is not).
func (rd RD) IsValid() bool { return rd.valid }

// Kind returns the RD's type.
func (rd RD) Kind() Kind { return rd.v.kind }

// Bytes returns the 8-byte wire form.
func (rd RD) Bytes() [8]byte {
	var b [8]byte
	binary.BigEndian.PutUint16(b[:2], uint16(rd.v.kind))
	copy(b[2:], rd.v.b[:])
	return b
}

// String returns the text form, or "invalid RD" for the zero value.
func (rd RD) String() string {
	if !rd.valid {
		return "invalid RD"
	}
	return rd.v.String()
}

// MarshalText implements encoding.TextMarshaler.
func (rd RD) MarshalText() ([]byte, error) {
	if !rd.valid {
		return []byte(""), nil
	}
	return []byte(rd.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; config uses it.
func (rd *RD) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*rd = RD{}
		return nil
	}
	v, err := ParseRD(string(b))
	if err != nil {
		return err
	}
	*rd = v
	return nil
}
