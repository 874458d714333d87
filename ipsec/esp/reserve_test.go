package esp

import (
	"encoding/binary"
	"testing"
)

// TestReserveThenSealOutOfOrder: numbers reserved in one order and sealed
// in another carry the reserved numbers, open, and never repeat; Seal
// carries on after them.
func TestReserveThenSealOutOfOrder(t *testing.T) {
	cfg := Config{SPI: 0x1000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 1), ESN: true, ReplayWindow: 64}
	tx, rx := mustSA(t, cfg), mustSA(t, cfg)
	const n = 8
	seqs := make([]uint64, n)
	for i := range seqs {
		s, err := tx.ReserveSeq()
		if err != nil {
			t.Fatal(err)
		}
		seqs[i] = s
	}
	for i := n - 1; i >= 0; i-- {
		buf := make([]byte, Headroom+100+MaxTrailer)
		copy(buf[Headroom:], payloadFor(NextHeaderIPv4, 100))
		pkt, err := tx.SealSeq(buf, Headroom, 100, NextHeaderIPv4, seqs[i])
		if err != nil {
			t.Fatal(err)
		}
		if got := uint64(binary.BigEndian.Uint32(pkt[4:8])); got != seqs[i]&0xffffffff {
			t.Errorf("packet %d carries sequence %d, want %d", i, got, seqs[i])
		}
		if _, _, err := rx.Open(buf, cap(buf)-cap(pkt), len(pkt)); err != nil {
			t.Errorf("packet %d (seq %d): %v", i, seqs[i], err)
		}
	}
	buf := make([]byte, Headroom+100+MaxTrailer)
	pkt, err := tx.Seal(buf, Headroom, 100, NextHeaderIPv4)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint32(pkt[4:8]); uint64(got) != seqs[n-1]+1 {
		t.Errorf("Seal after the reserved numbers used %d, want %d", got, seqs[n-1]+1)
	}
	if _, err := tx.SealSeq(make([]byte, 10), 0, 1, NextHeaderIPv4, 99); err != ErrNoHeadroom {
		t.Errorf("SealSeq without headroom: %v, want ErrNoHeadroom", err)
	}
}
