package userspace

import (
	"bytes"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// cbcSA is sa with AES-256-CBC + HMAC-SHA-256-128 key material.
func cbcSA(spi uint32, seed byte) *fib.SAParams {
	k := make([]byte, esp.AES256CBCSHA256.KeyLen())
	for i := range k {
		k[i] = seed + byte(i)*7
	}
	return &fib.SAParams{SPI: spi, Cipher: esp.AES256CBCSHA256, Key: k}
}

// TestCBCTunnel carries red and blue packets over a tunnel whose SAs are
// AES-CBC + HMAC-SHA2, as IKE negotiates with peers that propose
// "aes256-sha256": the label stack starts after the 16-byte CBC IV, not
// after an AEAD's 8-byte one, or IV bytes would be read as a label.
func TestCBCTunnel(t *testing.T) {
	s1, s2 := pe1State(), pe2State()
	s1.Tunnels[pe2Addr].Out, s1.Tunnels[pe2Addr].In = cbcSA(0x1001, 1), cbcSA(0x2001, 2)
	s2.Tunnels[pe1Addr].Out, s2.Tunnels[pe1Addr].In = cbcSA(0x2001, 2), cbcSA(0x1001, 1)
	pe1, pe2 := newTestDataplane(t, s1), newTestDataplane(t, s2)
	for _, name := range []string{"red", "blue", "red"} {
		inner := ipv4("10.1.0.2", "10.2.0.2", 63, 84)
		buf := outBuf(inner)
		pkt, to, why := pe1.outbound(pe1.vrfs[name], buf, outHeadroom, len(inner))
		if why != dropNone {
			t.Fatalf("%s: outbound dropped: %d", name, why)
		}
		off, n := toWire(t, buf, pkt, pe1Addr, to)
		v, io, il, why := pe2.inboundIP(buf, off, n)
		if why != dropNone || v == nil || v.name != name {
			t.Fatalf("%s: inbound drop %d, VRF %v", name, why, v)
		}
		if !bytes.Equal(buf[io:io+il], inner) {
			t.Fatalf("%s: inner packet changed:\n got %x\nwant %x", name, buf[io:io+il], inner)
		}
	}
}
