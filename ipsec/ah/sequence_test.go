package ah

import (
	"encoding/binary"
	"errors"
	"testing"
)

// sealSeq seals a 64-byte label stack with sa and returns the sequence
// number the packet carries, or the error.
func sealSeq(sa *SA) (uint32, error) {
	buf := make([]byte, Headroom+64+ESNTailroom)
	pkt, err := sa.SealTunnel(buf, Headroom, 64, NextHeaderMPLS, src4, dst4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(pkt[IPv4HeaderLen+8:]), nil
}

// TestManualGMACNeedsReservation: a manually keyed GMAC SA seals nothing
// until Reserve placed its sequence (its IV) above what the key used; a
// reserved one continues above last and stops at the ceiling.
func TestManualGMACNeedsReservation(t *testing.T) {
	for _, i := range []Integ{AES128GMAC, AES256GMAC} {
		sa := mustSA(t, Config{SPI: 0x1001, Integ: i, Key: testKey(i, 0x30), ManualKey: true})
		if _, err := sealSeq(sa); !errors.Is(err, ErrNotReserved) {
			t.Fatalf("%s: seal before Reserve: %v, want ErrNotReserved", i, err)
		}
		if c := sa.Counters(); c.SealErrors != 1 || c.SealedPackets != 0 {
			t.Errorf("%s: counters %+v, want one seal error", i, c)
		}
		refills := 0
		if err := sa.Reserve(1000, 1002, 1002, func() { refills++ }); err != nil {
			t.Fatal(err)
		}
		for want := uint32(1001); want <= 1002; want++ {
			got, err := sealSeq(sa)
			if err != nil || got != want {
				t.Fatalf("%s: seal = %d, %v; want %d", i, got, err, want)
			}
		}
		if _, err := sealSeq(sa); !errors.Is(err, ErrSequenceExhausted) {
			t.Fatalf("%s: seal past the ceiling: %v", i, err)
		}
		if refills == 0 {
			t.Errorf("%s: refill never called", i)
		}
		sa.Extend(2000, 1500)
		if got, err := sealSeq(sa); err != nil || got != 1003 {
			t.Fatalf("%s: after Extend: %d, %v", i, got, err)
		}
		if ceil, stalled, ok := sa.Reservation(); !ok || ceil != 2000 || stalled != 1 {
			t.Errorf("%s: Reservation = %d, %d, %v", i, ceil, stalled, ok)
		}
	}
	// HMAC has no nonce: a manual HMAC SA seals without a reservation.
	sa := mustSA(t, Config{SPI: 0x1001, Integ: HMACSHA256128, Key: testKey(HMACSHA256128, 1), ManualKey: true})
	if _, err := sealSeq(sa); err != nil {
		t.Fatal(err)
	}
	if err := sa.Reserve(0, 5, 3, func() {}); err == nil {
		t.Error("Reserve below the SA's sequence accepted")
	}
}

// TestIntegText: the zero Integ (an ESP SA's) marshals to empty text, so
// a struct holding one still encodes; a named one round-trips.
func TestIntegText(t *testing.T) {
	if b, err := Integ(0).MarshalText(); err != nil || len(b) != 0 {
		t.Errorf("zero: %q, %v", b, err)
	}
	if _, err := Integ(9).MarshalText(); err == nil {
		t.Error("an invalid transform marshalled")
	}
	var i Integ
	if err := i.UnmarshalText([]byte("aes256gmac")); err != nil || i != AES256GMAC {
		t.Errorf("unmarshal: %v, %v", i, err)
	}
}
