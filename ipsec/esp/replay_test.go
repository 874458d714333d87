package esp

import (
	"errors"
	"testing"
)

// TestAntiReplay runs the classic cases through a whole SA: packets are
// sealed in order, then delivered in the order of the table.
func TestAntiReplay(t *testing.T) {
	for _, esn := range []bool{false, true} {
		tx := mustSA(t, Config{SPI: 0x2000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 3), ESN: esn})
		rx := mustSA(t, Config{SPI: 0x2000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 3), ESN: esn, ReplayWindow: 64})
		const total = 300
		pkts := make([][]byte, total+1) // pkts[seq]
		for s := 1; s <= total; s++ {
			pkts[s] = seal(t, tx, payloadFor(NextHeaderIPv4, 50), NextHeaderIPv4)
		}
		steps := []struct {
			seq  int
			want error
		}{
			{1, nil},           // in order
			{2, nil},           // in order
			{2, ErrReplayed},   // duplicate
			{5, nil},           // gap
			{4, nil},           // out of order inside the window
			{3, nil},           // out of order inside the window
			{4, ErrReplayed},   // duplicate of a late packet
			{64, nil},          // window 1..64
			{1, ErrReplayed},   // bottom edge, seen
			{66, nil},          // window 3..66
			{2, ErrTooOld},     // below the window
			{6, nil},           // inside, never seen
			{200, nil},         // window jump: 137..200
			{136, ErrTooOld},   // one below the new window
			{137, nil},         // bottom edge, never seen
			{66, ErrTooOld},    // old top
			{200, ErrReplayed}, // top again
			{300, nil},         // jump beyond the old window entirely
			{250, nil},         // inside
			{236, ErrTooOld},   // below
		}
		var replayed, tooOld, authFailed uint64
		for i, s := range steps {
			want := s.want
			if esn && want == ErrTooOld {
				// RFC 4303 appendix A: with ESN a number below the
				// window reads as one in the next 2^32 subspace,
				// and the ICV, computed over the true high half,
				// does not verify.
				want = ErrAuthFailed
			}
			_, _, err := open(rx, pkts[s.seq])
			if !errors.Is(err, want) || (err == nil) != (want == nil) {
				t.Fatalf("esn=%v case %d: seq %d: %v, want %v", esn, i+1, s.seq, err, want)
			}
			switch want {
			case ErrReplayed:
				replayed++
			case ErrTooOld:
				tooOld++
			case ErrAuthFailed:
				authFailed++
			}
		}
		c := rx.Counters()
		if c.Replayed != replayed || c.TooOld != tooOld || c.AuthFailed != authFailed {
			t.Fatalf("esn=%v counters %+v, want Replayed %d TooOld %d AuthFailed %d", esn, c, replayed, tooOld, authFailed)
		}
	}
}

// TestForgeryDoesNotMoveWindow: a packet that fails authentication must not
// mark its sequence number, so the genuine packet still gets through.
func TestForgeryDoesNotMoveWindow(t *testing.T) {
	tx, rx := pair(t, ChaCha20Poly1305, false)
	pkt := seal(t, tx, payloadFor(NextHeaderIPv6, 80), NextHeaderIPv6)
	forged := append([]byte(nil), pkt...)
	forged[len(forged)-1] ^= 1
	if _, _, err := open(rx, forged); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("forged: %v", err)
	}
	if _, _, err := open(rx, pkt); err != nil {
		t.Fatalf("genuine after forged: %v", err)
	}
}

// TestSequenceExhaustion walks the sender to the end of its sequence space:
// the last number is used, then Seal refuses for good.
func TestSequenceExhaustion(t *testing.T) {
	for _, tc := range []struct {
		esn  bool
		last uint64
	}{{false, 1<<32 - 1}, {true, 1<<64 - 1}} {
		sa := mustSA(t, Config{SPI: 0x3000, Cipher: AES256GCM16, Key: testKey(AES256GCM16, 9), ESN: tc.esn, InitialSeq: tc.last - 2})
		for i := range 2 {
			pkt := seal(t, sa, []byte("abcd"), 17)
			checkShape(t, AES256GCM16, pkt, 0x3000, tc.last-1+uint64(i), 4)
		}
		for range 3 {
			buf := make([]byte, Headroom+4+MaxTrailer)
			if _, err := sa.Seal(buf, Headroom, 4, 17); !errors.Is(err, ErrSequenceExhausted) {
				t.Fatalf("esn=%v: Seal past %d: %v, want ErrSequenceExhausted", tc.esn, tc.last, err)
			}
		}
		if c := sa.Counters(); c.SeqExhausted != 3 || c.SealedPackets != 2 {
			t.Fatalf("esn=%v counters %+v", tc.esn, c)
		}
		if sa.LastSeq() != tc.last {
			t.Fatalf("LastSeq = %d, want %d", sa.LastSeq(), tc.last)
		}
	}
}

func TestNeedsRekey(t *testing.T) {
	for _, esn := range []bool{false, true} {
		limit := uint64(1<<32 - 1)
		if esn {
			limit = 1<<64 - 1
		}
		soft := limit - limit/8
		sa := mustSA(t, Config{SPI: 0x3000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 2), ESN: esn, InitialSeq: soft - 2})
		for i := range 3 {
			if got, want := sa.NeedsRekey(), i == 2; got != want {
				t.Fatalf("esn=%v after seq %d: NeedsRekey = %v, want %v", esn, sa.LastSeq(), got, want)
			}
			seal(t, sa, nil, NoNextHeader)
		}
	}
	sa := mustSA(t, Config{SPI: 0x3000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 2), RekeyAfter: 3})
	for i := range 4 {
		if got, want := sa.NeedsRekey(), i >= 3; got != want {
			t.Fatalf("RekeyAfter 3, after %d packets: NeedsRekey = %v", i, got)
		}
		seal(t, sa, nil, NoNextHeader)
	}
}

// TestNoAntiReplay: a manually keyed SA whose sender restarted (a new SA
// object, counting from 1 again) still gets through to a receiver with
// anti-replay off, and is dropped by one with it on.
func TestNoAntiReplay(t *testing.T) {
	cfg := Config{SPI: 0x2100, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 4)}
	off := cfg
	off.NoAntiReplay = true
	rxOn, rxOff := mustSA(t, cfg), mustSA(t, off)
	tx := mustSA(t, cfg)
	for range 2000 {
		p := seal(t, tx, payloadFor(NextHeaderIPv4, 40), NextHeaderIPv4)
		for _, rx := range []*SA{rxOn, rxOff} {
			if _, _, err := open(rx, p); err != nil {
				t.Fatalf("first run: %v", err)
			}
		}
	}
	restarted := mustSA(t, cfg) // sequence number 1 again
	p := seal(t, restarted, payloadFor(NextHeaderIPv4, 40), NextHeaderIPv4)
	if _, _, err := open(rxOn, p); !errors.Is(err, ErrTooOld) {
		t.Errorf("anti-replay on: restarted sender's packet: %v, want ErrTooOld", err)
	}
	if _, _, err := open(rxOff, p); err != nil {
		t.Errorf("anti-replay off: restarted sender's packet: %v", err)
	}
	// Each opened packet counted once, whether or not the window judged it.
	if c := rxOn.Counters(); c.OpenedPackets != 2000 || c.OpenedBytes != 2000*40 || c.TooOld != 1 {
		t.Errorf("anti-replay on: %d packets, %d bytes, %d too old; want 2000, %d, 1", c.OpenedPackets, c.OpenedBytes, c.TooOld, 2000*40)
	}
	if c := rxOff.Counters(); c.OpenedPackets != 2001 || c.OpenedBytes != 2001*40 {
		t.Errorf("anti-replay off: %d packets, %d bytes; want 2001, %d", c.OpenedPackets, c.OpenedBytes, 2001*40)
	}
	tampered := append([]byte(nil), p...)
	tampered[len(tampered)-1] ^= 1
	if _, _, err := open(rxOff, tampered); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("anti-replay off still authenticates: %v", err)
	}
	if _, err := NewSA(Config{SPI: 0x2100, Cipher: AES128GCM16, Key: cfg.Key, ESN: true, NoAntiReplay: true}); err == nil {
		t.Error("NoAntiReplay with ESN accepted")
	}
}
