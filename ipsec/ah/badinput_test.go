package ah

import (
	"encoding/binary"
	"errors"
	"testing"
)

// TestOpenBadInput: each malformed packet is refused with its error and
// counted once as Malformed, never a panic.
func TestOpenBadInput(t *testing.T) {
	tx, _ := pair(t, HMACSHA256128, false)
	good4 := sealTunnel(t, tx, []byte{1, 2, 3, 4}, NextHeaderMPLS, src4, dst4)
	good6 := sealTunnel(t, tx, []byte{1, 2, 3, 4}, NextHeaderMPLS, src6, dst6)
	edit := func(p []byte, f func([]byte)) []byte {
		q := append([]byte(nil), p...)
		f(q)
		return q
	}
	cases := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"version 5", edit(good4, func(p []byte) { p[0] = 0x55 }), ErrUnsupported},
		{"IPv4 short", good4[:19], ErrTruncated},
		{"IPv4 options", edit(good4, func(p []byte) { p[0] = 0x46 }), ErrUnsupported},
		{"IPv4 total beyond packet", edit(good4, func(p []byte) { binary.BigEndian.PutUint16(p[2:], uint16(len(p)+1)) }), ErrTruncated},
		{"IPv4 total below header", edit(good4, func(p []byte) { binary.BigEndian.PutUint16(p[2:], 19) }), ErrTruncated},
		{"IPv4 total cuts AH", edit(good4, func(p []byte) { binary.BigEndian.PutUint16(p[2:], 40) }), ErrTruncated},
		{"IPv4 MF", edit(good4, func(p []byte) { p[6] |= 0x20 }), ErrFragment},
		{"IPv4 offset", edit(good4, func(p []byte) { p[7] = 1 }), ErrFragment},
		{"IPv4 ESP", edit(good4, func(p []byte) { p[9] = 50 }), ErrNotAH},
		{"AH length 4", edit(good4, func(p []byte) { p[21] = 4 }), ErrTruncated},
		{"AH length 255", edit(good4, func(p []byte) { p[21] = 255 }), ErrTruncated},
		{"other SPI", edit(good4, func(p []byte) { p[27] ^= 1 }), ErrUnknownSPI},
		{"IPv6 short", good6[:39], ErrTruncated},
		{"IPv6 payload beyond packet", edit(good6, func(p []byte) { binary.BigEndian.PutUint16(p[4:], uint16(len(p))) }), ErrTruncated},
		{"IPv6 hop-by-hop", edit(good6, func(p []byte) { p[6] = 0 }), ErrUnsupported},
		{"IPv6 UDP", edit(good6, func(p []byte) { p[6] = 17 }), ErrNotAH},
		{"IPv6 AH length 5", edit(good6, func(p []byte) { p[41] = 5 }), ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, rx := pair(t, HMACSHA256128, false)
			buf := append([]byte(nil), c.pkt...)
			payload, _, err := rx.Open(buf, 0, len(buf))
			if !errors.Is(err, c.want) || payload != nil {
				t.Fatalf("Open = %x, %v; want %v", payload, err, c.want)
			}
			if m := rx.Counters().Malformed; m != 1 {
				t.Fatalf("Malformed = %d", m)
			}
		})
	}
	// Offsets and lengths outside the buffer.
	_, rx := pair(t, HMACSHA256128, false)
	for _, r := range [][2]int{{-1, 10}, {0, -1}, {0, len(good4) + 1}, {len(good4) + 1, 0}, {5, len(good4)}} {
		if _, _, err := rx.Open(good4, r[0], r[1]); !errors.Is(err, ErrTruncated) {
			t.Errorf("Open(off %d, n %d) = %v", r[0], r[1], err)
		}
	}
	// Link-layer padding after the IP length is ignored.
	padded := append(append([]byte(nil), good4...), 0, 0, 0, 0, 0, 0)
	if p, _, err := rx.Open(padded, 0, len(padded)); err != nil || len(p) != 4 {
		t.Errorf("padded packet: %x %v", p, err)
	}
}

// TestSealErrors: each caller mistake is refused and counted; none uses
// a sequence number.
func TestSealErrors(t *testing.T) {
	for _, i := range allIntegs {
		t.Run(i.String(), func(t *testing.T) {
			tx := mustSA(t, Config{SPI: 0x1001, Integ: i, Key: testKey(i, 1), ESN: true})
			ah4 := i.HeaderLen()
			buf := make([]byte, 200)
			check := func(name string, err, want error) {
				t.Helper()
				if !errors.Is(err, want) {
					t.Errorf("%s: %v, want %v", name, err, want)
				}
			}
			_, err := tx.SealTunnel(buf, IPv4HeaderLen+ah4-1, 10, 4, src4, dst4)
			check("headroom", err, ErrNoHeadroom)
			_, err = tx.SealTunnel(buf, 100, 101, 4, src4, dst4)
			check("tailroom", err, ErrNoTailroom)
			_, err = tx.SealTunnel(buf, 100, 10, 4, src4, dst6)
			check("families", err, ErrAddrFamily)
			big := make([]byte, Headroom+0x10000)
			_, err = tx.SealTunnel(big, Headroom, 0xffff-IPv4HeaderLen-ah4+1, 4, src4, dst4)
			check("too long", err, ErrTooLong)
			if i.IsGMAC() {
				_, err = tx.SealTunnel(buf, 100, 100, 4, src4, dst4)
				check("ESN tailroom", err, ErrNoTailroom)
			}
			ip := ipv4Packet(src4, dst4, 6, 10)
			copy(buf[100:], ip)
			buf[100] = 0x46
			_, err = tx.SealTransport(buf, 100, len(ip))
			check("transport options", err, ErrUnsupported)
			copy(buf[100:], ip)
			_, err = tx.SealTransport(buf, 100, len(ip)+1)
			check("transport length", err, ErrTruncated)
			copy(buf[ah4-1:], ip)
			_, err = tx.SealTransport(buf, ah4-1, len(ip))
			check("transport headroom", err, ErrNoHeadroom)
			if c := tx.Counters(); c.SealedPackets != 0 || tx.LastSeq() != 0 || c.SealErrors == 0 {
				t.Errorf("counters %+v, last %d", c, tx.LastSeq())
			}
		})
	}
}
