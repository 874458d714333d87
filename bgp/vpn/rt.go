package vpn

import "fmt"

// RT is a route target (RFC 4364 section 4.3.1): a BGP extended community
// (RFC 4360) of subtype 0x02. A VRF exports its routes with its export RTs
// and imports every VPN route carrying one of its import RTs. The zero RT is
// invalid.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Type 0x00-02  | Sub-type 0x02 |   Administrator ...           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   ... Administrator / Assigned Number (6 bytes in all)        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type RT struct {
	v     value
	valid bool
}

// SubtypeRouteTarget is the extended community subtype of a route target.
const SubtypeRouteTarget = 0x02

// ParseRT parses "65000:1", "192.0.2.1:1" or "4200000000:1". A leading
// "rt:" or "target:" (as gobgp and FRR print them) is accepted.
func ParseRT(s string) (RT, error) {
	t := s
	for _, p := range []string{"rt:", "target:"} {
		if len(t) > len(p) && t[:len(p)] == p {
			t = t[len(p):]
		}
	}
	v, err := parseValue("route target", t)
	if err != nil {
		return RT{}, err
	}
	return RT{v: v, valid: true}, nil
}

// MustParseRT is ParseRT for constants in tests and examples; it panics on error.
func MustParseRT(s string) RT {
	rt, err := ParseRT(s)
	if err != nil {
		panic(err)
	}
	return rt
}

// RTFromBytes decodes an 8-byte extended community; it fails for any
// community that is not a transitive route target.
func RTFromBytes(b [8]byte) (RT, error) {
	if b[0] > byte(KindAS4) || b[1] != SubtypeRouteTarget {
		return RT{}, fmt.Errorf("extended community type 0x%02x subtype 0x%02x: %w: not a route target", b[0], b[1], ErrSyntax)
	}
	return RT{v: value{kind: Kind(b[0]), b: [6]byte(b[2:])}, valid: true}, nil
}

// IsValid reports whether rt was parsed or decoded (the zero RT is not).
func (rt RT) IsValid() bool { return rt.valid }

// Kind returns the RT's administrator form.
func (rt RT) Kind() Kind { return rt.v.kind }

// Bytes returns the 8-byte extended community.
func (rt RT) Bytes() [8]byte {
	var b [8]byte
	b[0] = byte(rt.v.kind)
	b[1] = SubtypeRouteTarget
	copy(b[2:], rt.v.b[:])
	return b
}

// String returns the text form, or "invalid RT" for the zero value.
func (rt RT) String() string {
	if !rt.valid {
		return "invalid RT"
	}
	return rt.v.String()
}

// MarshalText implements encoding.TextMarshaler.
func (rt RT) MarshalText() ([]byte, error) {
	if !rt.valid {
		return []byte(""), nil
	}
	return []byte(rt.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; config uses it.
func (rt *RT) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*rt = RT{}
		return nil
	}
	v, err := ParseRT(string(b))
	if err != nil {
		return err
	}
	*rt = v
	return nil
}
