package wire

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// naiveSum is RFC 1071 section 4.1 transcribed: 16-bit words into a 32-bit
// accumulator, folded at the end. The fast sum must agree with it.
func naiveSum(b []byte) uint16 {
	var acc uint32
	for len(b) > 1 {
		acc += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}

// TestChecksumRFC1071 is the worked example of RFC 1071 section 3: the
// bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, so the checksum is 220d.
func TestChecksumRFC1071(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := fold(sum(0, b)); got != 0xddf2 {
		t.Errorf("sum = %#04x, want 0xddf2", got)
	}
	if got := Checksum(b); got != 0x220d {
		t.Errorf("Checksum = %#04x, want 0x220d", got)
	}
	// Odd length: the last byte is padded on the right (section 4.1).
	if got := fold(sum(0, []byte{0x01, 0x02, 0x03})); got != 0x0402 {
		t.Errorf("odd sum = %#04x, want 0x0402", got)
	}
}

// TestChecksumWikipediaHeader checks the IPv4 header used as the worked
// example in most texts (and on Wikipedia's "IPv4 header checksum"):
// 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
func TestChecksumWikipediaHeader(t *testing.T) {
	h := []byte{
		0x45, 0x00, 0x00, 0x73, // version 4, IHL 5, TOS 0, total length 115
		0x00, 0x00, 0x40, 0x00, // ID 0, DF, offset 0
		0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum zeroed
		0xc0, 0xa8, 0x00, 0x01, // 192.168.0.1
		0xc0, 0xa8, 0x00, 0xc7, // 192.168.0.199
	}
	if got := Checksum(h); got != 0xb861 {
		t.Fatalf("Checksum = %#04x, want 0xb861", got)
	}
}

func TestSumMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := fold(sum(0, b)), naiveSum(b); got != want {
			t.Fatalf("len %d: sum %#04x, naive %#04x", n, got, want)
		}
	}
	// All ones: the worst case for carries.
	b := make([]byte, 65536)
	for i := range b {
		b[i] = 0xff
	}
	if got, want := fold(sum(0, b)), naiveSum(b); got != want {
		t.Fatalf("0xff*65536: sum %#04x, naive %#04x", got, want)
	}
}

func FuzzChecksum(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := fold(sum(0, b)), naiveSum(b); got != want {
			t.Fatalf("sum %#04x, naive %#04x", got, want)
		}
	})
}
