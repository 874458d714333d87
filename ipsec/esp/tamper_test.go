package esp

import (
	"errors"
	"fmt"
	"testing"
)

// TestTamperEveryBit flips each bit of a sealed packet in turn and opens it
// with the receiving SA: every flip must fail, with ErrUnknownSPI for the
// SPI (counted as Malformed: the packet names another SA), ErrAuthFailed
// for the rest, except that a flipped sequence number may land on one
// already seen or below the window (ErrReplayed, ErrTooOld). Every drop is
// counted once. The untouched packet opens afterwards, so
// the failures were the flips' doing and none of them moved the window.
// For AES-CBC this covers every bit of the 16-byte IV, the ciphertext and
// the 16- to 32-byte ICV.
func TestTamperEveryBit(t *testing.T) {
	for _, c := range allCiphers {
		for _, esn := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/esn=%v", c, esn), func(t *testing.T) {
				tx, rx := pair(t, c, esn)
				// Move both sides past a few packets so the
				// sequence number has bits on either side of it.
				for range 5 {
					if _, _, err := open(rx, seal(t, tx, nil, NoNextHeader)); err != nil {
						t.Fatal(err)
					}
				}
				pkt := seal(t, tx, payloadFor(NextHeaderIPv4, 41), NextHeaderIPv4)
				before := rx.Counters()
				var wantDrops uint64 // flips past the SPI: each counted once on rx
				for bit := range len(pkt) * 8 {
					bad := append([]byte(nil), pkt...)
					bad[bit/8] ^= 1 << (bit % 8)
					_, _, err := open(rx, bad)
					var ok bool
					switch field := bit / 8; {
					case field < 4:
						ok = errors.Is(err, ErrUnknownSPI)
					case field < 8:
						ok = errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrReplayed) || errors.Is(err, ErrTooOld)
					default: // IV, ciphertext, ICV
						ok = errors.Is(err, ErrAuthFailed)
					}
					if !ok {
						t.Fatalf("bit %d (byte %d) flipped: Open = %v", bit, bit/8, err)
					}
					if bit/8 >= 4 {
						wantDrops++
					}
				}
				after := rx.Counters()
				drops := after.AuthFailed + after.Replayed + after.TooOld - before.AuthFailed - before.Replayed - before.TooOld
				if drops != wantDrops || after.OpenedPackets != before.OpenedPackets {
					t.Errorf("%d flipped packets past the SPI: %d counted as drops, %d opened", wantDrops, drops, after.OpenedPackets-before.OpenedPackets)
				}
				if ivICV := uint64(8 * (c.IVLen() + c.ICVLen())); after.AuthFailed-before.AuthFailed < ivICV {
					t.Errorf("AuthFailed moved by %d, fewer than the %d IV and ICV bits", after.AuthFailed-before.AuthFailed, ivICV)
				}
				if got := after.Malformed - before.Malformed; got != 32 {
					t.Errorf("Malformed moved by %d for the 32 SPI bits", got)
				}
				if _, _, err := open(rx, pkt); err != nil {
					t.Fatalf("untampered packet after the flips: %v", err)
				}
			})
		}
	}
}
