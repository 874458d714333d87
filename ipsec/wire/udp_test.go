package wire

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// ipv6UDP is ESP-in-UDP over IPv6, as Encapsulate writes it for the Path
// in TestEncapsulateVectors. The UDP checksum 0x4b91 was verified with
// tshark 4.0.17 (-o udp.check_checksum:TRUE reports "Good").
var ipv6UDP = []byte{
	0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
	0x00, 0x18, 0x11, 0xff, // payload length 24, next header 17 (UDP), hop limit 255
	0x20, 0x01, 0x0d, 0xb8, // source 2001:db8::1
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, // destination 2001:db8::2
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02,
	0x11, 0x94, 0x11, 0x94, // UDP: source port 4500, destination port 4500
	0x00, 0x18, 0x4b, 0x91, // UDP: length 24, checksum
	0x00, 0x00, 0x12, 0x34, // ESP: SPI 0x1234
	0x00, 0x00, 0x00, 0x01, // ESP: sequence number 1
	0xde, 0xad, 0xbe, 0xef, // ESP: "ciphertext"
	0xca, 0xfe, 0xba, 0xbe,
}

// ipv4UDP is ESP-in-UDP over IPv4 without a UDP checksum (RFC 3948
// section 2.1), as Encapsulate writes it by default.
var ipv4UDP = []byte{
	0x45, 0x00, 0x00, 0x2c, // version 4, IHL 5, TOS 0, total length 44
	0x00, 0x00, 0x00, 0x00, // ID 0, no flags
	0x40, 0x11, 0x8e, 0x8a, // TTL 64, protocol 17 (UDP), header checksum
	0xc0, 0x00, 0x02, 0x01, // source 192.0.2.1
	0xc6, 0x33, 0x64, 0x02, // destination 198.51.100.2
	0x11, 0x94, 0x11, 0x94, // UDP: source port 4500, destination port 4500
	0x00, 0x18, 0x00, 0x00, // UDP: length 24, checksum 0 (none)
	0x00, 0x00, 0x12, 0x34, // ESP: SPI 0x1234
	0x00, 0x00, 0x00, 0x01, // ESP: sequence number 1
	0xde, 0xad, 0xbe, 0xef, // ESP: "ciphertext"
	0xca, 0xfe, 0xba, 0xbe,
}

// ipv4UDPChecksum is ipv4UDP from source port 4501 with the optional
// checksum, 0xbacd (verified with tshark 4.0.17).
var ipv4UDPChecksum = func() []byte {
	p := append([]byte(nil), ipv4UDP...)
	p[21] = 0x95              // source port 4501
	p[26], p[27] = 0xba, 0xcd // checksum
	return p
}()

var (
	src4, dst4 = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2")
	src6, dst6 = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
)

// independentUDP6Checksum builds the RFC 8200 section 8.1 pseudo-header
// as bytes, exactly as the RFC draws it, appends the datagram with its
// checksum zeroed, and sums 16-bit words the slow way. It shares no code
// with SetChecksum.
func independentUDP6Checksum(src, dst netip.Addr, datagram []byte) uint16 {
	var ph []byte
	ph = append(ph, src.AsSlice()...)
	ph = append(ph, dst.AsSlice()...)
	ph = binary.BigEndian.AppendUint32(ph, uint32(len(datagram))) // upper-layer packet length
	ph = append(ph, 0, 0, 0, ProtoUDP)                            // zero, next header
	d := append([]byte(nil), datagram...)
	d[6], d[7] = 0, 0
	c := ^naiveSum(append(ph, d...))
	if c == 0 {
		c = 0xffff
	}
	return c
}

func TestUDPChecksumIPv6Independent(t *testing.T) {
	if got := independentUDP6Checksum(src6, dst6, ipv6UDP[40:]); got != 0x4b91 {
		t.Fatalf("independent checksum of vector = %#04x, want 0x4b91", got)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 300; n += 7 {
		d := make([]byte, UDPHeaderLen+n)
		for i := range d {
			d[i] = byte(r.Uint32())
		}
		if err := PutUDP(d, 4500, 4500, n); err != nil {
			t.Fatal(err)
		}
		if err := UDP(d).SetChecksum(src6, dst6); err != nil {
			t.Fatal(err)
		}
		got := binary.BigEndian.Uint16(d[6:])
		if want := independentUDP6Checksum(src6, dst6, d); got != want {
			t.Fatalf("len %d: SetChecksum %#04x, independent %#04x", n, got, want)
		}
		if _, _, err := ParseUDP(d, src6, dst6); err != nil {
			t.Fatalf("len %d: own checksum rejected: %v", n, err)
		}
	}
}

// TestUDPChecksumZeroSentAsOnes finds a datagram whose checksum computes to
// zero and checks that 0xffff is sent instead (RFC 768), and accepted.
func TestUDPChecksumZeroSentAsOnes(t *testing.T) {
	d := make([]byte, 10)
	PutUDP(d, 4500, 4500, 2)
	// Choose the two payload bytes so that the whole sum is 0xffff.
	s := fold(sum(pseudoHeaderSum(src4, dst4, ProtoUDP, len(d)), d))
	binary.BigEndian.PutUint16(d[8:], 0xffff-s)
	if err := UDP(d).SetChecksum(src4, dst4); err != nil {
		t.Fatal(err)
	}
	if got := UDP(d).Checksum(); got != 0xffff {
		t.Fatalf("checksum = %#04x, want 0xffff", got)
	}
	if _, _, err := ParseUDP(d, src4, dst4); err != nil {
		t.Fatalf("0xffff checksum rejected: %v", err)
	}
}

func TestParseUDP(t *testing.T) {
	for _, c := range []struct {
		name     string
		pkt      []byte
		src, dst netip.Addr
		sport    uint16
		checksum uint16
	}{
		{"IPv4 no checksum", ipv4UDP[20:], src4, dst4, 4500, 0},
		{"IPv4 checksum", ipv4UDPChecksum[20:], src4, dst4, 4501, 0xbacd},
		{"IPv6", ipv6UDP[40:], src6, dst6, 4500, 0x4b91},
	} {
		u, payload, err := ParseUDP(c.pkt, c.src, c.dst)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if u.SrcPort() != c.sport || u.DstPort() != 4500 || u.Length() != 24 || u.Checksum() != c.checksum {
			t.Errorf("%s: ports %d>%d length %d checksum %#x", c.name, u.SrcPort(), u.DstPort(), u.Length(), u.Checksum())
		}
		if !bytes.Equal(payload, c.pkt[8:]) {
			t.Errorf("%s: payload % x", c.name, payload)
		}
	}
}

func TestParseUDPErrors(t *testing.T) {
	zeroed := append([]byte(nil), ipv6UDP[40:]...)
	zeroed[6], zeroed[7] = 0, 0
	flipped := append([]byte(nil), ipv4UDPChecksum[20:]...)
	flipped[len(flipped)-1] ^= 1
	for _, c := range []struct {
		name     string
		pkt      []byte
		src, dst netip.Addr
		want     error
	}{
		{"7 bytes", ipv4UDP[20:27], src4, dst4, ErrTruncated},
		{"length field > datagram", ipv4UDP[20:43], src4, dst4, ErrUDPLength},
		{"length field < datagram", append(append([]byte(nil), ipv4UDP[20:]...), 0), src4, dst4, ErrUDPLength},
		{"mixed families", ipv4UDP[20:], src4, dst6, ErrAddrFamily},
		{"invalid addresses", ipv4UDP[20:], netip.Addr{}, netip.Addr{}, ErrAddrFamily},
		{"IPv6 zero checksum", zeroed, src6, dst6, ErrUDPChecksum},
		{"IPv4 bad checksum", flipped, src4, dst4, ErrUDPChecksum},
		{"IPv6 checksum, wrong source", ipv6UDP[40:], dst6, dst6, ErrUDPChecksum},
	} {
		u, payload, err := ParseUDP(c.pkt, c.src, c.dst)
		if err != c.want {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if u != nil || payload != nil {
			t.Errorf("%s: results not nil on error", c.name)
		}
	}
}

func TestPutUDPErrors(t *testing.T) {
	if err := PutUDP(make([]byte, 7), 1, 2, 0); err != ErrBounds {
		t.Errorf("short buffer: %v", err)
	}
	if err := PutUDP(make([]byte, 8), 1, 2, 65528); err != ErrTooLong {
		t.Errorf("payload 65528: %v", err)
	}
	if err := PutUDP(make([]byte, 8), 1, 2, -1); err != ErrTooLong {
		t.Errorf("payload -1: %v", err)
	}
	if err := UDP(make([]byte, 7)).SetChecksum(src4, dst4); err != ErrBounds {
		t.Errorf("SetChecksum short: %v", err)
	}
	if err := UDP(make([]byte, 8)).SetChecksum(src4, dst6); err != ErrAddrFamily {
		t.Errorf("SetChecksum mixed: %v", err)
	}
}
