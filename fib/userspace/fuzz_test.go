package userspace

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// checkInner fails if a forwarded packet's inner bounds leave the buffer.
func checkInner(t *testing.T, buf []byte, v *vrf, off, n int, why drop) {
	if why == dropNone && v != nil && (off < 0 || n < 0 || off+n > len(buf)) {
		t.Fatalf("inner packet [%d:%d] outside a %d-byte buffer", off, off+n, len(buf))
	}
}

// FuzzInbound feeds arbitrary datagrams to both receive paths (UDP 4500
// payloads and raw IP datagrams): every input is forwarded or dropped and
// counted, never a panic. Arbitrary bytes rarely authenticate, so this
// covers the framing before the AEAD; FuzzInboundSealed covers what
// follows it.
func FuzzInbound(f *testing.F) {
	d := newTestDataplane(f, pe2State())
	from := netip.AddrPortFrom(pe1Addr, 4500)
	f.Add([]byte{0xff})                                  // NAT keepalive
	f.Add([]byte{0, 0, 0, 0, 0x12, 0x34})                // non-ESP marker, IKE
	f.Add([]byte{0, 0, 0x10, 0x01, 0, 0, 0, 1, 1, 2, 3}) // SPI 0x1001, truncated
	f.Add(make([]byte, 60))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, udp := range []bool{true, false} {
			buf := make([]byte, inHeadroom+len(data))
			copy(buf[inHeadroom:], data)
			var v *vrf
			var io, il int
			var why drop
			if udp {
				v, io, il, why = d.inboundUDP(buf, inHeadroom, len(data), from)
			} else {
				v, io, il, why = d.inboundIP(buf, inHeadroom, len(data))
			}
			checkInner(t, buf, v, io, il, why)
		}
	})
}

// FuzzInboundSealed seals arbitrary plaintext, as if a compromised or
// buggy peer holding the key sent it (next header MPLS), and hands it to
// the receive path: the label and inner-packet parsing after Open must drop
// and count whatever it cannot forward.
func FuzzInboundSealed(f *testing.F) {
	pe1, pe2 := newTestDataplane(f, pe1State()), newTestDataplane(f, pe2State())
	tx := pe1.outSAs[outKey{remote: pe2Addr, spi: 0x1001}].sa
	from := netip.AddrPortFrom(pe1Addr, 4500)
	f.Add([]byte{0x00, 0x7d, 0x11, 0x40, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 1, 0, 2, 10, 2, 0, 2}) // label 2001 S=1, IPv4
	f.Add([]byte{0x00, 0x7d, 0x10, 0x40, 0x00, 0x7d, 0x11, 0x40})                                            // two labels
	f.Add([]byte{0x00, 0x7d, 0x11, 0x00, 0x60})                                                              // TTL 0, short IPv6
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, plain []byte) {
		buf := make([]byte, inHeadroom+esp.Headroom+len(plain)+esp.MaxTrailer)
		copy(buf[inHeadroom+esp.Headroom:], plain)
		pkt, err := tx.Seal(buf, inHeadroom+esp.Headroom, len(plain), esp.NextHeaderMPLS)
		if err != nil {
			t.Skip(err)
		}
		off := inHeadroom + esp.Headroom - esp.HeaderLen - esp.IVLen
		if &buf[off] != &pkt[0] {
			t.Fatal("Seal did not write its header where expected")
		}
		v, io, il, why := pe2.inboundUDP(buf, off, len(pkt), from)
		checkInner(t, buf, v, io, il, why)
		if why == dropNone && (il < ipv4HeaderLen || io < off) {
			t.Fatalf("forwarded a %d-byte inner packet at %d", il, io)
		}
	})
}

// FuzzGateway hands arbitrary packets, with an arbitrary packet
// information header, to a Gateway's outbound path as if read from a
// remote PE's TUN: each is dropped and counted or sealed, never a panic,
// and what is sealed comes out of the other Gateway's inbound path
// byte for byte (the kernel pops the labels there).
func FuzzGateway(f *testing.F) {
	gw1 := newTestGateway(f, pe1Addr, pe1State().Tunnels)
	gw2 := newTestGateway(f, pe2Addr, pe2State().Tunnels)
	f.Add(uint16(etherTypeMPLS), []byte{0x00, 0x7d, 0x11, 0x40, 0x45, 0, 0, 20})
	f.Add(uint16(0x0800), []byte{0x45, 0, 0, 20})
	f.Add(uint16(etherTypeMPLS), []byte{1, 2})
	f.Fuzz(func(t *testing.T, etherType uint16, pkt []byte) {
		if len(pkt) > 9000 {
			return
		}
		buf := make([]byte, outHeadroom+len(pkt)+outTailroom)
		buf[outHeadroom-2], buf[outHeadroom-1] = byte(etherType>>8), byte(etherType)
		copy(buf[outHeadroom:], pkt)
		sealed, _, why := gw1.outboundLabeled(&vrf{}, gw1.peer(pe2Addr), buf, outHeadroom, len(pkt))
		if why != dropNone {
			return
		}
		rbuf := make([]byte, inHeadroom+len(sealed))
		copy(rbuf[inHeadroom:], sealed)
		v, io, il, why := gw2.inbound(rbuf, inHeadroom, len(sealed))
		if why != dropNone || v != gw2.labeled || !bytes.Equal(rbuf[io:io+il], pkt) {
			t.Fatalf("sealed % x came back as drop %d % x", pkt, why, rbuf[io:io+il])
		}
	})
}

// FuzzAttachmentSealed seals arbitrary plaintext under an attachment's SA
// with an arbitrary next header, as a gateway holding the key could: the
// inner-packet parsing and the traffic-selector check after Open must
// drop and count what they cannot deliver, and whatever they deliver
// goes into the attachment's VRF with a source in its site prefixes.
func FuzzAttachmentSealed(f *testing.F) {
	d := newTestDataplane(f, attachState())
	gw := newGateway(f, sa(0x3001, 3), sa(0x4001, 4))
	f.Add(uint8(4), ipv4("10.9.0.5", "10.1.0.2", 64, 40))
	f.Add(uint8(4), ipv4("10.8.0.5", "10.1.0.2", 64, 40))
	f.Add(uint8(41), ipv6("fd00:9::5", "fd00:1::2", 64, 48))
	f.Add(uint8(137), []byte{0x00, 0x3e, 0x91, 0x40, 0x45, 0, 0, 20})
	f.Add(uint8(4), []byte{0x45, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, nh uint8, plain []byte) {
		buf := make([]byte, inHeadroom+esp.Headroom+len(plain)+esp.MaxTrailer)
		copy(buf[inHeadroom+esp.Headroom:], plain)
		pkt, err := gw.seal.Seal(buf, inHeadroom+esp.Headroom, len(plain), nh)
		if err != nil {
			t.Skip(err)
		}
		off := inHeadroom + esp.Headroom - esp.HeaderLen - esp.IVLen
		v, io, il, why := d.inboundUDP(buf, off, len(pkt), netip.MustParseAddrPort("198.51.100.2:33000"))
		checkInner(t, buf, v, io, il, why)
		if why != dropNone {
			return
		}
		src, _, _, ok := innerAddrs(buf[io:io+il], nh)
		if v == nil || v.name != "red" || !ok || !pfx("10.9.0.0/24").Contains(src) {
			t.Fatalf("delivered % x into %v", buf[io:io+il], v)
		}
	})
}
