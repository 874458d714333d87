package ah

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

var allIntegs = []Integ{HMACSHA256128, AES128GMAC, AES256GMAC}

var (
	src4 = netip.MustParseAddr("192.0.2.1")
	dst4 = netip.MustParseAddr("198.51.100.2")
	src6 = netip.MustParseAddr("2001:db8::1")
	dst6 = netip.MustParseAddr("2001:db8::2")
)

// testKey returns key material for i, every byte derived from seed.
func testKey(i Integ, seed byte) []byte {
	k := make([]byte, i.KeyLen())
	for j := range k {
		k[j] = seed + byte(j)
	}
	return k
}

func mustSA(t testing.TB, cfg Config) *SA {
	t.Helper()
	sa, err := NewSA(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

// pair returns a sender and a receiver of one SA.
func pair(t testing.TB, i Integ, esn bool) (tx, rx *SA) {
	cfg := Config{SPI: 0x1001, Integ: i, Key: testKey(i, 0x40), ESN: esn}
	return mustSA(t, cfg), mustSA(t, cfg)
}

// ipv4Packet returns an IPv4 packet from src to dst with protocol proto
// and n payload bytes, checksum set, TTL 64, TOS 0x10, DF.
func ipv4Packet(src, dst netip.Addr, proto uint8, n int) []byte {
	p := make([]byte, IPv4HeaderLen+n)
	p[0] = 0x45
	p[ipv4TOS] = 0x10
	binary.BigEndian.PutUint16(p[ipv4TotalLen:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], 0x1234)
	binary.BigEndian.PutUint16(p[ipv4FlagsFrag:], 0x4000)
	p[ipv4TTL] = 64
	p[ipv4Protocol] = proto
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	setIPv4Checksum(p)
	for i := range n {
		p[IPv4HeaderLen+i] = byte(i*7 + 3)
	}
	return p
}

// ipv6Packet is ipv4Packet for IPv6: traffic class 0x10, flow label
// 0x12345, hop limit 64.
func ipv6Packet(src, dst netip.Addr, proto uint8, n int) []byte {
	p := make([]byte, IPv6HeaderLen+n)
	binary.BigEndian.PutUint32(p, 6<<28|0x10<<20|0x12345)
	binary.BigEndian.PutUint16(p[ipv6PayloadLen:], uint16(n))
	p[ipv6NextHeader] = proto
	p[ipv6HopLimit] = 64
	s, d := src.As16(), dst.As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	for i := range n {
		p[IPv6HeaderLen+i] = byte(i*5 + 1)
	}
	return p
}

// sealTunnel seals a copy of payload and returns the packet in a buffer
// of its own with ESNTailroom spare bytes after it.
func sealTunnel(t testing.TB, sa *SA, payload []byte, nh uint8, src, dst netip.Addr) []byte {
	t.Helper()
	buf := make([]byte, Headroom+len(payload)+ESNTailroom)
	copy(buf[Headroom:], payload)
	pkt, err := sa.SealTunnel(buf, Headroom, len(payload), nh, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), pkt...)
}

// sealTransport seals a copy of the IP packet ip in transport mode.
func sealTransport(t testing.TB, sa *SA, ip []byte) []byte {
	t.Helper()
	buf := make([]byte, Headroom+len(ip)+ESNTailroom)
	copy(buf[Headroom:], ip)
	pkt, err := sa.SealTransport(buf, Headroom, len(ip))
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), pkt...)
}

// open opens a copy of pkt (with ESNTailroom spare bytes after it) and
// checks that Open left the packet's bytes as they were.
func open(t testing.TB, sa *SA, pkt []byte) ([]byte, uint8, error) {
	t.Helper()
	buf := make([]byte, len(pkt)+ESNTailroom)
	copy(buf, pkt)
	copy(buf[len(pkt):], "tail")
	payload, nh, err := sa.Open(buf, 0, len(pkt))
	if !bytes.Equal(buf[:len(pkt)], pkt) || string(buf[len(pkt):]) != "tail" {
		t.Fatalf("Open (err %v) changed the packet:\n got %x\nwant %x", err, buf, pkt)
	}
	return payload, nh, err
}
