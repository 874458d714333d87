package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

// ipv6ESP is an IPv6 packet carrying a 16-byte raw ESP packet, as
// Encapsulate writes it for the Path in TestEncapsulateVectors.
var ipv6ESP = []byte{
	0x6b, 0x81, 0x23, 0x45, // version 6, traffic class 0xb8 (EF), flow label 0x12345
	0x00, 0x10, 0x32, 0x40, // payload length 16, next header 50 (ESP), hop limit 64
	0x20, 0x01, 0x0d, 0xb8, // source 2001:db8::1
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, // destination 2001:db8::2
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02,
	0x00, 0x00, 0x12, 0x34, // ESP: SPI 0x1234
	0x00, 0x00, 0x00, 0x01, // ESP: sequence number 1
	0xde, 0xad, 0xbe, 0xef, // ESP: "ciphertext"
	0xca, 0xfe, 0xba, 0xbe,
}

func TestParseIPv6(t *testing.T) {
	h, payload, err := ParseIPv6(ipv6ESP)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"Version", h.Version(), uint8(6)},
		{"TrafficClass", h.TrafficClass(), uint8(0xb8)},
		{"FlowLabel", h.FlowLabel(), uint32(0x12345)},
		{"PayloadLen", h.PayloadLen(), 16},
		{"NextHeader", h.NextHeader(), uint8(ProtoESP)},
		{"HopLimit", h.HopLimit(), uint8(64)},
		{"Src", h.Src(), netip.MustParseAddr("2001:db8::1")},
		{"Dst", h.Dst(), netip.MustParseAddr("2001:db8::2")},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !bytes.Equal(payload, ipv6ESP[40:]) {
		t.Errorf("payload = % x", payload)
	}
	// Link-layer padding after the payload length is not payload.
	padded := append(append([]byte(nil), ipv6ESP...), 0xee, 0xee)
	if _, payload, err := ParseIPv6(padded); err != nil || len(payload) != 16 {
		t.Errorf("padded: len %d, err %v", len(payload), err)
	}
}

func TestParseIPv6Errors(t *testing.T) {
	withNH := func(nh byte) []byte {
		p := append([]byte(nil), ipv6ESP...)
		p[6] = nh
		return p
	}
	for _, c := range []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"39 bytes", ipv6ESP[:39], ErrTruncated},
		{"version 4", append([]byte{0x4b}, ipv6ESP[1:]...), ErrVersion},
		{"payload length beyond buffer", ipv6ESP[:55], ErrTruncated},
		{"fragment header", withNH(44), ErrFragment},
		{"hop-by-hop", withNH(0), ErrExtensionHeader},
		{"routing", withNH(43), ErrExtensionHeader},
		{"destination options", withNH(60), ErrExtensionHeader},
		{"AH", withNH(51), ErrExtensionHeader},
		{"experimental 253", withNH(253), ErrExtensionHeader},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, payload, err := ParseIPv6(c.pkt)
			if err != c.want {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if h != nil || payload != nil {
				t.Errorf("results not nil on error")
			}
		})
	}
}

func TestPutIPv6(t *testing.T) {
	b := make([]byte, 40)
	f := IPv6Fields{
		Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
		NextHeader: ProtoESP, PayloadLen: 16, HopLimit: 64, TrafficClass: 0xb8,
		FlowLabel: 0xf12345, // bits above the 20-bit label are dropped
	}
	if err := PutIPv6(b, f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, ipv6ESP[:40]) {
		t.Fatalf("header\n got % x\nwant % x", b, ipv6ESP[:40])
	}
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for _, c := range []struct {
		name string
		n    int
		f    IPv6Fields
		want error
	}{
		{"short buffer", 39, IPv6Fields{Src: v6, Dst: v6}, ErrBounds},
		{"IPv4 destination", 40, IPv6Fields{Src: v6, Dst: v4}, ErrAddrFamily},
		{"zero source", 40, IPv6Fields{Dst: v6}, ErrAddrFamily},
		{"negative payload", 40, IPv6Fields{Src: v6, Dst: v6, PayloadLen: -1}, ErrTooLong},
		{"payload 65536", 40, IPv6Fields{Src: v6, Dst: v6, PayloadLen: 65536}, ErrTooLong},
	} {
		if err := PutIPv6(make([]byte, c.n), c.f); err != c.want {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestIsIPv6ExtensionHeader(t *testing.T) {
	ext := map[uint8]bool{0: true, 43: true, 44: true, 51: true, 60: true, 135: true, 139: true, 140: true, 253: true, 254: true}
	for nh := 0; nh < 256; nh++ {
		if got := IsIPv6ExtensionHeader(uint8(nh)); got != ext[uint8(nh)] {
			t.Errorf("IsIPv6ExtensionHeader(%d) = %v", nh, got)
		}
	}
}
