package userspace

import (
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/ah"
)

// FuzzInboundAH feeds arbitrary IP datagrams to the AH receive path, as
// the raw protocol-51 socket delivers them (IP header first): every input
// is forwarded or dropped and counted, never a panic. The seeds include a
// real AH packet from PE1 (so the fuzzer mutates past the SPI lookup) and
// its truncations.
func FuzzInboundAH(f *testing.F) {
	s1, s2 := ahStates(ah.HMACSHA256128)
	pe1, pe2 := newTestDataplane(f, s1), newTestDataplane(f, s2)
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 60)
	buf := outBuf(inner)
	pkt, _, why := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
	if why != dropNone {
		f.Fatalf("outbound: drop %d", why)
	}
	f.Add(append([]byte(nil), pkt...))
	f.Add(append([]byte(nil), pkt[:40]...))
	f.Add([]byte{0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 51, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2, 137, 6, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1})
	f.Add([]byte{0x46})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := make([]byte, inHeadroom+len(data)+ah.ESNTailroom)
		copy(b[inHeadroom:], data)
		v, io, il, why := pe2.inboundAH(b, inHeadroom, len(data))
		checkInner(t, b, v, io, il, why)
	})
}

// FuzzInboundAH6 is FuzzInboundAH for the IPv6 socket, which delivers
// from the AH header on: inboundAH6 rebuilds the header in front, and
// every input is forwarded or dropped and counted. The seeds include a
// real AH packet from PE1 over IPv6 without its IPv6 header (so the
// fuzzer mutates past the SPI lookup and the ICV's input) and a GMAC one.
// The corpus is in testdata/fuzz/FuzzInboundAH6.
func FuzzInboundAH6(f *testing.F) {
	var pe2s []*dataplane
	for _, integ := range []ah.Integ{ah.HMACSHA256128, ah.AES128GMAC} {
		s1, s2 := ahStates6(integ)
		pe1 := newTestDataplane(f, s1)
		pe2s = append(pe2s, newTestDataplane(f, s2))
		inner := ipv4("10.1.0.2", "10.2.0.2", 63, 60)
		buf := outBuf(inner)
		pkt, _, why := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
		if why != dropNone {
			f.Fatalf("outbound: drop %d", why)
		}
		f.Add(append([]byte(nil), pkt[40:]...), uint8(len(pe2s)-1))
	}
	f.Add([]byte{137, 6, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		pe2 := pe2s[int(which)%len(pe2s)]
		b := make([]byte, ahInHeadroom+len(data)+ah.ESNTailroom)
		copy(b[ahInHeadroom:], data)
		v, io, il, why := pe2.inboundAH6(b, ahInHeadroom, len(data), pe1Addr6, pe2Addr6)
		checkInner(t, b, v, io, il, why)
	})
}
