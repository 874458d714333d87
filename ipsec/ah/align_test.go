package ah

import (
	"bytes"
	"errors"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// TestIPv4FourByteAlignedAccepted: an RFC-minimal sender pads the AH
// header over IPv4 to 4 bytes only (28 bytes for HMAC-SHA-256-128, 36 for
// AES-GMAC) where Seal, like Linux, pads to 8; Open accepts both. Over
// IPv6 the short form is refused (IPv6 needs 8-byte alignment).
func TestIPv4FourByteAlignedAccepted(t *testing.T) {
	for _, i := range allIntegs {
		t.Run(i.String(), func(t *testing.T) {
			tx, rx := pair(t, i, false)
			payload := []byte{0, 1, 0x21, 0x40}
			short := i.minHeaderLen4()
			if short == i.HeaderLen() || short%8 == 0 {
				t.Fatalf("short form %d is not the 4-byte aligned one (HeaderLen %d)", short, i.HeaderLen())
			}
			for _, v6 := range []bool{false, true} {
				h, src, dst := IPv4HeaderLen, src4, dst4
				if v6 {
					h, src, dst = IPv6HeaderLen, src6, dst6
				}
				buf := make([]byte, h+short+len(payload))
				if v6 {
					_ = wire.PutIPv6(buf, wire.IPv6Fields{Src: src, Dst: dst, NextHeader: ProtoAH, PayloadLen: short + len(payload), HopLimit: 9})
				} else {
					_ = wire.PutIPv4(buf, wire.IPv4Fields{Src: src, Dst: dst, Protocol: ProtoAH, PayloadLen: short + len(payload), TTL: 9})
				}
				copy(buf[h+short:], payload)
				seq, _ := tx.nextSeq()
				tx.putAH(buf[h:h+short], NextHeaderMPLS, short, seq)
				w := tx.work.Get().(*work)
				tx.computeICV(w, buf, 0, len(buf), h, short, seq)
				at := h + FixedLen + i.IVLen()
				copy(buf[at:at+ICVLen], w.sum[:ICVLen])
				got, nh, err := open(t, rx, buf)
				if v6 {
					if !errors.Is(err, ErrTruncated) {
						t.Fatalf("IPv6 with a %d-byte AH header: %v, want ErrTruncated", short, err)
					}
					continue
				}
				if err != nil || nh != NextHeaderMPLS || !bytes.Equal(got, payload) {
					t.Fatalf("IPv4 with a %d-byte AH header: %x %d %v", short, got, nh, err)
				}
				buf[at] ^= 1
				if _, _, err := open(t, rx, buf); !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrReplayed) {
					t.Fatalf("flipped ICV: %v", err)
				}
			}
		})
	}
}
