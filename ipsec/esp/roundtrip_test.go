package esp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

var modes = []struct {
	name string
	nh   uint8
}{
	{"tunnel-ipv4", NextHeaderIPv4},
	{"tunnel-ipv6", NextHeaderIPv6},
	{"mpls", NextHeaderMPLS},
	{"transport-tcp", 6},
	{"transport-udp", 17},
}

var sizes = []int{0, 1, 2, 3, 4, 5, 20, 40, 63, 64, 65, 511, 512, 1000, 1399, 1400, 1438, 1500}

// TestRoundTrip seals and opens every cipher, mode, ESN setting and size,
// and checks the packet's shape on the way.
func TestRoundTrip(t *testing.T) {
	for _, c := range allCiphers {
		for _, m := range modes {
			for _, esn := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/esn=%v", c, m.name, esn), func(t *testing.T) {
					tx, rx := pair(t, c, esn)
					var bytesIn uint64
					for i, n := range sizes {
						payload := payloadFor(m.nh, n)
						pkt := seal(t, tx, payload, m.nh)
						seq := uint64(i + 1)
						checkShape(t, c, pkt, tx.SPI(), seq, n)
						got, nh, err := open(rx, pkt)
						if err != nil {
							t.Fatalf("size %d: Open: %v", n, err)
						}
						if nh != m.nh || !bytes.Equal(got, payload) {
							t.Fatalf("size %d: Open = nh %d %x, want nh %d %x", n, nh, got, m.nh, payload)
						}
						bytesIn += uint64(n)
					}
					want := Counters{SealedPackets: uint64(len(sizes)), SealedBytes: bytesIn}
					if got := tx.Counters(); got != want {
						t.Errorf("sender counters = %+v, want %+v", got, want)
					}
					want = Counters{OpenedPackets: uint64(len(sizes)), OpenedBytes: bytesIn}
					if got := rx.Counters(); got != want {
						t.Errorf("receiver counters = %+v, want %+v", got, want)
					}
				})
			}
		}
	}
}

// checkShape checks an ESP packet's header, IV and lengths.
func checkShape(t *testing.T, c Cipher, pkt []byte, spi uint32, seq uint64, n int) {
	t.Helper()
	if len(pkt) != n+c.Overhead(n) {
		t.Fatalf("size %d: packet is %d bytes, want %d", n, len(pkt), n+c.Overhead(n))
	}
	block := 4
	if !c.IsAEAD() {
		block = 16
	}
	if enc := len(pkt) - HeaderLen - c.IVLen() - c.ICVLen(); enc%block != 0 || enc < n+2 || enc > n+2+block-1 {
		t.Fatalf("size %d: encrypted part %d bytes: not %d-aligned minimal padding", n, enc, block)
	}
	if got := binary.BigEndian.Uint32(pkt[0:4]); got != spi {
		t.Fatalf("SPI = %#x, want %#x", got, spi)
	}
	if got := binary.BigEndian.Uint32(pkt[4:8]); got != uint32(seq) {
		t.Fatalf("sequence number = %d, want %d", got, uint32(seq))
	}
	switch iv := binary.BigEndian.Uint64(pkt[8:16]); {
	case c.IsAEAD() && iv != seq:
		t.Fatalf("IV = %#x, want the sequence number %#x", iv, seq)
	case !c.IsAEAD() && (iv == seq || binary.BigEndian.Uint64(pkt[16:24]) == 0):
		// RFC 3602 wants unpredictable IVs: never the bare counter.
		t.Fatalf("CBC IV = %x: the bare sequence number", pkt[8:24])
	}
}

// TestSealInPlace checks that Seal leaves the buffer outside the scratch,
// packet and trailer alone, returns a subslice of buf, and that Open returns
// a subslice of its buffer.
func TestSealInPlace(t *testing.T) {
	for _, c := range []Cipher{AES128GCM16, AES256CBCSHA384} {
		t.Run(c.String(), func(t *testing.T) {
			tx, rx := pair(t, c, true)
			const extraHead, n, extraTail = 40, 100, 30
			buf := make([]byte, extraHead+Headroom+n+MaxTrailer+extraTail)
			for i := range buf {
				buf[i] = 0xee
			}
			off := extraHead + Headroom
			copy(buf[off:], payloadFor(NextHeaderIPv4, n))
			pkt, err := tx.Seal(buf, off, n, NextHeaderIPv4)
			if err != nil {
				t.Fatal(err)
			}
			start := espOff(c, off)
			if &pkt[0] != &buf[start] {
				t.Fatal("Seal did not return the packet in place")
			}
			for i := range start - ScratchLen {
				if buf[i] != 0xee {
					t.Fatalf("Seal wrote byte %d, before its scratch", i)
				}
			}
			for i := start + len(pkt); i < len(buf); i++ {
				if buf[i] != 0xee {
					t.Fatalf("Seal wrote byte %d, after the packet", i)
				}
			}
			payload, _, err := rx.Open(buf, start, len(pkt))
			if err != nil {
				t.Fatal(err)
			}
			if &payload[0] != &buf[off] {
				t.Fatal("Open did not return the payload in place")
			}
			if cap(payload) != n {
				t.Fatalf("payload cap = %d, want %d (no view of the trailer)", cap(payload), n)
			}
		})
	}
}

// TestRoom checks the headroom and tailroom rules exactly at their edges,
// for every suite: Seal needs ScratchLen+HeaderLen+IVLen in front and
// TrailerLen(n) behind, no more.
func TestRoom(t *testing.T) {
	for _, c := range allCiphers {
		tx, _ := pair(t, c, false)
		head := ScratchLen + HeaderLen + c.IVLen()
		if head > Headroom {
			t.Fatalf("%s needs %d bytes of headroom, more than Headroom", c, head)
		}
		const sizes = 20
		for n := range sizes {
			if c.TrailerLen(n) > MaxTrailer || c.Overhead(n) > c.MaxOverhead() || c.MaxOverhead() > MaxOverhead {
				t.Fatalf("%s n=%d: trailer %d, overhead %d exceed the maxima", c, n, c.TrailerLen(n), c.Overhead(n))
			}
			need := head + n + c.TrailerLen(n)
			buf := make([]byte, need)
			if _, err := tx.Seal(buf[:need-1], head, n, 4); err != ErrNoTailroom {
				t.Errorf("%s n=%d one byte short of tailroom: %v, want ErrNoTailroom", c, n, err)
			}
			if _, err := tx.Seal(buf, head-1, n, 4); err != ErrNoHeadroom {
				t.Errorf("%s n=%d one byte short of headroom: %v, want ErrNoHeadroom", c, n, err)
			}
			if _, err := tx.Seal(buf, head, n, 4); err != nil {
				t.Errorf("%s n=%d exact room: %v", c, n, err)
			}
		}
		for _, bad := range []struct{ off, n int }{{-1, 0}, {Headroom, -1}, {1 << 40, 1}, {Headroom, 1 << 62}} {
			if _, err := tx.Seal(make([]byte, 64), bad.off, bad.n, 4); err == nil {
				t.Errorf("%s: Seal(off %d, n %d) succeeded", c, bad.off, bad.n)
			}
		}
		if got := tx.Counters().SealErrors; got != 2*sizes+4 {
			t.Errorf("%s: SealErrors = %d, want %d", c, got, 2*sizes+4)
		}
	}
}

// TestSizes pins each suite's figures: IV, ICV, padding and the maxima
// callers size buffers and path MTUs with.
func TestSizes(t *testing.T) {
	for _, tc := range []struct {
		c           Cipher
		iv, icv     int
		maxOverhead int
	}{
		{AES128GCM16, 8, 16, 37},
		{ChaCha20Poly1305, 8, 16, 37},
		{AES128CBCSHA256, 16, 16, 57},
		{AES256CBCSHA384, 16, 24, 65},
		{AES256CBCSHA512, 16, 32, 73},
	} {
		if tc.c.IVLen() != tc.iv || tc.c.ICVLen() != tc.icv || tc.c.MaxOverhead() != tc.maxOverhead {
			t.Errorf("%s: IV %d ICV %d max overhead %d, want %d %d %d", tc.c,
				tc.c.IVLen(), tc.c.ICVLen(), tc.c.MaxOverhead(), tc.iv, tc.icv, tc.maxOverhead)
		}
	}
	if MaxOverhead != AES256CBCSHA512.MaxOverhead() {
		t.Errorf("MaxOverhead = %d, want %d", MaxOverhead, AES256CBCSHA512.MaxOverhead())
	}
	// Padding: AEADs to 4 bytes, CBC to 16, counting the 2 trailer bytes.
	for n, want := range []int{2, 1, 0, 3, 2, 1, 0, 3} {
		if got := AES128GCM16.padLen(n); got != want {
			t.Errorf("AEAD padding for %d bytes = %d, want %d", n, got, want)
		}
	}
	for n, want := range map[int]int{0: 14, 13: 1, 14: 0, 15: 15, 30: 0, 64: 14, 1400: 6} {
		if got := AES128CBCSHA256.padLen(n); got != want {
			t.Errorf("CBC padding for %d bytes = %d, want %d", n, got, want)
		}
	}
}
