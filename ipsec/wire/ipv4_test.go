package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// ipv4ESP is an IPv4 packet carrying a 16-byte raw ESP packet, as
// Encapsulate writes it for the Path in TestEncapsulateVectors. Its header
// checksum was verified independently with tshark 4.0.17
// (-o ip.check_checksum:TRUE reports "Good").
var ipv4ESP = []byte{
	0x45, 0x00, 0x00, 0x24, // version 4, IHL 5, TOS 0, total length 36
	0x12, 0x34, 0x40, 0x00, // ID 0x1234, flags DF, fragment offset 0
	0x40, 0x32, 0x3c, 0x3d, // TTL 64, protocol 50 (ESP), header checksum
	0xc0, 0x00, 0x02, 0x01, // source 192.0.2.1
	0xc6, 0x33, 0x64, 0x02, // destination 198.51.100.2
	0x00, 0x00, 0x12, 0x34, // ESP: SPI 0x1234
	0x00, 0x00, 0x00, 0x01, // ESP: sequence number 1
	0xde, 0xad, 0xbe, 0xef, // ESP: "ciphertext"
	0xca, 0xfe, 0xba, 0xbe,
}

// fixIPv4Checksum recomputes the header checksum of an IPv4 test vector
// after a field was changed, so that the test reaches the check it means.
func fixIPv4Checksum(p []byte) []byte {
	hl := int(p[0]&0x0f) * 4
	if hl > len(p) {
		hl = len(p)
	}
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], Checksum(p[:hl]))
	return p
}

func TestParseIPv4(t *testing.T) {
	h, payload, err := ParseIPv4(ipv4ESP)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"Version", h.Version(), uint8(4)},
		{"HeaderLen", h.HeaderLen(), 20},
		{"TOS", h.TOS(), uint8(0)},
		{"TotalLen", h.TotalLen(), 36},
		{"ID", h.ID(), uint16(0x1234)},
		{"DF", h.DF(), true},
		{"MF", h.MF(), false},
		{"FragmentOffset", h.FragmentOffset(), uint16(0)},
		{"TTL", h.TTL(), uint8(64)},
		{"Protocol", h.Protocol(), uint8(ProtoESP)},
		{"Checksum", h.Checksum(), uint16(0x3c3d)},
		{"Src", h.Src(), netip.MustParseAddr("192.0.2.1")},
		{"Dst", h.Dst(), netip.MustParseAddr("198.51.100.2")},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !bytes.Equal(payload, ipv4ESP[20:]) {
		t.Errorf("payload = % x", payload)
	}
}

func TestParseIPv4Options(t *testing.T) {
	p := []byte{
		0x46, 0xb8, 0x00, 0x1c, // version 4, IHL 6 (one option word), TOS 0xb8 (EF), total 28
		0x00, 0x00, 0x00, 0x00, // ID 0, no flags
		0x01, 0x32, 0x00, 0x00, // TTL 1, ESP, checksum (fixed below)
		0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
		0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
		0x01, 0x01, 0x01, 0x00, // options: NOP NOP NOP EOL
		0x01, 0x02, 0x03, 0x04, // payload
		0xee, 0xee, // link-layer padding after total length: not payload
	}
	fixIPv4Checksum(p)
	h, payload, err := ParseIPv4(p)
	if err != nil {
		t.Fatal(err)
	}
	if h.HeaderLen() != 24 || h.TOS() != 0xb8 || h.DF() {
		t.Errorf("HeaderLen %d TOS %#x DF %v", h.HeaderLen(), h.TOS(), h.DF())
	}
	if !bytes.Equal(payload, []byte{1, 2, 3, 4}) {
		t.Errorf("payload = % x, want 01 02 03 04", payload)
	}
}

func TestParseIPv4Errors(t *testing.T) {
	mut := func(f func(p []byte) []byte) []byte {
		return f(append([]byte(nil), ipv4ESP...))
	}
	for _, c := range []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"19 bytes", ipv4ESP[:19], ErrTruncated},
		{"version 6", mut(func(p []byte) []byte { p[0] = 0x65; return fixIPv4Checksum(p) }), ErrVersion},
		{"IHL 4", mut(func(p []byte) []byte { p[0] = 0x44; return p }), ErrHeaderLen},
		{"IHL 15 beyond buffer", mut(func(p []byte) []byte { p[0] = 0x4f; return p[:40] }), ErrTruncated},
		{"total length 19", mut(func(p []byte) []byte { p[3] = 19; return fixIPv4Checksum(p) }), ErrTotalLen},
		{"total length beyond buffer", ipv4ESP[:35], ErrTruncated},
		{"checksum off by one", mut(func(p []byte) []byte { p[11]++; return p }), ErrChecksum},
		{"TTL changed, checksum not", mut(func(p []byte) []byte { p[8] = 63; return p }), ErrChecksum},
		{"MF set", mut(func(p []byte) []byte { p[6] = 0x20; return fixIPv4Checksum(p) }), ErrFragment},
		{"last fragment (offset 8)", mut(func(p []byte) []byte { p[6], p[7] = 0x00, 0x01; return fixIPv4Checksum(p) }), ErrFragment},
		{"offset 8191 with DF", mut(func(p []byte) []byte { p[6], p[7] = 0x5f, 0xff; return fixIPv4Checksum(p) }), ErrFragment},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, payload, err := ParseIPv4(c.pkt)
			if err != c.want {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if h != nil || payload != nil {
				t.Errorf("results not nil on error")
			}
		})
	}
}

func TestPutIPv4(t *testing.T) {
	b := make([]byte, 20)
	f := IPv4Fields{
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"),
		Protocol: ProtoESP, PayloadLen: 16, TTL: 64, ID: 0x1234, DF: true,
	}
	if err := PutIPv4(b, f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, ipv4ESP[:20]) {
		t.Fatalf("header\n got % x\nwant % x", b, ipv4ESP[:20])
	}
	// The header of TestChecksumWikipediaHeader, built rather than summed.
	f = IPv4Fields{
		Src: netip.MustParseAddr("192.168.0.1"), Dst: netip.MustParseAddr("192.168.0.199"),
		Protocol: ProtoUDP, PayloadLen: 0x73 - 20, TTL: 64, DF: true,
	}
	if err := PutIPv4(b, f); err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint16(b[10:]); got != 0xb861 {
		t.Errorf("checksum = %#04x, want 0xb861", got)
	}
}

func TestPutIPv4Errors(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for _, c := range []struct {
		name string
		n    int
		f    IPv4Fields
		want error
	}{
		{"short buffer", 19, IPv4Fields{Src: v4, Dst: v4}, ErrBounds},
		{"IPv6 source", 20, IPv4Fields{Src: v6, Dst: v4}, ErrAddrFamily},
		{"zero destination", 20, IPv4Fields{Src: v4}, ErrAddrFamily},
		{"negative payload", 20, IPv4Fields{Src: v4, Dst: v4, PayloadLen: -1}, ErrTooLong},
		{"payload 65516", 20, IPv4Fields{Src: v4, Dst: v4, PayloadLen: 65516}, ErrTooLong},
	} {
		if err := PutIPv4(make([]byte, c.n), c.f); err != c.want {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	if err := PutIPv4(make([]byte, 20), IPv4Fields{Src: v4, Dst: v4, PayloadLen: 65515}); err != nil {
		t.Errorf("largest payload: %v", err)
	}
}
