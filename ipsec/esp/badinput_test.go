package esp

import (
	"errors"
	"testing"
)

// dropCase is one way for Open to reject a packet. pkt is copied into a
// fresh buffer at ScratchLen before every attempt (Open consumes it);
// off and n, when set, override the offset and length passed to Open.
type dropCase struct {
	name    string
	pkt     []byte
	off, n  int
	sa      *SA  // the receiver; nil for the default one
	reset   bool // empty the window first (the packet authenticates)
	want    error
	counter func(Counters) uint64
}

func malformed(c Counters) uint64    { return c.Malformed }
func authFailed(c Counters) uint64   { return c.AuthFailed }
func badPadding(c Counters) uint64   { return c.BadPadding }
func replayed(c Counters) uint64     { return c.Replayed }
func tooOld(c Counters) uint64       { return c.TooOld }
func sealErrors(c Counters) uint64   { return c.SealErrors }
func seqExhausted(c Counters) uint64 { return c.SeqExhausted }

// TestDrops checks every drop path: the typed error, the counter it bumps
// (once per packet), no panic, and no allocation, for an AEAD and for each
// HMAC of AES-CBC.
func TestDrops(t *testing.T) {
	for _, c := range []Cipher{AES128GCM16, AES128CBCSHA256, AES256CBCSHA384, AES256CBCSHA512} {
		t.Run(c.String(), func(t *testing.T) { testDrops(t, c) })
	}
}

func testDrops(t *testing.T, c Cipher) {
	key := testKey(c, 7)
	tx := mustSA(t, Config{SPI: 0x1000, Cipher: c, Key: key})
	rx := mustSA(t, Config{SPI: 0x1000, Cipher: c, Key: key})
	spi := rx.SPI()

	good := seal(t, tx, payloadFor(NextHeaderIPv4, 60), NextHeaderIPv4) // seq 1
	badICV := append([]byte(nil), good...)
	badICV[len(badICV)-1] ^= 0x80
	// Authentic packets (sealed from the RFC formulas) whose trailer is
	// wrong, with sequence numbers the window has not seen.
	// The encrypted part must fill whole blocks: 4 bytes for an AEAD,
	// 16 for AES-CBC, so the CBC plaintexts carry 8 bytes more.
	extra := 0
	if !c.IsAEAD() {
		extra = 8
	}
	trailer := func(seq uint64, enc string) []byte {
		return sealRFC(t, c, key, spi, seq, false, append(payloadFor(NextHeaderIPv4, 20+extra), unhex(t, enc)...))
	}
	padWrongByte := trailer(10, "0103 02 04") // pad 1, 3
	padZeros := trailer(11, "0000 02 04")     // pad 0, 0
	padTooLong := trailer(12, "0102 c8 04")   // pad length 200 > 22
	// Pad length 255 with only the bytes before it there.
	padAll := sealRFC(t, c, key, spi, 13, false, append(countUp(c.blockLen()-2), 0xff, 0x04))
	seqZero := sealRFC(t, c, key, spi, 0, false, append(unhex(t, "45000000"), append(countUp(2+extra), byte(2+extra), 4)...))
	wrongSPI := sealRFC(t, c, key, spi+1, 20, false, append(unhex(t, "45000000"), append(countUp(2+extra), byte(2+extra), 4)...))
	misaligned := append(append([]byte(nil), good...), 0)

	// A second receiver whose window has moved: it has seen seq 2001,
	// so that is a replay and seq 2 is too old.
	seen := mustSA(t, Config{SPI: spi, Cipher: c, Key: key})
	old := seal(t, tx, payloadFor(NextHeaderIPv4, 10), NextHeaderIPv4) // seq 2
	for range 1998 {
		seal(t, tx, nil, NoNextHeader)
	}
	replay := seal(t, tx, nil, NoNextHeader) // seq 2001
	if _, _, err := open(seen, replay); err != nil {
		t.Fatal(err)
	}

	cases := []dropCase{
		{name: "empty", pkt: []byte{}, want: ErrTruncated, counter: malformed},
		{name: "SPI only", pkt: good[:4], want: ErrTruncated, counter: malformed},
		{name: "shorter than the IV", pkt: good[:12], want: ErrTruncated, counter: malformed},
		{name: "header and IV only", pkt: good[:16], want: ErrTruncated, counter: malformed},
		{name: "no room for the ICV", pkt: good[:HeaderLen+IVLen+ICVLen], want: ErrTruncated, counter: malformed},
		{name: "one short of MinLen", pkt: good[:MinLen-1], want: ErrTruncated, counter: malformed},
		{name: "one short of the suite's minimum", pkt: good[:c.minLen()-1], want: ErrTruncated, counter: malformed},
		{name: "misaligned", pkt: misaligned, want: ErrTruncated, counter: malformed},
		{name: "length beyond buffer", pkt: good, n: len(good) + 1, want: ErrTruncated, counter: malformed},
		{name: "offset beyond buffer", pkt: good, off: 1 << 30, n: len(good), want: ErrTruncated, counter: malformed},
		{name: "negative length", pkt: good, n: -5, want: ErrTruncated, counter: malformed},
		{name: "no headroom", pkt: good, off: ScratchLen - 1, want: ErrNoHeadroom, counter: malformed},
		{name: "negative offset", pkt: good, off: -1, want: ErrNoHeadroom, counter: malformed},
		{name: "another SA's SPI", pkt: wrongSPI, want: ErrUnknownSPI, counter: malformed},
		{name: "bad ICV", pkt: badICV, want: ErrAuthFailed, counter: authFailed},
		{name: "pad bytes 1, 3", pkt: padWrongByte, reset: true, want: ErrBadPadding, counter: badPadding},
		{name: "pad bytes 0, 0", pkt: padZeros, reset: true, want: ErrBadPadding, counter: badPadding},
		{name: "pad length 200", pkt: padTooLong, reset: true, want: ErrBadPadding, counter: badPadding},
		{name: "pad length 255 of 2", pkt: padAll, reset: true, want: ErrBadPadding, counter: badPadding},
		{name: "replayed", pkt: replay, sa: seen, want: ErrReplayed, counter: replayed},
		{name: "too old", pkt: old, sa: seen, want: ErrTooOld, counter: tooOld},
		{name: "sequence number 0", pkt: seqZero, want: ErrTooOld, counter: tooOld},
	}
	if !c.IsAEAD() {
		// 4-byte aligned, which an AEAD would take, but not whole
		// AES blocks.
		cases = append(cases, dropCase{name: "4 bytes short of a block", pkt: good[:len(good)-4], want: ErrTruncated, counter: malformed})
	}
	const runs = 50
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sa := tc.sa
			if sa == nil {
				sa = rx
			}
			// The packet sits at off when off is a usable index
			// short of ScratchLen, else at ScratchLen.
			pos, n := ScratchLen, len(tc.pkt)
			if tc.off > 0 && tc.off < ScratchLen {
				pos = tc.off
			}
			off := pos
			if tc.off != 0 {
				off = tc.off
			}
			if tc.n != 0 {
				n = tc.n
			}
			buf := make([]byte, pos+len(tc.pkt))
			attempt := func() error {
				copy(buf[pos:], tc.pkt)
				if tc.reset {
					_ = sa.window.Init(0) // test only: forget seen numbers
				}
				_, _, err := sa.Open(buf, off, n)
				return err
			}
			before := tc.counter(sa.Counters())
			if err := attempt(); !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			if allocs := testing.AllocsPerRun(runs, func() { _ = attempt() }); allocs != 0 && !(raceEnabled && !c.IsAEAD()) {
				t.Errorf("%v allocations per drop, want 0", allocs)
			}
			if got := tc.counter(sa.Counters()) - before; got != runs+2 {
				t.Errorf("counter moved by %d for %d drops", got, runs+2)
			}
		})
	}
}

// TestZeroAllocs checks the success paths and Seal's drop paths.
func TestZeroAllocs(t *testing.T) {
	for _, c := range allCiphers {
		for _, esn := range []bool{false, true} {
			tx, rx := pair(t, c, esn)
			const n = 1400
			buf := make([]byte, Headroom+n+MaxTrailer)
			allocs := testing.AllocsPerRun(100, func() {
				pkt, err := tx.Seal(buf, Headroom, n, NextHeaderIPv4)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := rx.Open(buf, espOff(c, Headroom), len(pkt)); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 && !(raceEnabled && !c.IsAEAD()) {
				t.Errorf("%s esn=%v: %v allocations per seal and open, want 0", c, esn, allocs)
			}
		}
	}

	sa := mustSA(t, Config{SPI: 0x5000, Cipher: ChaCha20Poly1305, Key: testKey(ChaCha20Poly1305, 1), InitialSeq: 1<<32 - 1})
	buf := make([]byte, Headroom+64+MaxTrailer)
	for _, tc := range []struct {
		name    string
		off, n  int
		want    error
		counter func(Counters) uint64
	}{
		{"no headroom", ScratchLen + HeaderLen + IVLen - 1, 64, ErrNoHeadroom, sealErrors},
		{"no tailroom", Headroom, 64 + MaxTrailer, ErrNoTailroom, sealErrors},
		{"exhausted", Headroom, 64, ErrSequenceExhausted, seqExhausted},
	} {
		before := tc.counter(sa.Counters())
		var err error
		allocs := testing.AllocsPerRun(100, func() { _, err = sa.Seal(buf, tc.off, tc.n, 4) })
		if !errors.Is(err, tc.want) || allocs != 0 {
			t.Errorf("Seal %s: %v with %v allocations, want %v with 0", tc.name, err, allocs, tc.want)
		}
		if got := tc.counter(sa.Counters()) - before; got != 101 {
			t.Errorf("Seal %s: counter moved by %d, want 101", tc.name, got)
		}
	}
}
