package vpn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kind is the form of an RD or RT's administrator field; its value is the
// RD type field (RFC 4364 section 4.2) and the high byte of the route
// target's extended community type (RFC 4360 section 3).
type Kind uint8

const (
	KindAS2  Kind = 0 // 2-byte AS number : 4-byte assigned number
	KindIPv4 Kind = 1 // IPv4 address : 2-byte assigned number
	KindAS4  Kind = 2 // 4-byte AS number : 2-byte assigned number
)

// value is the 6 bytes after the type field, shared by RDs and RTs.
type value struct {
	kind Kind
	b    [6]byte
}

// ErrSyntax is wrapped by every parse error; the message says what input
// failed and why.
var ErrSyntax = errors.New("bad syntax")

func parseValue(what, s string) (value, error) {
	fail := func(reason string) (value, error) {
		return value{}, fmt.Errorf("%s %q: %w: %s", what, s, ErrSyntax, reason)
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return fail("want ADMIN:NUMBER, such as 65000:100 or 192.0.2.1:100")
	}
	admin, assigned := s[:i], s[i+1:]
	var v value
	if strings.Contains(admin, ".") {
		ip, err := netip.ParseAddr(admin)
		if err != nil || !ip.Is4() {
			return fail("administrator " + strconv.Quote(admin) + " is neither an AS number nor an IPv4 address")
		}
		n, err := strconv.ParseUint(assigned, 10, 16)
		if err != nil {
			return fail("assigned number after an IPv4 address must be 0..65535")
		}
		v.kind = KindIPv4
		a := ip.As4()
		copy(v.b[:4], a[:])
		binary.BigEndian.PutUint16(v.b[4:], uint16(n))
		return v, nil
	}
	as, err := strconv.ParseUint(admin, 10, 32)
	if err != nil {
		return fail("AS number must be 0..4294967295")
	}
	if as <= 0xffff {
		n, err := strconv.ParseUint(assigned, 10, 32)
		if err != nil {
			return fail("assigned number after a 2-byte AS must be 0..4294967295")
		}
		v.kind = KindAS2
		binary.BigEndian.PutUint16(v.b[:2], uint16(as))
		binary.BigEndian.PutUint32(v.b[2:], uint32(n))
		return v, nil
	}
	n, err := strconv.ParseUint(assigned, 10, 16)
	if err != nil {
		return fail("assigned number after a 4-byte AS must be 0..65535")
	}
	v.kind = KindAS4
	binary.BigEndian.PutUint32(v.b[:4], uint32(as))
	binary.BigEndian.PutUint16(v.b[4:], uint16(n))
	return v, nil
}

// Admin returns the administrator field as text: an AS number or an IPv4 address.
func (v value) admin() string {
	switch v.kind {
	case KindAS2:
		return strconv.FormatUint(uint64(binary.BigEndian.Uint16(v.b[:2])), 10)
	case KindIPv4:
		return netip.AddrFrom4([4]byte(v.b[:4])).String()
	default:
		return strconv.FormatUint(uint64(binary.BigEndian.Uint32(v.b[:4])), 10)
	}
}

// assigned returns the assigned-number field.
func (v value) assigned() uint32 {
	if v.kind == KindAS2 {
		return binary.BigEndian.Uint32(v.b[2:])
	}
	return uint32(binary.BigEndian.Uint16(v.b[4:]))
}

func (v value) String() string {
	return v.admin() + ":" + strconv.FormatUint(uint64(v.assigned()), 10)
}
