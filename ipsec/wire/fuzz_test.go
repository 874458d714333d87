package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// repair gives a mutated packet valid checksums, computed with the test's
// own naive code, so that the fuzzer gets past the checksum gates and into
// the UDP and RFC 3948 logic instead of stopping at ErrChecksum.
func repair(pkt []byte) []byte {
	pkt = append([]byte(nil), pkt...)
	if len(pkt) < 1 {
		return pkt
	}
	var src, dst netip.Addr
	var l4 []byte
	switch pkt[0] >> 4 {
	case 4:
		hl := int(pkt[0]&0x0f) * 4
		if len(pkt) < 20 || hl < 20 || hl > len(pkt) {
			return pkt
		}
		pkt[10], pkt[11] = 0, 0
		binary.BigEndian.PutUint16(pkt[10:], ^naiveSum(pkt[:hl]))
		if pkt[9] != ProtoUDP {
			return pkt
		}
		total := int(binary.BigEndian.Uint16(pkt[2:]))
		if total < hl || total > len(pkt) {
			return pkt
		}
		src, dst, l4 = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20])), pkt[hl:total]
	case 6:
		if len(pkt) < 40 || pkt[6] != ProtoUDP {
			return pkt
		}
		n := int(binary.BigEndian.Uint16(pkt[4:]))
		if n > len(pkt)-40 {
			return pkt
		}
		src, dst, l4 = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40])), pkt[40:40+n]
	default:
		return pkt
	}
	if len(l4) < 8 || (src.Is4() && l4[6]|l4[7] == 0) {
		return pkt
	}
	binary.BigEndian.PutUint16(l4[6:], independentUDP6Checksum(src, dst, l4)) // the RFC 768 layout sums the same
	return pkt
}

func FuzzDecapsulate(f *testing.F) {
	for _, c := range encapCases {
		f.Add(c.pkt, false)
	}
	for _, p := range [][]byte{ipv4ESP[:30], ipv6UDP[:44], {0x45}, {0x60}} {
		f.Add(p, false)
		f.Add(p, true)
	}
	ike := withHeadroom(48, ikeInit)
	off, _ := Encapsulate(ike, 48, len(ikeInit), Path{Src: src6, Dst: dst6, UDP: true})
	f.Add(ike[off:], false)
	ka := withHeadroom(28, []byte{0xff})
	Encapsulate(ka, 28, 1, Path{Src: src4, Dst: dst4, UDP: true})
	f.Add(ka, false)

	f.Fuzz(func(t *testing.T, pkt []byte, fix bool) {
		if fix {
			pkt = repair(pkt)
		}
		o, body, kind, err := Decapsulate(pkt)
		if err != nil {
			if _, ok := err.(Error); !ok {
				t.Fatalf("error %v of type %T", err, err)
			}
			if o != (Outer{}) || body != nil || kind != KindMalformed {
				t.Fatalf("non-zero results with %v", err)
			}
			return
		}
		if kind == KindMalformed || len(body) == 0 {
			t.Fatalf("accepted with kind %v, %d bytes", kind, len(body))
		}
		// The body lies in pkt, right after the headers (and marker).
		at := o.HeaderLen
		if kind == KindIKE {
			at += NonESPMarkerLen
		}
		end := at + len(body)
		if end > len(pkt) || &pkt[at] != &body[0] {
			t.Fatalf("body not in place at %d", at)
		}
		// Re-encapsulating what Decapsulate saw rebuilds the packet, for
		// every header Encapsulate can write: no IPv4 options, reserved flag
		// clear, and no field where zero means "default".
		if (pkt[0]>>4 == 4 && (pkt[0] != 0x45 || pkt[6]&0x80 != 0)) || o.TTL == 0 || (o.UDP && o.SrcPort == 0) {
			return
		}
		in := pkt[o.HeaderLen:end]
		buf := withHeadroom(MaxOuterHeaderLen, in)
		start, err := Encapsulate(buf, MaxOuterHeaderLen, len(in), o.Path)
		if err != nil {
			t.Fatalf("re-encapsulate %+v: %v", o.Path, err)
		}
		got, want := buf[start:], pkt[:end]
		if !bytes.Equal(got, want) && !onlyChecksumZeroVsOnes(got, want) {
			t.Fatalf("re-encapsulated\n got % x\nwant % x", got, want)
		}
	})
}

// onlyChecksumZeroVsOnes allows the one legitimate difference: an IPv4
// header whose checksum computes to 0x0000 also verifies with 0xffff (both
// are zero in one's complement), and Encapsulate writes the former.
func onlyChecksumZeroVsOnes(got, want []byte) bool {
	if len(got) != len(want) || len(got) < 20 || got[0]>>4 != 4 {
		return false
	}
	g, w := append([]byte(nil), got...), append([]byte(nil), want...)
	if binary.BigEndian.Uint16(g[10:]) != 0 || binary.BigEndian.Uint16(w[10:]) != 0xffff {
		return false
	}
	g[10], g[11], w[10], w[11] = 0, 0, 0, 0
	return bytes.Equal(g, w)
}

// FuzzEncapsulate runs the other way: any Path and body Encapsulate accepts
// must come back out of Decapsulate unchanged.
func FuzzEncapsulate(f *testing.F) {
	f.Add([]byte{192, 0, 2, 1}, []byte{198, 51, 100, 2}, true, uint16(4500), uint16(4500), uint8(64), uint8(0), uint32(0), uint16(1), true, false, espBody)
	f.Add(src6.AsSlice(), dst6.AsSlice(), false, uint16(0), uint16(0), uint8(0), uint8(0xb8), uint32(0x12345), uint16(0), false, true, ikeInit)
	f.Fuzz(func(t *testing.T, s, d []byte, udp bool, sport, dport uint16, ttl, tos uint8, flow uint32, id uint16, df, csum bool, body []byte) {
		src, _ := netip.AddrFromSlice(s)
		dst, _ := netip.AddrFromSlice(d)
		p := Path{Src: src, Dst: dst, UDP: udp, SrcPort: sport, DstPort: dport, UDPChecksum: csum, TTL: ttl, TOS: tos, FlowLabel: flow, ID: id, DF: df}
		buf := withHeadroom(MaxOuterHeaderLen, body)
		start, err := Encapsulate(buf, MaxOuterHeaderLen, len(body), p)
		if err != nil {
			if _, ok := err.(Error); !ok {
				t.Fatalf("error %v of type %T", err, err)
			}
			return
		}
		o, got, kind, err := Decapsulate(buf[start:])
		if err != nil {
			// Only the body can be at fault: not ESP, or not for port 4500.
			if err != ErrESP && err != ErrNATT && err != ErrPort {
				t.Fatalf("Decapsulate(Encapsulate(%+v)): %v", p, err)
			}
			return
		}
		want := p
		if want.TTL == 0 {
			want.TTL = DefaultTTL
		}
		if src.Is4() {
			want.FlowLabel = 0
		} else {
			want.ID, want.DF = 0, false
			want.FlowLabel &= 0xfffff
			want.UDPChecksum = udp
		}
		if udp {
			want.SrcPort, want.DstPort = orNATT(sport), orNATT(dport)
		} else {
			want.SrcPort, want.DstPort, want.UDPChecksum = 0, 0, false
		}
		if o.Path != want {
			t.Fatalf("Path\n got %+v\nwant %+v", o.Path, want)
		}
		if wantKind, wantBody := Classify(body); udp && (kind != wantKind || !bytes.Equal(got, wantBody)) {
			t.Fatalf("kind %v body % x, Classify says %v % x", kind, got, wantKind, wantBody)
		}
		if !udp && (kind != KindESP || !bytes.Equal(got, body)) {
			t.Fatalf("raw: kind %v body % x", kind, got)
		}
	})
}
