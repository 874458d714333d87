package userspace

import "testing"

// TestInboundTTLOne: a packet whose TTL would run out leaving the TUN is
// dropped and counted, IPv4 and IPv6: the kernel's time exceeded for it
// would go by the main table, not back through the VRF.
func TestInboundTTLOne(t *testing.T) {
	pe1, pe2 := newTestDataplane(t, pe1State()), newTestDataplane(t, pe2State())
	for _, inner := range [][]byte{
		ipv4("10.1.0.2", "10.2.0.2", 1, 100),
		ipv6("fd00:1::2", "fd00:2::2", 1, 100),
	} {
		buf := outBuf(inner)
		pkt, _, why := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
		if why != dropNone {
			t.Fatalf("outbound dropped: %d", why)
		}
		espOff := cap(buf) - cap(pkt)
		if v, _, _, why := pe2.inbound(buf, espOff, len(pkt)); why != dropTTLExpired || v != nil {
			t.Errorf("IPv%d TTL 1: drop %d, want dropTTLExpired (%d)", inner[0]>>4, why, dropTTLExpired)
		}
	}
	if got := pe2.vrfs["red"].stats().InDrops.TTLExpired; got != 2 {
		t.Errorf("red in drops TTLExpired %d, want 2", got)
	}
}
