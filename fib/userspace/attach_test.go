package userspace

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// attachState is pe1State with a site gateway in red and another in
// blue, behind which both VRFs have 10.9.0.0/24 (as red's and blue's
// CEs share 10.1.0.0/24). Red's gateway: in 0x3001 (seed 3), out 0x4001
// (seed 4), at 198.51.100.2 behind a NAT (port 33000); blue's: in 0x5001,
// out 0x6001, at 198.51.100.3, and it may only reach 10.1.0.0/24.
func attachState() *fib.State {
	s := pe1State()
	s.VRFs["red"].Routes[pfx("10.9.0.0/24")] = fib.Route{Prefix: pfx("10.9.0.0/24"), Attachment: "gw-red"}
	delete(s.VRFs["blue"].Routes, pfx("10.9.9.9/32"))
	s.VRFs["blue"].Routes[pfx("10.9.0.0/24")] = fib.Route{Prefix: pfx("10.9.0.0/24"), Attachment: "gw-blue"}
	s.Attachments = map[string]*fib.Attachment{
		"gw-red": {Name: "gw-red", VRF: "red", Remote: netip.MustParseAddrPort("198.51.100.2:33000"), UDP: true,
			Out: sa(0x4001, 4), In: sa(0x3001, 3),
			SitePrefixes: []netip.Prefix{pfx("10.9.0.0/24")}, LocalPrefixes: []netip.Prefix{pfx("0.0.0.0/0"), pfx("::/0")}},
		"gw-blue": {Name: "gw-blue", VRF: "blue", Remote: netip.MustParseAddrPort("198.51.100.3:4500"), UDP: true,
			Out: sa(0x6001, 6), In: sa(0x5001, 5),
			SitePrefixes: []netip.Prefix{pfx("10.9.0.0/24")}, LocalPrefixes: []netip.Prefix{pfx("10.1.0.0/24")}},
	}
	return s
}

// gateway is a site gateway's end of an attachment's SAs.
type gateway struct{ seal, open *esp.SA }

func newGateway(t testing.TB, out, in *fib.SAParams) gateway {
	t.Helper()
	mk := func(p *fib.SAParams) *esp.SA {
		s, err := esp.NewSA(esp.Config{SPI: p.SPI, Cipher: p.Cipher, Key: p.Key})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return gateway{seal: mk(out), open: mk(in)}
}

// sealed returns inner sealed by the gateway with next header nh, as
// (buffer, ESP offset, length).
func (g gateway) sealed(t testing.TB, inner []byte, nh uint8) ([]byte, int, int) {
	t.Helper()
	buf := outBuf(inner)
	pkt, err := g.seal.Seal(buf, outHeadroom, len(inner), nh)
	if err != nil {
		t.Fatal(err)
	}
	return buf, cap(buf) - cap(pkt), len(pkt)
}

// TestAttachmentInbound: a gateway's tunnel-mode packet enters its
// attachment's VRF, and only that VRF, when its inner source lies in the
// SA's site prefixes and its destination in the local ones; otherwise,
// or as a label stack (next header 137), it is dropped and counted
// ts-violation or not-ip, and reaches no VRF. A PE's SA never delivers a
// tunnel-mode packet.
func TestAttachmentInbound(t *testing.T) {
	d := newTestDataplane(t, attachState())
	red := newGateway(t, sa(0x3001, 3), sa(0x4001, 4))
	blue := newGateway(t, sa(0x5001, 5), sa(0x6001, 6))
	pe2 := newGateway(t, sa(0x2001, 2), sa(0x1001, 1))
	for _, tc := range []struct {
		name  string
		gw    gateway
		inner []byte
		nh    uint8
		vrf   string
		why   drop
	}{
		{"red site to red", red, ipv4("10.9.0.5", "10.1.0.2", 64, 100), protoIPv4, "red", dropNone},
		{"blue site to blue", blue, ipv4("10.9.0.5", "10.1.0.2", 64, 100), protoIPv4, "blue", dropNone},
		{"source outside the selectors", red, ipv4("10.8.0.5", "10.1.0.2", 64, 100), protoIPv4, "", dropTSViolation},
		{"destination outside blue's local prefixes", blue, ipv4("10.9.0.5", "10.2.0.2", 64, 100), protoIPv4, "", dropTSViolation},
		{"IPv6 source outside", red, ipv6("fd00:9::5", "fd00:1::2", 64, 100), protoIPv6, "", dropTSViolation},
		{"a label stack from a gateway", red, append([]byte{0x00, 0x3e, 0x91, 0x40}, ipv4("10.9.0.5", "10.1.0.2", 64, 100)...), esp.NextHeaderMPLS, "", dropNotIP},
		{"next header says IPv6, packet is IPv4", red, ipv4("10.9.0.5", "10.1.0.2", 64, 100), protoIPv6, "", dropNotIP},
		{"TTL would expire", red, ipv4("10.9.0.5", "10.1.0.2", 1, 100), protoIPv4, "", dropTTLExpired},
		{"a PE's SA with an IP packet", pe2, ipv4("10.9.0.5", "10.1.0.2", 64, 100), protoIPv4, "", dropNotMPLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf, off, n := tc.gw.sealed(t, tc.inner, tc.nh)
			v, io, il, why := d.inbound(buf, off, n)
			if why != tc.why {
				t.Fatalf("drop %d, want %d", why, tc.why)
			}
			if tc.vrf == "" {
				if v != nil {
					t.Fatalf("delivered into %s", v.name)
				}
				return
			}
			if v == nil || v.name != tc.vrf || !bytes.Equal(buf[io:io+il], tc.inner) {
				t.Fatalf("delivered into %v: %x", v, buf[io:io+il])
			}
		})
	}
	st := d.stats()
	r, b := st.Attachments["gw-red"], st.Attachments["gw-blue"]
	if r.InPackets != 1 || r.TSViolation != 2 || r.NotIP != 2 || r.TTLExpired != 1 || b.InPackets != 1 || b.TSViolation != 1 {
		t.Errorf("counters: red %+v blue %+v", r, b)
	}
	if st.Inbound.NotMPLS != 1 {
		t.Errorf("PE path not-mpls %d, want 1", st.Inbound.NotMPLS)
	}
	found := 0
	for _, c := range st.SAs {
		if c.SPI == 0x3001 && !c.Outbound && c.Remote == addr("198.51.100.2") {
			found++
		}
	}
	if found != 1 {
		t.Errorf("red's inbound SA is not counted once: %+v", st.SAs)
	}
}

// TestAttachmentOutbound: a VRF packet to a site prefix is sealed in
// tunnel mode for that VRF's gateway (the inner packet as it was, next
// header 4) and sent to the gateway's address and NAT port; blue's
// packet to the same prefix goes to blue's gateway; without an outbound
// SA, or once the attachment is gone, it is dropped, never sent in
// clear or to the other site.
func TestAttachmentOutbound(t *testing.T) {
	s := attachState()
	d := newTestDataplane(t, s)
	red := newGateway(t, sa(0x3001, 3), sa(0x4001, 4))
	blue := newGateway(t, sa(0x5001, 5), sa(0x6001, 6))
	for _, tc := range []struct {
		vrf string
		gw  gateway
		dst string
	}{{"red", red, "198.51.100.2:33000"}, {"blue", blue, "198.51.100.3:4500"}} {
		inner := ipv4("10.1.0.2", "10.9.0.5", 63, 200)
		buf := outBuf(inner)
		pkt, to, why := d.outbound(d.vrfs[tc.vrf], buf, outHeadroom, len(inner))
		if why != dropNone {
			t.Fatalf("%s: drop %d", tc.vrf, why)
		}
		if got := to.dst.AddrPort().String(); got != tc.dst {
			t.Errorf("%s: sent to %s, want %s", tc.vrf, got, tc.dst)
		}
		payload, nh, err := tc.gw.open.Open(buf, cap(buf)-cap(pkt), len(pkt))
		if err != nil || nh != protoIPv4 || !bytes.Equal(payload, inner) {
			t.Fatalf("%s: the gateway opens %x nh %d err %v", tc.vrf, payload, nh, err)
		}
	}
	// Blue may only be reached from 10.1.0.0/24.
	inner := ipv4("10.7.0.2", "10.9.0.5", 63, 200)
	if _, _, why := d.outbound(d.vrfs["blue"], outBuf(inner), outHeadroom, len(inner)); why != dropTSViolation {
		t.Errorf("blue from outside its local prefixes: drop %d, want ts-violation", why)
	}

	s = attachState()
	s.Attachments["gw-red"].Out = nil
	if _, _, err := d.update(s, nil); err != nil {
		t.Fatal(err)
	}
	inner = ipv4("10.1.0.2", "10.9.0.5", 63, 200)
	if _, _, why := d.outbound(d.vrfs["red"], outBuf(inner), outHeadroom, len(inner)); why != dropNoSA {
		t.Errorf("no outbound SA: drop %d, want no-sa", why)
	}
	s = pe1State()
	if _, _, err := d.update(s, nil); err != nil {
		t.Fatal(err)
	}
	if len(d.atts) != 0 || len(d.attInSAs) != 0 || len(*d.attIn.Load()) != 0 {
		t.Errorf("attachments left: %v %v", d.atts, d.attInSAs)
	}
	for k := range d.outSAs {
		if k.att != "" {
			t.Errorf("outbound SA left: %+v", k)
		}
	}
	buf, off, n := red.sealed(t, ipv4("10.9.0.5", "10.1.0.2", 64, 100), protoIPv4)
	if v, _, _, why := d.inbound(buf, off, n); v != nil || why != dropOpen {
		t.Errorf("after removal: delivered %v drop %d", v, why)
	}
}

// TestAttachmentRekeyKeepsSAs: an update with the same keys keeps the
// attachment's SAs (sequence numbers and replay windows go on).
func TestAttachmentRekeyKeepsSAs(t *testing.T) {
	d := newTestDataplane(t, attachState())
	k := outKey{remote: addr("198.51.100.2"), spi: 0x4001, att: "gw-red"}
	out, in := d.outSAs[k].sa, d.attInSAs[0x3001].sa
	if _, _, err := d.update(attachState(), nil); err != nil {
		t.Fatal(err)
	}
	if d.outSAs[k].sa != out || d.attInSAs[0x3001].sa != in {
		t.Error("an update with the same keys made the SAs again")
	}
}

func TestAttachmentAllocs(t *testing.T) {
	d := newTestDataplane(t, attachState())
	red := newGateway(t, sa(0x3001, 3), sa(0x4001, 4))
	inner := ipv4("10.1.0.2", "10.9.0.5", 63, 1400)
	buf := outBuf(inner)
	head := append([]byte(nil), inner[:40]...)
	assertNoAllocs(t, "outbound to an attachment", func() {
		copy(buf[outHeadroom:], head)
		if _, _, why := d.outbound(d.vrfs["red"], buf, outHeadroom, len(inner)); why != dropNone {
			t.Fatalf("drop %d", why)
		}
	})
	type pkt struct {
		buf    []byte
		off, n int
	}
	for _, tc := range []struct {
		name string
		src  string
		want drop
	}{{"inbound from an attachment", "10.9.0.5", dropNone}, {"ts violation", "10.8.0.5", dropTSViolation}} {
		pkts := make([]pkt, allocRuns+1)
		for i := range pkts {
			b, o, n := red.sealed(t, ipv4(tc.src, "10.1.0.2", 64, 1400), protoIPv4)
			pkts[i] = pkt{b, o, n}
		}
		i := 0
		assertNoAllocs(t, tc.name, func() {
			p := pkts[i]
			i++
			if _, _, _, why := d.inbound(p.buf, p.off, p.n); why != tc.want {
				t.Fatalf("drop %d, want %d", why, tc.want)
			}
		})
	}
}
