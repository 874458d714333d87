package userspace

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ah"
)

// AH over an IPv6 core: the outer header is IPv6, whose traffic class,
// flow label and hop limit RFC 4302 section 3.3.3.1.2 zeroes for the ICV.
// A raw IPv6 socket delivers the packet from the AH header on, so the
// receiver rebuilds the IPv6 header (inboundAH6).

var (
	pe1Addr6 = addr("fd00:c::1")
	pe2Addr6 = addr("fd00:c::2")
)

// onV6Core moves a unit-test State onto the IPv6 core: local address,
// every route's remote PE and the tunnel's remote.
func onV6Core(s *fib.State, local, peer netip.Addr) *fib.State {
	s.LocalAddress = local
	for _, v := range s.VRFs {
		for p, r := range v.Routes {
			if r.Remote.IsValid() {
				r.Remote = peer
				v.Routes[p] = r
			}
		}
	}
	tunnels := map[netip.Addr]*fib.Tunnel{}
	for _, t := range s.Tunnels {
		t.Remote = peer
		tunnels[peer] = t
	}
	s.Tunnels = tunnels
	return s
}

func ahStates6(integ ah.Integ) (pe1, pe2 *fib.State) {
	s1, s2 := ahStates(integ)
	return onV6Core(s1, pe1Addr6, pe2Addr6), onV6Core(s2, pe2Addr6, pe1Addr6)
}

// icvOf computes, independently of package ah, the ICV of an IPv6 AH
// packet: the packet with traffic class, flow label, hop limit and the
// ICV zeroed (RFC 4302 sections 3.3.3.1.2 and 3.3.3.2), then HMAC-SHA-256
// truncated to 16 bytes (RFC 4868) or AES-GCM with nonce salt || IV, the
// input as AAD and no plaintext (RFC 4543).
func icvOf(t *testing.T, integ ah.Integ, key, pkt []byte) []byte {
	t.Helper()
	in := append([]byte(nil), pkt...)
	in[0] &= 0xf0
	in[1], in[2], in[3], in[7] = 0, 0, 0, 0
	at := 40 + 12 + integ.IVLen()
	clear(in[at : at+16])
	if !integ.IsGMAC() {
		m := hmac.New(sha256.New, key)
		m.Write(in)
		return m.Sum(nil)[:16]
	}
	block, err := aes.NewCipher(key[:len(key)-4])
	if err != nil {
		t.Fatal(err)
	}
	g, _ := cipher.NewGCM(block)
	nonce := append(append([]byte(nil), key[len(key)-4:]...), pkt[40+12:40+20]...)
	return g.Seal(nil, nonce, nil, in)
}

// TestAHTunnelIPv6: PE1 seals red's packet in AH over IPv6 PE1 -> PE2,
// the ICV the one computed from the RFC here; the packet, its traffic
// class, flow label and hop limit changed on the way, opens at PE2 from
// what a raw IPv6 socket delivers (no IPv6 header); another source
// address, a flipped payload bit or an extension header the kernel
// removed fail the ICV.
func TestAHTunnelIPv6(t *testing.T) {
	for _, integ := range []ah.Integ{ah.HMACSHA256128, ah.AES128GMAC, ah.AES256GMAC} {
		t.Run(integ.String(), func(t *testing.T) {
			s1, s2 := ahStates6(integ)
			pe1, pe2 := newTestDataplane(t, s1), newTestDataplane(t, s2)
			inner := ipv4("10.1.0.2", "10.2.0.2", 63, 200)
			buf := outBuf(inner)
			pkt, to, why := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
			if why != dropNone {
				t.Fatalf("outbound: drop %d", why)
			}
			if to.ah == nil || to.dst.UDP() || to.dst.AddrPort() != netip.AddrPortFrom(pe2Addr6, 0) {
				t.Fatalf("tunnel: ah %v, udp %v, to %v", to.ah, to.dst.UDP(), to.dst.AddrPort())
			}
			hl := 40 + integ.HeaderLen()
			if pkt[0]>>4 != 6 || pkt[6] != ah.ProtoAH || int(binary.BigEndian.Uint16(pkt[4:])) != len(pkt)-40 ||
				!bytes.Equal(pkt[8:24], pe1Addr6.AsSlice()) || !bytes.Equal(pkt[24:40], pe2Addr6.AsSlice()) ||
				pkt[40] != ah.NextHeaderMPLS || binary.BigEndian.Uint32(pkt[44:]) != 0x1001 {
				t.Fatalf("outer headers % x", pkt[:48])
			}
			if label := binary.BigEndian.Uint32(pkt[hl:]) >> 12; label != 2001 || !bytes.Equal(pkt[hl+4 : hl+4+len(inner)][20:], inner[20:]) {
				t.Fatalf("label %d or inner packet not in the clear after AH", label)
			}
			key := s1.Tunnels[pe2Addr6].Out.Key
			at := 40 + 12 + integ.IVLen()
			if want := icvOf(t, integ, key, pkt); !bytes.Equal(pkt[at:at+16], want) {
				t.Fatalf("ICV %x, computed from the RFC %x", pkt[at:at+16], want)
			}
			// On the wire: a router lowered the hop limit, the sender's
			// kernel may set a traffic class and a flow label. None is
			// under the ICV; a raw IPv6 socket drops the header anyway.
			onWire := append([]byte(nil), pkt...)
			onWire[0], onWire[1], onWire[2], onWire[3], onWire[7] = 0x6b, 0x8c, 0xde, 0xf0, 17
			deliver := func(p []byte, src netip.Addr) (*vrf, int, int, drop) {
				rbuf := make([]byte, ahInHeadroom+len(p)-40+8)
				n := copy(rbuf[ahInHeadroom:], p[40:])
				return pe2.inboundAH6(rbuf, ahInHeadroom, n, src, pe2Addr6)
			}
			before := authFailed(pe2.stats().SAs, 0x1001)
			if v, _, _, why := deliver(onWire, addr("fd00:c::99")); v != nil || why != dropOpen {
				t.Errorf("from another source: vrf %v, drop %d", v, why)
			}
			flipped := append([]byte(nil), onWire...)
			flipped[len(flipped)-1] ^= 0x40
			if v, _, _, why := deliver(flipped, pe1Addr6); v != nil || why != dropOpen {
				t.Errorf("flipped payload bit: vrf %v, drop %d", v, why)
			}
			if got := authFailed(pe2.stats().SAs, 0x1001); got != before+2 {
				t.Errorf("auth-failed %d, want %d", got, before+2)
			}
			v, io, il, why := deliver(onWire, pe1Addr6)
			if why != dropNone || v == nil || v.name != "red" || il != len(inner) {
				t.Fatalf("inbound: vrf %v, drop %d, len %d", v, why, il)
			}
			_ = io
		})
	}
}

// TestAHIPv6KnownAnswer builds an AH packet over IPv6 entirely here (fixed
// key, addresses and payload; the ICV from crypto/hmac over the header
// with traffic class, flow label and hop limit zeroed), with those fields
// set on the wire, and hands PE2 what a raw IPv6 socket delivers: it
// opens into red. An extension header the sender covered but the kernel
// took off fails (the rebuilt header has none).
func TestAHIPv6KnownAnswer(t *testing.T) {
	_, s2 := ahStates6(ah.HMACSHA256128)
	key := bytes.Repeat([]byte{0x5a}, 32)
	s2.Tunnels[pe1Addr6].In.Key = key
	pe2 := newTestDataplane(t, s2)
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 84)
	payload := binary.BigEndian.AppendUint32(nil, 2001<<12|1<<8|63) // label 2001, S, TTL 63
	payload = append(payload, inner...)
	pkt := []byte{
		0x6a, 0xbc, 0xde, 0xf1, // version 6, traffic class 0xab, flow label 0xcdef1
		0, 0, // payload length, below
		ah.ProtoAH, 9, // next header AH, hop limit 9
	}
	pkt = append(pkt, pe1Addr6.AsSlice()...)
	pkt = append(pkt, pe2Addr6.AsSlice()...)
	pkt = append(pkt,
		ah.NextHeaderMPLS, 6, 0, 0, // next header MPLS, payload len (32 bytes / 4 - 2), reserved
		0, 0, 0x10, 0x01, // SPI 0x1001
		0, 0, 0, 1, // sequence 1
	)
	pkt = append(pkt, make([]byte, 16+4)...) // ICV (below) and padding to 8 bytes
	pkt = append(pkt, payload...)
	binary.BigEndian.PutUint16(pkt[4:], uint16(len(pkt)-40))
	zeroed := append([]byte(nil), pkt...)
	zeroed[0], zeroed[1], zeroed[2], zeroed[3], zeroed[7] = 0x60, 0, 0, 0, 0
	m := hmac.New(sha256.New, key)
	m.Write(zeroed)
	copy(pkt[52:68], m.Sum(nil)[:16])

	rbuf := make([]byte, ahInHeadroom+len(pkt))
	n := copy(rbuf[ahInHeadroom:], pkt[40:])
	v, io, il, why := pe2.inboundAH6(rbuf, ahInHeadroom, n, pe1Addr6, pe2Addr6)
	if why != dropNone || v == nil || v.name != "red" || !bytes.Equal(rbuf[io:io+il], inner) {
		t.Fatalf("known-answer packet: vrf %v, drop %d", v, why)
	}

	// The sender covered a destination options header before AH; the
	// kernel processed it and delivers from AH on: the ICV fails.
	withExt := append(append(append([]byte(nil), pkt[:40]...), 51, 0, 1, 4, 0, 0, 0, 0), pkt[40:]...)
	withExt[6] = 60 // destination options, then AH
	binary.BigEndian.PutUint16(withExt[4:], uint16(len(withExt)-40))
	binary.BigEndian.PutUint32(withExt[48+8:], 2) // sequence 2
	zeroed = append([]byte(nil), withExt...)
	zeroed[0], zeroed[1], zeroed[2], zeroed[3], zeroed[7] = 0x60, 0, 0, 0, 0
	clear(zeroed[48+12 : 48+28])
	m = hmac.New(sha256.New, key)
	m.Write(zeroed)
	copy(withExt[48+12:48+28], m.Sum(nil)[:16])
	rbuf = make([]byte, ahInHeadroom+len(withExt))
	n = copy(rbuf[ahInHeadroom:], withExt[48:])
	if v, _, _, why := pe2.inboundAH6(rbuf, ahInHeadroom, n, pe1Addr6, pe2Addr6); v != nil || why != dropOpen {
		t.Errorf("extension header removed by the kernel: vrf %v, drop %d", v, why)
	}
	for _, bad := range []struct {
		name     string
		off, n   int
		src, dst netip.Addr
	}{
		{"no headroom", 8, 40, pe1Addr6, pe2Addr6},
		{"shorter than AH", ahInHeadroom, 8, pe1Addr6, pe2Addr6},
		{"IPv4 source", ahInHeadroom, 40, pe1Addr, pe2Addr6},
	} {
		if v, _, _, why := pe2.inboundAH6(make([]byte, 200), bad.off, bad.n, bad.src, bad.dst); v != nil || why != dropMalformed {
			t.Errorf("%s: vrf %v, drop %d", bad.name, v, why)
		}
	}
}

// TestAHIPv6Allocs: opening AH from an IPv6 socket allocates nothing.
func TestAHIPv6Allocs(t *testing.T) {
	s1, s2 := ahStates6(ah.AES128GMAC)
	pe1, pe2 := newTestDataplane(t, s1), newTestDataplane(t, s2)
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 1400)
	buf := outBuf(inner)
	in := make([]byte, inBufSize+ipv6HeaderLen)
	v := pe1.vrfs["red"]
	assertNoAllocs(t, "aes128gmac over IPv6", func() {
		copy(buf[outHeadroom:], inner)
		pkt, _, why := pe1.outbound(v, buf, outHeadroom, len(inner))
		if why != dropNone {
			t.Fatalf("outbound: drop %d", why)
		}
		n := copy(in[ahInHeadroom:], pkt[40:])
		if v, _, _, why := pe2.inboundAH6(in, ahInHeadroom, n, pe1Addr6, pe2Addr6); v == nil {
			t.Fatalf("inbound: drop %d", why)
		}
	})
}
