package esp

import "testing"

// fixedIV is the IV a test imposes instead of the one Seal derives from
// the sequence number, to reproduce published vectors or to seal the same
// CBC packets in every process (CBC IVs come from a random per-SA key).
// A nil field leaves that suite's IV as Seal makes it. Product code has
// no such hook, so Seal checks for none.
type fixedIV struct {
	aead *uint64
	cbc  *[CBCIVLen]byte
}

// sealFixedIV is seal (helpers_test.go) with iv: Seal's own steps, but
// for the IV.
func sealFixedIV(t testing.TB, sa *SA, payload []byte, nh uint8, iv fixedIV) []byte {
	t.Helper()
	buf := make([]byte, Headroom+len(payload)+MaxTrailer)
	copy(buf[Headroom:], payload)
	off := Headroom
	seq, end, err := sa.frame(buf, off, len(payload), nh)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	pkt := buf[off-HeaderLen-sa.ivLen : end+sa.icvLen]
	switch {
	case sa.cbc != nil && iv.cbc != nil:
		copy(pkt[HeaderLen:HeaderLen+CBCIVLen], iv.cbc[:])
		sa.sealCBC(pkt, seq)
	case sa.cbc != nil:
		sa.cbc.nextIV(pkt[HeaderLen:HeaderLen+CBCIVLen], seq)
		sa.sealCBC(pkt, seq)
	case iv.aead != nil:
		sa.sealAEAD(buf, off, end, seq, *iv.aead)
	default:
		sa.sealAEAD(buf, off, end, seq, seq)
	}
	return append([]byte(nil), pkt...)
}
