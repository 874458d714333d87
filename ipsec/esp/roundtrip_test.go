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
						checkShape(t, pkt, tx.SPI(), seq, n)
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
func checkShape(t *testing.T, pkt []byte, spi uint32, seq uint64, n int) {
	t.Helper()
	if len(pkt) != n+Overhead(n) {
		t.Fatalf("size %d: packet is %d bytes, want %d", n, len(pkt), n+Overhead(n))
	}
	if enc := len(pkt) - HeaderLen - IVLen - ICVLen; enc%4 != 0 || enc < n+2 || enc > n+5 {
		t.Fatalf("size %d: encrypted part %d bytes: not 4-aligned minimal padding", n, enc)
	}
	if got := binary.BigEndian.Uint32(pkt[0:4]); got != spi {
		t.Fatalf("SPI = %#x, want %#x", got, spi)
	}
	if got := binary.BigEndian.Uint32(pkt[4:8]); got != uint32(seq) {
		t.Fatalf("sequence number = %d, want %d", got, uint32(seq))
	}
	if got := binary.BigEndian.Uint64(pkt[8:16]); got != seq {
		t.Fatalf("IV = %#x, want the sequence number %#x", got, seq)
	}
}

// TestSealInPlace checks that Seal leaves the buffer outside the scratch,
// packet and trailer alone, returns a subslice of buf, and that Open returns
// a subslice of its buffer.
func TestSealInPlace(t *testing.T) {
	tx, rx := pair(t, AES128GCM16, true)
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
	if &pkt[0] != &buf[off-HeaderLen-IVLen] {
		t.Fatal("Seal did not return the packet in place")
	}
	for i := range extraHead {
		if buf[i] != 0xee {
			t.Fatalf("Seal wrote byte %d, before its headroom", i)
		}
	}
	for i := off + len(pkt) - HeaderLen - IVLen; i < len(buf); i++ {
		if buf[i] != 0xee {
			t.Fatalf("Seal wrote byte %d, after the packet", i)
		}
	}
	start := off - HeaderLen - IVLen
	payload, _, err := rx.Open(buf, start, len(pkt))
	if err != nil {
		t.Fatal(err)
	}
	if &payload[0] != &buf[start+HeaderLen+IVLen] {
		t.Fatal("Open did not return the payload in place")
	}
	if cap(payload) != n {
		t.Fatalf("payload cap = %d, want %d (no view of the trailer)", cap(payload), n)
	}
}

// TestRoom checks the headroom and tailroom rules exactly at their edges.
func TestRoom(t *testing.T) {
	tx, _ := pair(t, AES128GCM16, false)
	for n := range 8 {
		need := Headroom + n + TrailerLen(n)
		buf := make([]byte, need)
		if _, err := tx.Seal(buf[:need-1], Headroom, n, 4); err != ErrNoTailroom {
			t.Errorf("n=%d one byte short of tailroom: %v, want ErrNoTailroom", n, err)
		}
		if _, err := tx.Seal(buf, Headroom-1, n, 4); err != ErrNoHeadroom {
			t.Errorf("n=%d one byte short of headroom: %v, want ErrNoHeadroom", n, err)
		}
		if _, err := tx.Seal(buf, Headroom, n, 4); err != nil {
			t.Errorf("n=%d exact room: %v", n, err)
		}
	}
	for _, bad := range []struct{ off, n int }{{-1, 0}, {Headroom, -1}, {1 << 40, 1}, {Headroom, 1 << 62}} {
		if _, err := tx.Seal(make([]byte, 64), bad.off, bad.n, 4); err == nil {
			t.Errorf("Seal(off %d, n %d) succeeded", bad.off, bad.n)
		}
	}
	if got := tx.Counters().SealErrors; got != 2*8+4 {
		t.Errorf("SealErrors = %d, want %d", got, 2*8+4)
	}
}

func TestHelpers(t *testing.T) {
	for n, want := range []int{2, 1, 0, 3, 2, 1, 0, 3} {
		if got := TrailerLen(n) - 2 - ICVLen; got != want {
			t.Errorf("padding for %d bytes = %d, want %d", n, got, want)
		}
		if Overhead(n) != HeaderLen+IVLen+TrailerLen(n) || TrailerLen(n) > MaxTrailer {
			t.Errorf("Overhead(%d) = %d inconsistent", n, Overhead(n))
		}
	}
}
