package esp

import (
	"bytes"
	"errors"
	"testing"
)

// TestInferSeq checks RFC 4303 appendix A.2.2 on hand-worked cases, with a
// window of 1024.
func TestInferSeq(t *testing.T) {
	const w = 1024
	cases := []struct {
		name string
		top  uint64 // highest accepted; 0 = none
		lo   uint32
		want uint64
		ok   bool
	}{
		{"fresh SA, first packet", 0, 1, 1, true},
		{"fresh SA, top of subspace 0 would be negative", 0, 0xffffffff, 0, false},
		{"fresh SA, bottom edge of the wrapped window", 0, 1<<32 - w + 1, 0, false},
		{"fresh SA, just below the wrapped window", 0, 1<<32 - w, 1<<32 - w, true},
		{"case A: in window", 1<<32 + 5000, 4500, 1<<32 + 4500, true},
		{"case A: bottom edge", 1<<32 + 5000, 5000 - w + 1, 1<<32 + 5000 - w + 1, true},
		{"case A: below window -> next subspace", 1<<32 + 5000, 5000 - w, 2<<32 + 5000 - w, true},
		{"case A: ahead", 1<<32 + 5000, 9000, 1<<32 + 9000, true},
		{"case A: top at Tl = W-1", 7<<32 + w - 1, 0, 7 << 32, true},
		{"case B: late packet from before the rollover", 3<<32 + 10, 0xfffffff0, 2<<32 + 0xfffffff0, true},
		{"case B: bottom edge in the previous subspace", 3<<32 + 10, 1<<32 + 10 - w + 1, 2<<32 + 1<<32 + 10 - w + 1, true},
		{"case B: one below that edge is ahead", 3<<32 + 10, 1<<32 + 10 - w, 3<<32 + 1<<32 + 10 - w, true},
		{"case B: after the rollover", 3<<32 + 10, 20, 3<<32 + 20, true},
		{"case B: right after the top", 3<<32 + 10, 11, 3<<32 + 11, true},
		{"case B: far below the window means far ahead", 3<<32 + 10, 1<<32 - w - 5, 3<<32 + 1<<32 - w - 5, true},
		{"last subspace, wrap past 2^64", 0xffffffff<<32 | 0x80000000, 5, 0, false},
	}
	for _, c := range cases {
		sa := mustSA(t, Config{SPI: 0x1000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 0), ESN: true, ReplayWindow: w})
		if c.top != 0 {
			if err := sa.window.Update(c.top); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := sa.inferSeq(c.lo)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: inferSeq(%#x) with top %#x = %#x, %v; want %#x, %v", c.name, c.lo, c.top, got, ok, c.want, c.ok)
		}
	}
}

// TestESNRollover: the sender crosses 2^32; the receiver, which only sees
// the low 32 bits, follows it, including packets from before the rollover
// that arrive after it, and packets sealed after it that arrive first.
func TestESNRollover(t *testing.T) {
	for _, c := range allCiphers {
		t.Run(c.String(), func(t *testing.T) {
			const start = 1<<32 - 3000 // first sequence number is start+1
			cfg := Config{SPI: 0x4000, Cipher: c, Key: testKey(c, 5), ESN: true, InitialSeq: start}
			tx := mustSA(t, cfg)
			cfg.InitialSeq = 0
			rx := mustSA(t, cfg)

			const total = 6000
			pkts := make(map[uint64][]byte, total)
			for i := uint64(1); i <= total; i++ {
				pkts[start+i] = seal(t, tx, payloadFor(NextHeaderMPLS, int(i%200)), NextHeaderMPLS)
			}
			openSeq := func(seq uint64) error {
				got, nh, err := open(rx, pkts[seq])
				if err == nil && (nh != NextHeaderMPLS || !bytes.Equal(got, payloadFor(NextHeaderMPLS, int((seq-start)%200)))) {
					t.Fatalf("seq %#x: wrong payload", seq)
				}
				return err
			}
			// Hold back the last 50 packets before the rollover
			// (their low halves are 0xffffffce..0xffffffff) and
			// deliver the rest in order up to 2^32+100.
			held := func(s uint64) bool { return s > 1<<32-51 && s < 1<<32 }
			for s := uint64(start + 1); s <= 1<<32+100; s++ {
				if held(s) {
					continue
				}
				if err := openSeq(s); err != nil {
					t.Fatalf("in order: seq %#x: %v", s, err)
				}
			}
			if rx.window.Top() != 1<<32+100 {
				t.Fatalf("receiver top = %#x, want %#x", rx.window.Top(), uint64(1<<32+100))
			}
			// The held-back packets are still inside the window:
			// the receiver must give them high half 0, not 1.
			for s := uint64(1<<32 - 50); s < 1<<32; s++ {
				if err := openSeq(s); err != nil {
					t.Fatalf("late pre-rollover seq %#x: %v", s, err)
				}
			}
			// And they are now replays.
			if err := openSeq(1<<32 - 1); !errors.Is(err, ErrReplayed) {
				t.Fatalf("replayed pre-rollover packet: %v", err)
			}
			// A packet from far before the rollover reads as one
			// 2^32 ahead (appendix A) and fails authentication.
			if err := openSeq(start + 1); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("ancient packet: %v", err)
			}
			// Jump ahead out of order, then fill in behind.
			if err := openSeq(start + total); err != nil {
				t.Fatalf("jump: %v", err)
			}
			for s := uint64(start + total - 1); s > start+total-1000; s-- {
				if err := openSeq(s); err != nil {
					t.Fatalf("behind the jump: seq %#x: %v", s, err)
				}
			}
			if c := rx.Counters(); c.AuthFailed != 1 {
				t.Fatalf("authentication failures: %+v, want 1", c)
			}
		})
	}
}

// TestESNWrongHighBits: a packet whose high half the receiver cannot
// infer (too far from the window) fails authentication rather than being
// accepted with the wrong number.
func TestESNWrongHighBits(t *testing.T) {
	cfg := Config{SPI: 0x4000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 5), ESN: true, InitialSeq: 5<<32 + 9}
	tx := mustSA(t, cfg)
	cfg.InitialSeq = 0
	rx := mustSA(t, cfg)
	pkt := seal(t, tx, []byte("hello"), 17)
	// The receiver is still in subspace 0 and reads it as 0x0000000a.
	if _, _, err := open(rx, pkt); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("got %v, want ErrAuthFailed", err)
	}
	if rx.window.Top() != 0 {
		t.Fatal("failed packet moved the window")
	}
}
