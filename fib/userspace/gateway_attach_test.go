package userspace

import (
	"bytes"
	"net/netip"
	"os"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
	"golang.zx2c4.com/wireguard/tun"
)

// newAttachGateway is a Gateway's dataplane (labeled) brought to s as
// Gateway.Apply brings it (attachmentState), without devices.
func newAttachGateway(t testing.TB, s *fib.State, cache map[string]attachmentVRF) *dataplane {
	t.Helper()
	d := newDataplane(mpls.Uniform, nil, 0)
	d.labeled = &vrf{name: GatewayInbound}
	if _, _, err := d.update(attachmentState(s, cache), nil); err != nil {
		t.Fatalf("update: %v", err)
	}
	return d
}

// TestAttachmentState: the Gateway's State has a VRF for each VRF an
// attachment enters, holding that VRF's attachment routes alone; an
// unchanged VRF keeps its filtered copy (no table rebuild), and a VRF
// whose attachments are gone leaves.
func TestAttachmentState(t *testing.T) {
	s := attachState()
	delete(s.Attachments, "gw-blue")
	delete(s.VRFs["blue"].Routes, pfx("10.9.0.0/24"))
	cache := map[string]attachmentVRF{}
	gs := attachmentState(s, cache)
	if len(gs.VRFs) != 1 || gs.VRFs["red"] == nil {
		t.Fatalf("VRFs %v, want red alone (blue has no attachment)", gs.VRFs)
	}
	red := gs.VRFs["red"]
	if len(red.Routes) != 1 || red.Routes[pfx("10.9.0.0/24")].Attachment != "gw-red" || red.Table != 101 {
		t.Errorf("red's routes %v table %d, want 10.9.0.0/24 to gw-red alone, table 101", red.Routes, red.Table)
	}
	if len(gs.Labels) != 0 || len(gs.Tunnels) != 1 || len(gs.Attachments) != 1 {
		t.Errorf("labels %v tunnels %d attachments %d", gs.Labels, len(gs.Tunnels), len(gs.Attachments))
	}
	if again := attachmentState(s, cache); again.VRFs["red"] != red {
		t.Error("an unchanged VRF was filtered again: its table would be rebuilt")
	}
	s.Attachments = nil
	if gs := attachmentState(s, cache); len(gs.VRFs) != 0 || len(cache) != 0 {
		t.Errorf("without attachments: VRFs %v, cache %v", gs.VRFs, cache)
	}
}

// TestGatewayAttachmentInbound: on the Gateway, a site's packet opened
// from its attachment's SA goes to its VRF's attachment TUN (that VRF's
// only) when its inner source lies in the SA's site selectors and its
// destination in the local ones; outside them it is dropped and counted
// ts-violation; a PE's MPLS packet still goes to the inbound TUN whole.
func TestGatewayAttachmentInbound(t *testing.T) {
	d := newAttachGateway(t, attachState(), map[string]attachmentVRF{})
	red := newGateway(t, sa(0x3001, 3), sa(0x4001, 4))
	blue := newGateway(t, sa(0x5001, 5), sa(0x6001, 6))
	pe2 := newGateway(t, sa(0x2001, 2), sa(0x1001, 1))
	for _, tc := range []struct {
		name  string
		gw    gateway
		inner []byte
		nh    uint8
		to    *vrf
		why   drop
	}{
		{"red site to red", red, ipv4("10.9.0.5", "10.1.0.2", 64, 100), protoIPv4, d.vrfs["red"], dropNone},
		{"blue site to blue", blue, ipv4("10.9.0.5", "10.1.0.2", 64, 100), protoIPv4, d.vrfs["blue"], dropNone},
		{"source outside red's site selectors", red, ipv4("10.8.0.5", "10.1.0.2", 64, 100), protoIPv4, nil, dropTSViolation},
		{"destination outside blue's local selectors", blue, ipv4("10.9.0.5", "10.2.0.2", 64, 100), protoIPv4, nil, dropTSViolation},
		{"a label stack from a site", red, append([]byte{0x00, 0x3e, 0x91, 0x40}, ipv4("10.9.0.5", "10.1.0.2", 64, 100)...), 137, nil, dropNotIP},
		{"a PE's MPLS packet", pe2, append([]byte{0x00, 0x3e, 0x91, 0x40}, ipv4("10.2.0.5", "10.1.0.2", 64, 100)...), 137, d.labeled, dropNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf, off, n := tc.gw.sealed(t, tc.inner, tc.nh)
			v, io, il, why := d.inbound(buf, off, n)
			if why != tc.why || v != tc.to {
				t.Fatalf("drop %d into %v, want drop %d into %v", why, v, tc.why, tc.to)
			}
			if v != nil && !bytes.Equal(buf[io:io+il], tc.inner) {
				t.Fatalf("delivered %x, want %x", buf[io:io+il], tc.inner)
			}
		})
	}
	if d.vrfs["red"] == nil || d.vrfs["red"] == d.labeled {
		t.Fatal("red has no TUN of its own on the Gateway")
	}
	st := d.stats()
	if r, b := st.Attachments["gw-red"], st.Attachments["gw-blue"]; r.InPackets != 1 || r.TSViolation != 1 || r.NotIP != 1 || b.InPackets != 1 || b.TSViolation != 1 {
		t.Errorf("counters: red %+v blue %+v", r, b)
	}
	if c := d.vrfs["red"].stats(); c.InPackets != 1 || c.InBytes != 100 {
		t.Errorf("red's TUN counters %+v, want the one packet written into it", c)
	}
	if n := d.cnt.drops[dropTSViolation].Load(); n != 2 {
		t.Errorf("ts-violation drops %d, want 2", n)
	}
}

// TestGatewayAttachmentOutbound: what the kernel routes into red's
// attachment TUN is sealed in tunnel mode for red's site gateway; a
// packet there for any other destination (a PE's prefix, which the
// kernel routes to pgesp-N, not here) is dropped, never sealed for a PE;
// without an outbound SA, dropped and counted no-sa.
func TestGatewayAttachmentOutbound(t *testing.T) {
	s := attachState()
	d := newAttachGateway(t, s, map[string]attachmentVRF{})
	red := newGateway(t, sa(0x3001, 3), sa(0x4001, 4))
	inner := ipv4("10.1.0.2", "10.9.0.5", 63, 200)
	buf := outBuf(inner)
	pkt, to, why := d.outbound(d.vrfs["red"], buf, outHeadroom, len(inner))
	if why != dropNone || to.dst.AddrPort().String() != "198.51.100.2:33000" {
		t.Fatalf("drop %d, to %+v", why, to)
	}
	if payload, nh, err := red.open.Open(buf, cap(buf)-cap(pkt), len(pkt)); err != nil || nh != protoIPv4 || !bytes.Equal(payload, inner) {
		t.Fatalf("the site gateway opens %x nh %d err %v", payload, nh, err)
	}
	toPE := ipv4("10.1.0.2", "10.2.0.5", 63, 200)
	if _, _, why := d.outbound(d.vrfs["red"], outBuf(toPE), outHeadroom, len(toPE)); why != dropNoRoute {
		t.Errorf("a PE's prefix in the attachment TUN: drop %d, want no-route", why)
	}
	s = attachState()
	s.Attachments["gw-red"].Out = nil
	if _, _, err := d.update(attachmentState(s, map[string]attachmentVRF{}), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, why := d.outbound(d.vrfs["red"], outBuf(inner), outHeadroom, len(inner)); why != dropNoSA {
		t.Errorf("no outbound SA: drop %d, want no-sa", why)
	}
	if st := d.stats(); st.Attachments["gw-red"].NoSA != 1 {
		t.Errorf("no-sa not counted: %+v", st.Attachments["gw-red"])
	}
}

// TestGatewayAttachmentAllocs: the Gateway's attachment paths allocate
// nothing per packet.
func TestGatewayAttachmentAllocs(t *testing.T) {
	d := newAttachGateway(t, attachState(), map[string]attachmentVRF{})
	red := newGateway(t, sa(0x3001, 3), sa(0x4001, 4))
	inner := ipv4("10.1.0.2", "10.9.0.5", 63, 1400)
	buf := outBuf(inner)
	head := bytes.Clone(inner[:40])
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
	pkts := make([]pkt, allocRuns+1)
	for i := range pkts {
		b, o, n := red.sealed(t, ipv4("10.9.0.5", "10.1.0.2", 64, 1400), protoIPv4)
		pkts[i] = pkt{b, o, n}
	}
	i := 0
	assertNoAllocs(t, "inbound from an attachment", func() {
		p := pkts[i]
		i++
		if v, _, _, why := d.inbound(p.buf, p.off, p.n); why != dropNone || v != d.vrfs["red"] {
			t.Fatalf("drop %d into %v", why, v)
		}
	})
}

// recordingTUN is a tun.Device that keeps what is written to it.
type recordingTUN struct{ got [][]byte }

func (r *recordingTUN) File() *os.File                         { return nil }
func (r *recordingTUN) Read([][]byte, []int, int) (int, error) { return 0, os.ErrClosed }
func (r *recordingTUN) MTU() (int, error)                      { return 1500, nil }
func (r *recordingTUN) Name() (string, error)                  { return "recording", nil }
func (r *recordingTUN) Events() <-chan tun.Event               { return nil }
func (r *recordingTUN) Close() error                           { return nil }
func (r *recordingTUN) BatchSize() int                         { return 1 }
func (r *recordingTUN) Write(bufs [][]byte, off int) (int, error) {
	for _, b := range bufs {
		r.got = append(r.got, bytes.Clone(b[off:]))
	}
	return len(bufs), nil
}

// TestGatewayWritesSitesIntoTheirVRFTUN: what the Gateway's sockets
// receive from a site is written into that VRF's attachment TUN, and only
// there, when within the selectors; outside them, into no TUN at all.
func TestGatewayWritesSitesIntoTheirVRFTUN(t *testing.T) {
	d := newAttachGateway(t, attachState(), map[string]attachmentVRF{})
	tuns := map[string]*recordingTUN{"red": {}, "blue": {}, GatewayInbound: {}}
	d.vrfs["red"].dev.Store(&device{Device: tuns["red"]})
	d.vrfs["blue"].dev.Store(&device{Device: tuns["blue"]})
	d.labeled.dev.Store(&device{Device: tuns[GatewayInbound]})
	r := &socketReader{d: d, w: newTUNWriter(0)}
	red := newGateway(t, sa(0x3001, 3), sa(0x4001, 4))
	from := netip.MustParseAddrPort("198.51.100.2:33000")

	inside := ipv4("10.9.0.5", "10.1.0.2", 64, 100)
	buf, off, n := red.sealed(t, inside, protoIPv4)
	r.ESP(buf, off, n, from, false)
	r.Flush()
	outside := ipv4("10.8.0.5", "10.1.0.2", 64, 100)
	buf, off, n = red.sealed(t, outside, protoIPv4)
	r.ESP(buf, off, n, from, false)
	r.Flush()

	if got := tuns["red"].got; len(got) != 1 || !bytes.Equal(got[0], inside) {
		t.Errorf("red's TUN got %d packets, want the one from inside the selectors", len(got))
	}
	if n := len(tuns["blue"].got) + len(tuns[GatewayInbound].got); n != 0 {
		t.Errorf("%d packets written into blue's or the PE inbound TUN", n)
	}
	if c := d.stats().Attachments["gw-red"]; c.TSViolation != 1 || c.InPackets != 1 {
		t.Errorf("gw-red counters %+v, want one in, one ts-violation", c)
	}
}
