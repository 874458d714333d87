package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

// espBody is the 16-byte "ESP packet" every vector carries.
var espBody = ipv4ESP[20:]

// encapCases pairs each Path with the exact packet Encapsulate must write
// and Decapsulate must read back.
var encapCases = []struct {
	name string
	path Path
	pkt  []byte
}{
	{"IPv4 raw ESP", Path{Src: src4, Dst: dst4, TTL: 64, ID: 0x1234, DF: true}, ipv4ESP},
	{"IPv4 UDP, no checksum", Path{Src: src4, Dst: dst4, UDP: true, SrcPort: 4500, DstPort: 4500, TTL: 64}, ipv4UDP},
	{"IPv4 UDP, checksum", Path{Src: src4, Dst: dst4, UDP: true, SrcPort: 4501, DstPort: 4500, UDPChecksum: true, TTL: 64}, ipv4UDPChecksum},
	{"IPv6 raw ESP", Path{Src: src6, Dst: dst6, TTL: 64, TOS: 0xb8, FlowLabel: 0x12345}, ipv6ESP},
	{"IPv6 UDP", Path{Src: src6, Dst: dst6, UDP: true, SrcPort: 4500, DstPort: 4500, UDPChecksum: true, TTL: 255}, ipv6UDP},
}

// withHeadroom returns a buffer holding body after off bytes of 0xAA
// (so that a header byte Encapsulate forgot to write shows up).
func withHeadroom(off int, body []byte) []byte {
	buf := bytes.Repeat([]byte{0xaa}, off+len(body))
	copy(buf[off:], body)
	return buf
}

func TestEncapsulateVectors(t *testing.T) {
	for _, c := range encapCases {
		t.Run(c.name, func(t *testing.T) {
			buf := withHeadroom(MaxOuterHeaderLen, espBody)
			off, err := Encapsulate(buf, MaxOuterHeaderLen, len(espBody), c.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := buf[off:]; !bytes.Equal(got, c.pkt) {
				t.Fatalf("packet\n got % x\nwant % x", got, c.pkt)
			}
			if hl := c.path.HeaderLen(); off != MaxOuterHeaderLen-hl {
				t.Errorf("pktOff %d, HeaderLen %d", off, hl)
			}
		})
	}
}

func TestEncapsulateDefaults(t *testing.T) {
	// Zero TTL and ports take the defaults: this is ipv4UDP.
	buf := withHeadroom(28, espBody)
	off, err := Encapsulate(buf, 28, len(espBody), Path{Src: src4, Dst: dst4, UDP: true})
	if err != nil || off != 0 || !bytes.Equal(buf, ipv4UDP) {
		t.Fatalf("off %d err %v\n got % x\nwant % x", off, err, buf, ipv4UDP)
	}
	// Over IPv6 the UDP checksum is computed even if the Path does not ask.
	buf = withHeadroom(48, espBody)
	if _, err := Encapsulate(buf, 48, len(espBody), Path{Src: src6, Dst: dst6, UDP: true, TTL: 255}); err != nil || !bytes.Equal(buf, ipv6UDP) {
		t.Fatalf("err %v\n got % x\nwant % x", err, buf, ipv6UDP)
	}
}

func TestDecapsulateVectors(t *testing.T) {
	for _, c := range encapCases {
		t.Run(c.name, func(t *testing.T) {
			o, esp, kind, err := Decapsulate(c.pkt)
			if err != nil {
				t.Fatal(err)
			}
			if kind != KindESP || !bytes.Equal(esp, espBody) {
				t.Fatalf("kind %v esp % x", kind, esp)
			}
			if o.Path != c.path {
				t.Errorf("Path\n got %+v\nwant %+v", o.Path, c.path)
			}
			if o.HeaderLen != c.path.HeaderLen() || &c.pkt[o.HeaderLen] != &esp[0] {
				t.Errorf("HeaderLen %d: ESP not returned in place", o.HeaderLen)
			}
		})
	}
}

func TestDecapsulateIKEAndKeepalive(t *testing.T) {
	// IKE: marker + message, wrapped by Encapsulate.
	const headroom = MaxOuterHeaderLen + NonESPMarkerLen
	buf := withHeadroom(headroom, ikeInit[4:])
	moff, err := PutNonESPMarker(buf, headroom)
	if err != nil {
		t.Fatal(err)
	}
	off, err := Encapsulate(buf, moff, len(buf)-moff, Path{Src: src6, Dst: dst6, UDP: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[off+48:], ikeInit) {
		t.Fatalf("marker and message not where expected: % x", buf[off:])
	}
	o, ike, kind, err := Decapsulate(buf[off:])
	if err != nil || kind != KindIKE || !bytes.Equal(ike, ikeInit[4:]) || o.HeaderLen != 48 {
		t.Fatalf("IKE: kind %v err %v HeaderLen %d ike % x", kind, err, o.HeaderLen, ike)
	}
	// Keepalive over IPv4.
	buf = withHeadroom(28, []byte{0xff})
	if _, err := Encapsulate(buf, 28, 1, Path{Src: src4, Dst: dst4, UDP: true, SrcPort: 61000}); err != nil {
		t.Fatal(err)
	}
	o, ka, kind, err := Decapsulate(buf)
	if err != nil || kind != KindKeepalive || !bytes.Equal(ka, []byte{0xff}) || o.SrcPort != 61000 {
		t.Fatalf("keepalive: kind %v err %v % x sport %d", kind, err, ka, o.SrcPort)
	}
}

func TestEncapsulateErrors(t *testing.T) {
	ok := Path{Src: src4, Dst: dst4, UDP: true}
	big := make([]byte, 70000)
	for _, c := range []struct {
		name        string
		buf         []byte
		off, espLen int
		p           Path
		want        error
	}{
		{"negative offset", make([]byte, 64), -1, 8, ok, ErrBounds},
		{"negative length", make([]byte, 64), 48, -1, ok, ErrBounds},
		{"offset past end", make([]byte, 64), 65, 0, ok, ErrBounds},
		{"length past end", make([]byte, 64), 48, 17, ok, ErrBounds},
		{"zero Path", make([]byte, 64), 48, 16, Path{}, ErrAddrFamily},
		{"mixed families", make([]byte, 64), 48, 16, Path{Src: src4, Dst: dst6}, ErrAddrFamily},
		{"IPv4 UDP headroom 27", make([]byte, 64), 27, 16, ok, ErrHeadroom},
		{"IPv6 raw headroom 39", make([]byte, 64), 39, 16, Path{Src: src6, Dst: dst6}, ErrHeadroom},
		{"IPv4 raw 65516 bytes", big, 48, 65516, Path{Src: src4, Dst: dst4}, ErrTooLong},
		{"IPv4 UDP 65508 bytes", big, 48, 65508, ok, ErrTooLong},
		{"IPv6 raw 65536 bytes", big, 48, 65536, Path{Src: src6, Dst: dst6}, ErrTooLong},
		{"IPv6 UDP 65528 bytes", big, 48, 65528, Path{Src: src6, Dst: dst6, UDP: true}, ErrTooLong},
	} {
		off, err := Encapsulate(c.buf, c.off, c.espLen, c.p)
		if err != c.want || off != 0 {
			t.Errorf("%s: off %d err %v, want %v", c.name, off, err, c.want)
		}
	}
	// The largest packets that fit.
	for _, c := range []struct {
		p Path
		n int
	}{
		{Path{Src: src4, Dst: dst4}, 65515},
		{ok, 65507},
		{Path{Src: src6, Dst: dst6}, 65535},
		{Path{Src: src6, Dst: dst6, UDP: true}, 65527},
	} {
		if _, err := Encapsulate(big, 48, c.n, c.p); err != nil {
			t.Errorf("%+v with %d bytes: %v", c.p, c.n, err)
		}
	}
}

func TestDecapsulateErrors(t *testing.T) {
	mut := func(p []byte, f func(p []byte)) []byte {
		p = append([]byte(nil), p...)
		f(p)
		return p
	}
	// wrapUDP builds a valid IPv4 ESP-in-UDP packet around payload, so the
	// test reaches the check after UDP parsing.
	wrapUDP := func(payload []byte, dport uint16) []byte {
		buf := withHeadroom(28, payload)
		if _, err := Encapsulate(buf, 28, len(payload), Path{Src: src4, Dst: dst4, UDP: true, DstPort: dport}); err != nil {
			t.Fatal(err)
		}
		return buf
	}
	wrap := func(p Path, payload []byte) []byte {
		buf := withHeadroom(48, payload)
		off, err := Encapsulate(buf, 48, len(payload), p)
		if err != nil {
			t.Fatal(err)
		}
		return buf[off:]
	}
	for _, c := range []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"version 5", []byte{0x50, 0, 0, 0}, ErrVersion},
		{"IPv4 truncated", ipv4ESP[:10], ErrTruncated},
		{"IPv4 bad checksum", mut(ipv4ESP, func(p []byte) { p[10] ^= 0xff }), ErrChecksum},
		{"IPv4 fragment", fixIPv4Checksum(mut(ipv4ESP, func(p []byte) { p[6] |= 0x20 })), ErrFragment},
		{"IPv4 TCP", fixIPv4Checksum(mut(ipv4ESP, func(p []byte) { p[9] = 6 })), ErrProtocol},
		{"IPv6 truncated", ipv6ESP[:50], ErrTruncated},
		{"IPv6 fragment header", mut(ipv6ESP, func(p []byte) { p[6] = 44 }), ErrFragment},
		{"IPv6 routing header", mut(ipv6ESP, func(p []byte) { p[6] = 43 }), ErrExtensionHeader},
		{"IPv6 ICMPv6", mut(ipv6ESP, func(p []byte) { p[6] = 58 }), ErrProtocol},
		{"raw ESP 7 bytes", wrap(Path{Src: src4, Dst: dst4}, espBody[:7]), ErrESP},
		{"raw ESP SPI 0", wrap(Path{Src: src6, Dst: dst6}, make([]byte, 16)), ErrESP},
		{"UDP length wrong", mut(ipv4UDP, func(p []byte) { p[25]-- }), ErrUDPLength},
		{"UDP checksum bad", mut(ipv4UDPChecksum, func(p []byte) { p[27]++ }), ErrUDPChecksum},
		{"IPv6 UDP checksum zero", mut(ipv6UDP, func(p []byte) { p[46], p[47] = 0, 0 }), ErrUDPChecksum},
		{"UDP to port 500", wrapUDP(espBody, 500), ErrPort},
		{"UDP 4500, 3 bytes", wrapUDP([]byte{1, 2, 3}, 4500), ErrNATT},
		{"UDP 4500, empty", wrapUDP(nil, 4500), ErrNATT},
		{"UDP 4500, bare marker", wrapUDP(make([]byte, 4), 4500), ErrNATT},
	} {
		o, b, kind, err := Decapsulate(c.pkt)
		if err != c.want {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if o != (Outer{}) || b != nil || kind != KindMalformed {
			t.Errorf("%s: results not zero on error: %+v % x %v", c.name, o, b, kind)
		}
	}
}

func TestPathHeaderLen(t *testing.T) {
	for _, c := range []struct {
		p    Path
		want int
	}{
		{Path{Src: src4, Dst: dst4}, 20},
		{Path{Src: src4, Dst: dst4, UDP: true}, 28},
		{Path{Src: src6, Dst: dst6}, 40},
		{Path{Src: src6, Dst: dst6, UDP: true}, 48},
		{Path{Src: netip.MustParseAddr("::ffff:192.0.2.1"), Dst: dst6}, 40}, // IPv4-mapped is IPv6
		{Path{Src: src4, Dst: dst6}, 0},
		{Path{}, 0},
	} {
		if got := c.p.HeaderLen(); got != c.want {
			t.Errorf("%v>%v UDP %v: HeaderLen %d, want %d", c.p.Src, c.p.Dst, c.p.UDP, got, c.want)
		}
	}
}
