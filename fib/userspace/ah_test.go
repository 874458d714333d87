package userspace

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ah"
)

// ahSA is AH SA parameters with HMAC-SHA-256-128 or AES-GMAC keys that
// differ by seed.
func ahSA(spi uint32, integ ah.Integ, seed byte) *fib.SAParams {
	k := make([]byte, integ.KeyLen())
	for i := range k {
		k[i] = seed + byte(i)*5
	}
	return &fib.SAParams{SPI: spi, AH: integ, Key: k}
}

// ahStates are pe1State and pe2State with the tunnel made AH.
func ahStates(integ ah.Integ) (pe1, pe2 *fib.State) {
	pe1, pe2 = pe1State(), pe2State()
	pe1.Tunnels[pe2Addr] = &fib.Tunnel{Remote: pe2Addr, UDP: true, Out: ahSA(0x1001, integ, 1), In: ahSA(0x2001, integ, 2)}
	pe2.Tunnels[pe1Addr] = &fib.Tunnel{Remote: pe1Addr, UDP: true, Out: ahSA(0x2001, integ, 2), In: ahSA(0x1001, integ, 1)}
	return pe1, pe2
}

// TestAHTunnel: PE1 seals a red packet in AH over IPv4 PE1 -> PE2 (IP
// protocol 51 although the tunnel says UDP: AH cannot cross NAT), the
// label stack and the packet readable after the AH header; PE2 opens it
// into red. A flipped bit in the ICV, the label or the outer source is
// dropped and counted as auth-failed, a replay as replayed, an unknown
// SPI as unknown-spi; none reaches a VRF.
func TestAHTunnel(t *testing.T) {
	for _, integ := range []ah.Integ{ah.HMACSHA256128, ah.AES128GMAC, ah.AES256GMAC} {
		t.Run(integ.String(), func(t *testing.T) {
			s1, s2 := ahStates(integ)
			pe1, pe2 := newTestDataplane(t, s1), newTestDataplane(t, s2)
			inner := ipv4("10.1.0.2", "10.2.0.2", 63, 200)
			seal := func() []byte {
				buf := outBuf(inner)
				pkt, to, why := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
				if why != dropNone {
					t.Fatalf("outbound: drop %d", why)
				}
				if to.ah == nil || to.dst.UDP() || to.dst.AddrPort() != netip.AddrPortFrom(pe2Addr, 0) {
					t.Fatalf("tunnel: ah %v, udp %v, to %v", to.ah, to.dst.UDP(), to.dst.AddrPort())
				}
				return append(make([]byte, inHeadroom), append(pkt, make([]byte, 8)...)...)
			}
			wire := seal()
			p := wire[inHeadroom:]
			hl := 20 + integ.HeaderLen()
			if p[9] != ah.ProtoAH || !bytes.Equal(p[12:16], pe1Addr.AsSlice()) || !bytes.Equal(p[16:20], pe2Addr.AsSlice()) ||
				p[20] != ah.NextHeaderMPLS || binary.BigEndian.Uint32(p[24:]) != 0x1001 {
				t.Fatalf("outer headers % x", p[:32])
			}
			if label := binary.BigEndian.Uint32(p[hl:]) >> 12; label != 2001 || !bytes.Equal(p[hl+4 : hl+4+len(inner)][20:], inner[20:]) {
				t.Fatalf("label %d or inner packet not in the clear after AH", label)
			}
			n := len(p) - 8
			tampered := func(at int) []byte {
				c := append([]byte(nil), wire...)
				c[inHeadroom+at] ^= 0x01
				return c
			}
			for name, at := range map[string]int{"icv": 20 + 12 + integ.IVLen() + 3, "label": hl + 1, "inner": hl + 30, "source": 13} {
				before := pe2.stats().SAs
				if v, _, _, why := pe2.inboundAH(tampered(at), inHeadroom, n); v != nil || why != dropOpen {
					t.Errorf("flipped %s: vrf %v, drop %d", name, v, why)
				}
				if got, want := authFailed(pe2.stats().SAs, 0x1001), authFailed(before, 0x1001)+1; got != want {
					t.Errorf("flipped %s: auth-failed %d, want %d", name, got, want)
				}
			}
			v, io, il, why := pe2.inboundAH(append([]byte(nil), wire...), inHeadroom, n)
			if why != dropNone || v == nil || v.name != "red" || il != len(inner) {
				t.Fatalf("inbound: vrf %v, drop %d, len %d", v, why, il)
			}
			_ = io
			if _, _, _, why := pe2.inboundAH(append([]byte(nil), wire...), inHeadroom, n); why != dropOpen {
				t.Errorf("replay: drop %d", why)
			}
			c := counters(pe2.stats().SAs, 0x1001, false)
			if c.Replayed != 1 || c.OpenedPackets != 1 || c.AH != integ {
				t.Errorf("inbound SA counters %+v", c)
			}
			bad := append([]byte(nil), wire...)
			binary.BigEndian.PutUint32(bad[inHeadroom+24:], 0x7777)
			before := pe2.stats().UnknownSPI
			if _, _, _, why := pe2.inboundAH(bad, inHeadroom, n); why != dropOpen || pe2.stats().UnknownSPI != before+1 {
				t.Errorf("unknown SPI: drop %d, unknown-spi %d", why, pe2.stats().UnknownSPI)
			}
			if _, _, _, why := pe2.inboundAH(wire, inHeadroom, 30); why != dropMalformed && why != dropOpen {
				t.Errorf("truncated: drop %d", why)
			}
			if out := counters(pe1.stats().SAs, 0x1001, true); out.SealedPackets != 1 || out.LastSeq != 1 || out.AH != integ {
				t.Errorf("outbound SA counters %+v", out)
			}
		})
	}
}

func counters(sas []fib.SACounters, spi uint32, out bool) fib.SACounters {
	for _, c := range sas {
		if c.SPI == spi && c.Outbound == out {
			return c
		}
	}
	return fib.SACounters{}
}

func authFailed(sas []fib.SACounters, spi uint32) uint64 { return counters(sas, spi, false).AuthFailed }

// TestAHReplacesESP: a tunnel switched from ESP to AH drops its ESP SAs
// (nothing left to seal or open ESP), and back.
func TestAHReplacesESP(t *testing.T) {
	d := newTestDataplane(t, pe1State())
	s, _ := ahStates(ah.HMACSHA256128)
	if _, _, err := d.update(s, nil); err != nil {
		t.Fatal(err)
	}
	if len(d.outSAs) != 0 || len(d.inSAs) != 0 || len(d.ahOut) != 1 || len(d.ahInSAs) != 1 || d.spis.Len() != 0 {
		t.Errorf("after AH: esp out %d in %d table %d, ah out %d in %d", len(d.outSAs), len(d.inSAs), d.spis.Len(), len(d.ahOut), len(d.ahInSAs))
	}
	if _, _, err := d.update(pe1State(), nil); err != nil {
		t.Fatal(err)
	}
	if len(d.outSAs) != 1 || len(d.inSAs) != 1 || len(d.ahOut) != 0 || len(d.ahInSAs) != 0 || len(*d.ahSPIs.Load()) != 0 {
		t.Errorf("back to ESP: esp out %d in %d, ah out %d in %d", len(d.outSAs), len(d.inSAs), len(d.ahOut), len(d.ahInSAs))
	}
}

// TestAHAllocs: sealing and opening AH allocate nothing per packet.
func TestAHAllocs(t *testing.T) {
	for _, integ := range []ah.Integ{ah.HMACSHA256128, ah.AES128GMAC} {
		s1, s2 := ahStates(integ)
		pe1, pe2 := newTestDataplane(t, s1), newTestDataplane(t, s2)
		inner := ipv4("10.1.0.2", "10.2.0.2", 63, 1400)
		buf := outBuf(inner)
		in := make([]byte, inBufSize)
		v := pe1.vrfs["red"]
		assertNoAllocs(t, integ.String(), func() {
			copy(buf[outHeadroom:], inner)
			pkt, _, why := pe1.outbound(v, buf, outHeadroom, len(inner))
			if why != dropNone {
				t.Fatalf("outbound: drop %d", why)
			}
			n := copy(in[inHeadroom:], pkt)
			if v, _, _, why := pe2.inboundAH(in, inHeadroom, n); v == nil {
				t.Fatalf("inbound: drop %d", why)
			}
		})
	}
}

// TestGatewayAH: the kernel backend's gateway seals an MPLS packet for an
// AH tunnel in AH (the label stack in clear after the header) and its
// peer's gateway hands the opened MPLS packet to the inbound TUN whole.
func TestGatewayAH(t *testing.T) {
	s1, s2 := ahStates(ah.HMACSHA256128)
	gw1 := newTestGateway(t, pe1Addr, s1.Tunnels)
	gw2 := newTestGateway(t, pe2Addr, s2.Tunnels)
	buf, n := labeledBuf(2001, etherTypeMPLS)
	want := bytes.Clone(buf[outHeadroom : outHeadroom+n])
	pkt, to, why := gw1.outboundLabeled(&vrf{}, gw1.peer(pe2Addr), buf, outHeadroom, n)
	if why != dropNone {
		t.Fatalf("outboundLabeled: drop %d", why)
	}
	if to.ah == nil || pkt[9] != ah.ProtoAH || !bytes.Equal(pkt[20+ah.HMACSHA256128.HeaderLen():], want) {
		t.Fatalf("not AH with the MPLS packet in clear: % x", pkt[:40])
	}
	rbuf := make([]byte, inBufSize)
	copy(rbuf[inHeadroom:], pkt)
	v, io, il, why := gw2.inboundAH(rbuf, inHeadroom, len(pkt))
	if why != dropNone || v != gw2.labeled || !bytes.Equal(rbuf[io:io+il], want) {
		t.Fatalf("inbound: drop %d, vrf %v", why, v)
	}
}
