package ah

import (
	"errors"
	"fmt"
	"testing"
)

// mutableBit reports whether bit b of a packet with an h-byte IP header
// lies in a mutable IP header field (RFC 4302 section 3.3.3.1), which
// the ICV does not cover.
func mutableBit(h, b int) bool {
	byteAt, bit := b/8, b%8 // bit 0 is the least significant
	if byteAt >= h {
		return false
	}
	if h == IPv4HeaderLen {
		switch byteAt {
		case ipv4TOS, ipv4FlagsFrag, ipv4FlagsFrag + 1, ipv4TTL, ipv4Checksum, ipv4Checksum + 1:
			return true
		}
		return false
	}
	switch byteAt {
	case 0:
		return bit < 4 // low nibble: traffic class
	case 1, 2, 3, ipv6HopLimit:
		return true
	}
	return false
}

// TestTamperEveryBit flips each bit of sealed tunnel and transport packets
// over IPv4 and IPv6 and opens them. A flip in a mutable IP header field
// must be accepted (routers change those), except the IPv4 flags and
// fragment offset, which make the packet a fragment (ErrFragment) when
// MF or the offset is set. Every other flip must be refused: the IP
// version, lengths, protocol and addresses, every AH field, the IV, every
// ICV bit and every payload bit. The untouched packet opens afterwards, so
// no refusal moved the window.
func TestTamperEveryBit(t *testing.T) {
	for _, i := range allIntegs {
		for _, esn := range []bool{false, true} {
			for _, v6 := range []bool{false, true} {
				for _, transport := range []bool{false, true} {
					name := fmt.Sprintf("%s/esn=%v/v6=%v/transport=%v", i, esn, v6, transport)
					t.Run(name, func(t *testing.T) { tamperEveryBit(t, i, esn, v6, transport) })
				}
			}
		}
	}
}

func tamperEveryBit(t *testing.T, i Integ, esn, v6, transport bool) {
	tx, _ := pair(t, i, esn)
	h := IPv4HeaderLen
	if v6 {
		h = IPv6HeaderLen
	}
	var pkt []byte
	switch {
	case transport && v6:
		pkt = sealTransport(t, tx, ipv6Packet(src6, dst6, 6, 37))
	case transport:
		pkt = sealTransport(t, tx, ipv4Packet(src4, dst4, 6, 37))
	case v6:
		pkt = sealTunnel(t, tx, ipv6Packet(src6, dst6, 17, 37), NextHeaderIPv6, src6, dst6)
	default:
		pkt = sealTunnel(t, tx, ipv4Packet(src4, dst4, 17, 37), NextHeaderIPv4, src4, dst4)
	}
	icvAt := h + FixedLen + i.IVLen()
	var authFailed, icvRefused int
	for b := range len(pkt) * 8 {
		_, rx := pair(t, i, esn) // a fresh window for every flip
		bad := append([]byte(nil), pkt...)
		bad[b/8] ^= 1 << (b % 8)
		_, _, err := open(t, rx, bad)
		if mutableBit(h, b) {
			if err != nil && !(h == IPv4HeaderLen && errors.Is(err, ErrFragment)) {
				t.Fatalf("bit %d (byte %d, mutable) flipped: Open = %v", b, b/8, err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("bit %d (byte %d) flipped: Open accepted it", b, b/8)
		}
		if errors.Is(err, ErrAuthFailed) {
			authFailed++
		}
		if b/8 >= icvAt && b/8 < icvAt+ICVLen {
			if !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("ICV bit %d flipped: Open = %v, want ErrAuthFailed", b, err)
			}
			icvRefused++
		}
	}
	if icvRefused != ICVLen*8 {
		t.Errorf("%d ICV bits refused, want %d", icvRefused, ICVLen*8)
	}
	if min := (len(pkt) - h - FixedLen) * 8; authFailed < min {
		t.Errorf("only %d flips failed authentication, want at least %d", authFailed, min)
	}
	_, rx := pair(t, i, esn)
	if _, _, err := open(t, rx, pkt); err != nil {
		t.Fatalf("untampered packet: %v", err)
	}
}

// TestMutableFieldsChanged changes every mutable field at once, as a path
// of routers would (TTL decremented, DSCP rewritten, checksum updated,
// flow label set), and the packet must still open; changing an immutable
// field (the IPv4 ID, the IPv6 payload's last byte) must not.
func TestMutableFieldsChanged(t *testing.T) {
	for _, i := range allIntegs {
		t.Run(i.String(), func(t *testing.T) {
			tx, rx := pair(t, i, false)
			p4 := sealTunnel(t, tx, []byte{1, 2, 3, 4}, NextHeaderMPLS, src4, dst4)
			p4[ipv4TOS] = 0xb8
			p4[ipv4TTL] = 3
			p4[ipv4FlagsFrag] = 0 // DF cleared
			setIPv4Checksum(p4[:IPv4HeaderLen])
			if _, nh, err := open(t, rx, p4); err != nil || nh != NextHeaderMPLS {
				t.Fatalf("IPv4 with mutable fields changed: %d %v", nh, err)
			}
			p6 := sealTunnel(t, tx, []byte{1, 2, 3, 4}, NextHeaderMPLS, src6, dst6)
			p6[0], p6[1], p6[2], p6[3] = 0x6b, 0x8f, 0xff, 0xff
			p6[ipv6HopLimit] = 1
			if _, _, err := open(t, rx, p6); err != nil {
				t.Fatalf("IPv6 with mutable fields changed: %v", err)
			}
			p4 = sealTunnel(t, tx, []byte{1, 2, 3, 4}, NextHeaderMPLS, src4, dst4)
			p4[5] ^= 1 // ID
			if _, _, err := open(t, rx, p4); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("IPv4 ID changed: %v", err)
			}
		})
	}
}
