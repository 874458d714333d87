package userspace

import (
	"bytes"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// cbcSA is an AES-CBC + HMAC SA's parameters, key material differing by
// seed.
func cbcSA(c esp.Cipher, spi uint32, seed byte) *fib.SAParams {
	k := make([]byte, c.KeyLen())
	for i := range k {
		k[i] = seed + byte(i)*11
	}
	return &fib.SAParams{SPI: spi, Cipher: c, Key: k}
}

// TestCBCSuites carries IPv4 and IPv6 packets from PE1 to PE2 over
// tunnels whose SAs use AES-CBC with HMAC-SHA2 (16-byte IV, padding to
// 16 bytes, 16- to 32-byte ICV), in ESP-in-UDP and raw ESP, at sizes up
// to the MTU: what leaves PE1 is the whole inner packet in the right VRF
// at PE2, and its buffers had room for the longest suite's overhead.
func TestCBCSuites(t *testing.T) {
	for _, c := range []esp.Cipher{esp.AES128CBCSHA256, esp.AES256CBCSHA384, esp.AES256CBCSHA512} {
		for _, udp := range []bool{true, false} {
			name := c.String() + "/raw"
			if udp {
				name = c.String() + "/udp"
			}
			t.Run(name, func(t *testing.T) {
				s1, s2 := pe1State(), pe2State()
				s1.Tunnels[pe2Addr].UDP, s2.Tunnels[pe1Addr].UDP = udp, udp
				s1.Tunnels[pe2Addr].Out, s2.Tunnels[pe1Addr].In = cbcSA(c, 0x1001, 1), cbcSA(c, 0x1001, 1)
				s2.Tunnels[pe1Addr].Out, s1.Tunnels[pe2Addr].In = cbcSA(c, 0x2001, 2), cbcSA(c, 0x2001, 2)
				pe1, pe2 := newTestDataplane(t, s1), newTestDataplane(t, s2)
				for _, inner := range [][]byte{
					ipv4("10.1.0.2", "10.2.0.2", 63, 28),
					ipv4("10.1.0.2", "10.2.0.2", 63, 1000),
					ipv4("10.1.0.2", "10.2.0.2", 63, DefaultMTU),
					ipv6("fd00:1::2", "fd00:2::2", 40, 48),
					ipv6("fd00:1::2", "fd00:2::2", 40, 777),
				} {
					buf := outBuf(inner)
					pkt, to, why := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
					if why != dropNone {
						t.Fatalf("%d bytes: outbound dropped: %d", len(inner), why)
					}
					if len(pkt) != len(inner)+4+c.Overhead(len(inner)+4) {
						t.Fatalf("%d bytes: ESP packet %d bytes, want label, inner and %d overhead", len(inner), len(pkt), c.Overhead(len(inner)+4))
					}
					off, n := toWire(t, buf, pkt, pe1Addr, to)
					v, io, il, why := pe2.inboundIP(buf, off, n)
					if why != dropNone || v == nil || v.name != "red" {
						t.Fatalf("%d bytes: inbound: drop %d", len(inner), why)
					}
					if !bytes.Equal(buf[io:io+il], inner) {
						t.Fatalf("%d bytes: inner packet changed:\n got %x\nwant %x", len(inner), buf[io:io+il], inner)
					}
				}
			})
		}
	}
}

// TestOutboundTooBigCBC: Options.MTU leaves room for an AEAD's ESP
// overhead (at most 37 bytes); a tunnel whose suite takes more (73 bytes
// for AES-CBC with HMAC-SHA-512: a 16-byte IV, up to 15 pad bytes, a
// 32-byte ICV) carries 36 bytes less, so that its outer packets fit the
// same core MTU, and reports that MTU in its ICMP errors.
func TestOutboundTooBigCBC(t *testing.T) {
	s := pe1State()
	s.Tunnels[pe2Addr].Out = cbcSA(esp.AES256CBCSHA512, 0x1001, 1)
	d := newTestDataplane(t, s)
	d.mtu = 1400
	v := d.vrfs["red"]
	const want = 1400 - (73 - 37)
	for _, tc := range []struct {
		n    int
		drop drop
	}{{want, dropNone}, {want + 1, dropTooBig}, {1400, dropTooBig}} {
		pkt := withDF(ipv4("10.1.0.2", "10.2.0.2", 63, tc.n))
		_, to, why := d.outbound(v, outBuf(pkt), outHeadroom, len(pkt))
		if why != tc.drop {
			t.Errorf("DF packet of %d bytes: drop %d, want %d", tc.n, why, tc.drop)
		}
		if why == dropTooBig {
			if got := d.pathMTU(to); got != want {
				t.Errorf("MTU reported for %d bytes: %d, want %d", tc.n, got, want)
			}
		}
	}
	// The AEAD tunnels keep the configured MTU.
	d = newTestDataplane(t, pe1State())
	d.mtu = 1400
	pkt := withDF(ipv4("10.1.0.2", "10.2.0.2", 63, 1400))
	if _, to, why := d.outbound(d.vrfs["red"], outBuf(pkt), outHeadroom, len(pkt)); why != dropNone || d.pathMTU(to) != 1400 {
		t.Errorf("AEAD tunnel, 1400 bytes: drop %d, MTU %d", why, d.pathMTU(to))
	}
}

// TestCBCAllocs: sealing at PE1 and opening at PE2 over an AES-CBC +
// HMAC-SHA-256 tunnel allocates nothing per packet.
func TestCBCAllocs(t *testing.T) {
	const c = esp.AES256CBCSHA256
	s1, s2 := pe1State(), pe2State()
	s1.Tunnels[pe2Addr].Out, s2.Tunnels[pe1Addr].In = cbcSA(c, 0x1001, 1), cbcSA(c, 0x1001, 1)
	pe1, pe2 := newTestDataplane(t, s1), newTestDataplane(t, s2)
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 1300)
	buf := outBuf(inner)
	assertNoAllocs(t, "seal and open", func() {
		copy(buf[outHeadroom:], inner)
		pkt, _, why := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
		if why != dropNone {
			t.Fatalf("outbound: drop %d", why)
		}
		if _, _, _, why := pe2.inbound(buf, cap(buf)-cap(pkt), len(pkt)); why != dropNone {
			t.Fatalf("inbound: drop %d", why)
		}
	})
}
