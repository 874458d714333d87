package userspace

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
	"golang.org/x/sys/unix"
)

// PE1 with one protected remote PE (PE2, its tunnel) and unprotected ones
// (10.9.0.0/24): 10.3.0.0/24 behind 10.9.0.3 (unprotected), 10.4.0.0/24
// behind 10.9.1.4, just outside the unprotected prefix (neither).
var (
	pe3Plain   = addr("10.9.0.3")
	peOutside  = addr("10.9.1.4")
	macPE3     = [6]byte{0x02, 0, 0, 0, 0x09, 0x03}
	macCore    = [6]byte{0x02, 0, 0, 0, 0x09, 0x01}
	testCore   = coreAccepting(macPE3)
	plainLabel = mpls.Label(3001)
)

// coreAccepting is core0 taking labelled frames from macs, as the
// resolver publishes them for the next hops it found there.
func coreAccepting(macs ...[6]byte) *coreIface {
	c := &coreIface{name: "core0", index: 7, mac: macCore}
	s := sourceMACs(macs)
	c.sources.Store(&s)
	return c
}

// fromMAC is frame f with src as its source MAC.
func fromMAC(f []byte, src [6]byte) []byte {
	copy(f[6:12], src[:])
	return f
}

func mixedState() *fib.State {
	s := pe1State()
	s.VRFs["red"].Routes[pfx("10.3.0.0/24")] = remote("10.3.0.0/24", pe3Plain, plainLabel)
	s.VRFs["red"].Routes[pfx("fd00:3::/64")] = remote("fd00:3::/64", pe3Plain, plainLabel)
	s.VRFs["red"].Routes[pfx("10.4.0.0/24")] = remote("10.4.0.0/24", peOutside, 4001)
	s.UnprotectedPeers = []netip.Prefix{pfx("10.9.0.0/24")}
	s.MPLSInterfaces = []string{"core0"}
	return s
}

// resolved publishes PE3's next hop as the resolver would.
func resolved(d *dataplane) {
	d.plains[pe3Plain].l2.Store(&l2Hop{core: testCore, hdr: makeEthHeader(macPE3, macCore), gw: pe3Plain})
}

// TestPlainOutbound: a route via an unprotected PE leaves as a plain MPLS
// frame toward the next hop's MAC; until the MAC is known it is dropped
// and counted; a PE just outside the unprotected prefix is dropped as one
// with no tunnel, and the protected PE still gets ESP.
func TestPlainOutbound(t *testing.T) {
	d := newTestDataplane(t, mixedState())
	v := d.vrfs["red"]
	inner := ipv4("10.1.0.2", "10.3.0.2", 63, 100)

	buf := outBuf(inner)
	pkt, to, why := d.outbound(v, buf, outHeadroom, len(inner))
	if why != dropNone || to.plain == nil || to.sa != nil {
		t.Fatalf("outbound: drop %d, tunnel %+v", why, to)
	}
	if _, _, why := d.frame(v, to, buf, pkt); why != dropNoNeighbor || v.cnt.outDrops[dropNoNeighbor].Load() != 1 {
		t.Fatalf("unresolved next hop: drop %d, counted %d", why, v.cnt.outDrops[dropNoNeighbor].Load())
	}

	resolved(d)
	buf = outBuf(inner)
	pkt, to, _ = d.outbound(v, buf, outHeadroom, len(inner))
	f, core, why := d.frame(v, to, buf, pkt)
	if why != dropNone || core != testCore {
		t.Fatalf("frame: drop %d, core %v", why, core)
	}
	want := append(append(append([]byte{}, macPE3[:]...), macCore[:]...), 0x88, 0x47)
	want = append(want, 0x00, 0xbb, 0x91, 63) // label 3001, S=1, TTL 63 (uniform)
	want = append(want, inner...)
	if !bytes.Equal(f, want) {
		t.Errorf("frame\n got % x\nwant % x", f[:24], want[:24])
	}

	for _, tc := range []struct {
		name string
		pkt  []byte
		want drop
	}{
		{"just outside the unprotected prefix", ipv4("10.1.0.2", "10.4.0.2", 63, 100), dropNoTunnel},
		{"the protected PE: ESP", ipv4("10.1.0.2", "10.2.0.2", 63, 100), dropNone},
	} {
		_, to, why := d.outbound(v, outBuf(tc.pkt), outHeadroom, len(tc.pkt))
		if why != tc.want {
			t.Errorf("%s: drop %d, want %d", tc.name, why, tc.want)
		}
		if why == dropNone && (to.plain != nil || to.sa == nil) {
			t.Errorf("%s: not sealed: %+v", tc.name, to)
		}
	}
}

// TestPlainTransportLabel: a PE behind P routers gets its static
// transport label above the VPN label; a reload that drops it sends the
// VPN label alone again.
func TestPlainTransportLabel(t *testing.T) {
	s := mixedState()
	s.TransportLabels = map[netip.Addr]mpls.Label{pe3Plain: 16003}
	d := newTestDataplane(t, s)
	resolved(d)
	v := d.vrfs["red"]
	inner := ipv4("10.1.0.2", "10.3.0.2", 63, 100)
	buf := outBuf(inner)
	pkt, to, why := d.outbound(v, buf, outHeadroom, len(inner))
	if why != dropNone {
		t.Fatalf("drop %d", why)
	}
	f, _, _ := d.frame(v, to, buf, pkt)
	want := []byte{0x03, 0xe8, 0x30, 63, 0x00, 0xbb, 0x91, 63} // 16003 S=0, 3001 S=1
	if got := f[ethHeaderLen : ethHeaderLen+8]; !bytes.Equal(got, want) {
		t.Errorf("label stack % x, want % x", got, want)
	}
	s2 := *s
	s2.TransportLabels = nil
	if _, _, err := d.update(&s2, nil); err != nil {
		t.Fatal(err)
	}
	buf = outBuf(inner)
	pkt, _, _ = d.outbound(v, buf, outHeadroom, len(inner))
	if len(pkt) != 4+len(inner) || pkt[2]&1 != 1 {
		t.Errorf("without the transport label: % x", pkt[:8])
	}
}

// TestPlainReload: taking the prefix out of the State stops plain MPLS at
// once (fail closed), and a reload that puts it back starts it again.
func TestPlainReload(t *testing.T) {
	s := mixedState()
	d := newTestDataplane(t, s)
	resolved(d)
	v := d.vrfs["red"]
	inner := ipv4("10.1.0.2", "10.3.0.2", 63, 100)

	s2 := *s
	s2.UnprotectedPeers = nil
	if _, _, err := d.update(&s2, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, why := d.outbound(v, outBuf(inner), outHeadroom, len(inner)); why != dropNoTunnel {
		t.Errorf("unprotected peer removed: drop %d, want no-tunnel", why)
	}
	if len(d.plains) != 0 {
		t.Errorf("plains kept: %v", d.plains)
	}
	if _, _, err := d.update(s, nil); err != nil {
		t.Fatal(err)
	}
	if _, to, why := d.outbound(v, outBuf(inner), outHeadroom, len(inner)); why != dropNone || to.plain == nil {
		t.Errorf("unprotected peer back: drop %d", why)
	}
}

// frameOf is an MPLS frame to this host with the label stack entries
// given (outermost first, the last with S set) and pkt.
func frameOf(pkt []byte, entries ...mpls.Entry) []byte {
	f := append(append(append([]byte{}, macCore[:]...), macPE3[:]...), 0x88, 0x47)
	for i, e := range entries {
		var b [4]byte
		mpls.EncodeEntry(b[:], e.Label, 0, i == len(entries)-1, e.TTL)
		f = append(f, b[:]...)
	}
	return append(f, pkt...)
}

func inFrameBuf(f []byte) []byte {
	b := make([]byte, inHeadroom+len(f))
	copy(b[inHeadroom:], f)
	return b
}

// TestInboundFrame: the label stacks other vendors send. PE1 gives red
// 1001 (per-VRF); the far PE may send it under an explicit null.
func TestInboundFrame(t *testing.T) {
	d := newTestDataplane(t, mixedState())
	red := d.vrfs["red"]
	p4 := ipv4("10.3.0.2", "10.1.0.2", 64, 100)
	p6 := ipv6("fd00:3::2", "fd00:1::2", 64, 100)
	vpn := mpls.Entry{Label: 1001, TTL: 60}
	for _, tc := range []struct {
		name    string
		frame   []byte
		pktType uint8
		want    drop
		ttl     uint8      // the inner TTL delivered
		core    *coreIface // testCore if nil
	}{
		{"VPN label alone (implicit null toward us)", frameOf(p4, vpn), unix.PACKET_HOST, dropNone, 60, nil},
		{"IPv6 under the VPN label", frameOf(p6, vpn), unix.PACKET_HOST, dropNone, 60, nil},
		{"IPv4 explicit null on top", frameOf(p4, mpls.Entry{Label: 0, TTL: 50}, vpn), unix.PACKET_HOST, dropNone, 50, nil},
		{"IPv6 explicit null on top", frameOf(p6, mpls.Entry{Label: 2, TTL: 61}, vpn), unix.PACKET_HOST, dropNone, 60, nil},
		{"explicit null at the bottom: no VRF", frameOf(p4, mpls.Entry{Label: 0, TTL: 60}), unix.PACKET_HOST, dropUnknownLabel, 0, nil},
		{"a transport label left on: deeper than expected", frameOf(p4, mpls.Entry{Label: 500, TTL: 60}, vpn), unix.PACKET_HOST, dropUnknownLabel, 0, nil},
		{"two nulls", frameOf(p4, mpls.Entry{Label: 0, TTL: 60}, mpls.Entry{Label: 0, TTL: 60}, vpn), unix.PACKET_HOST, dropUnknownLabel, 0, nil},
		{"unknown VPN label", frameOf(p4, mpls.Entry{Label: 1999, TTL: 60}), unix.PACKET_HOST, dropUnknownLabel, 0, nil},
		{"label TTL 0", frameOf(p4, mpls.Entry{Label: 1001, TTL: 0}), unix.PACKET_HOST, dropTTLExpired, 0, nil},
		{"not IP under the label", frameOf(make([]byte, 40), vpn), unix.PACKET_HOST, dropMalformed, 0, nil},
		{"wrong EtherType", append(append(make([]byte, 12), 0x08, 0x00), p4...), unix.PACKET_HOST, dropMalformed, 0, nil},
		{"runt", make([]byte, 13), unix.PACKET_HOST, dropMalformed, 0, nil},
		{"another host's frame", frameOf(p4, vpn), unix.PACKET_OTHERHOST, dropOtherHost, 0, nil},
		{"from a MAC that is no next hop", fromMAC(frameOf(p4, vpn), [6]byte{0x02, 0, 0, 0, 0x09, 0x66}), unix.PACKET_HOST, dropBadSource, 0, nil},
		{"from the next hop of another core", frameOf(p4, vpn), unix.PACKET_HOST, dropBadSource, 0, coreAccepting(macCore)},
		{"on a core with no next hop resolved", frameOf(p4, vpn), unix.PACKET_HOST, dropBadSource, 0, &coreIface{name: "core1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := inFrameBuf(tc.frame)
			core := tc.core
			if core == nil {
				core = testCore
			}
			before := d.cnt.drops[dropBadSource].Load()
			v, io, il, why := d.inboundFrame(core, buf, inHeadroom, len(tc.frame), tc.pktType)
			if got := d.cnt.drops[dropBadSource].Load() - before; (why == dropBadSource) != (got == 1) {
				t.Errorf("bad-source counted %d for drop %d", got, why)
			}
			if why != tc.want {
				t.Fatalf("drop %d, want %d", why, tc.want)
			}
			if why != dropNone {
				return
			}
			if v != red {
				t.Fatalf("VRF %v, want red", v.name)
			}
			inner := buf[io : io+il]
			ttl := inner[8]
			if inner[0]>>4 == 6 {
				ttl = inner[7]
			} else if foldSum(inner[:20]) != 0xffff {
				t.Error("IPv4 header checksum wrong after the TTL change")
			}
			if ttl != tc.ttl || il != 100 {
				t.Errorf("inner TTL %d length %d, want %d and 100", ttl, il, tc.ttl)
			}
		})
	}
}

func TestPlainAllocs(t *testing.T) {
	d := newTestDataplane(t, mixedState())
	resolved(d)
	v := d.vrfs["red"]
	inner := ipv4("10.1.0.2", "10.3.0.2", 63, 1400)
	buf := outBuf(inner)
	m := newFrameBatch(2)
	assertNoAllocs(t, "outbound and frame", func() {
		pkt, to, why := d.outbound(v, buf, outHeadroom, len(inner))
		if why != dropNone {
			t.Fatalf("drop %d", why)
		}
		f, _, why := d.frame(v, to, buf, pkt)
		if why != dropNone {
			t.Fatalf("frame: drop %d", why)
		}
		m.n = 0
		m.add(f)
	})
	f := frameOf(ipv4("10.3.0.2", "10.1.0.2", 64, 1400), mpls.Entry{Label: 0, TTL: 60}, mpls.Entry{Label: 1001, TTL: 60})
	in := inFrameBuf(f)
	assertNoAllocs(t, "inboundFrame", func() {
		if _, _, _, why := d.inboundFrame(testCore, in, inHeadroom, len(f), unix.PACKET_HOST); why != dropNone {
			t.Fatalf("drop %d", why)
		}
	})
}

// FuzzInboundFrame: any frame a core socket reads (this PE popping
// 100001 as its own transport label) is forwarded or dropped and
// counted, never a panic, and a forwarded one's inner packet lies in
// the buffer.
func FuzzInboundFrame(f *testing.F) {
	s := mixedState()
	s.LocalTransportLabels = []mpls.Label{100001}
	d := newTestDataplane(f, s)
	f.Add(frameOf(ipv4("10.3.0.2", "10.1.0.2", 64, 40), mpls.Entry{Label: 100001, TTL: 60}, mpls.Entry{Label: 1001, TTL: 60}))
	f.Add(frameOf(ipv4("10.3.0.2", "10.1.0.2", 64, 40), mpls.Entry{Label: 1001, TTL: 60}))
	f.Add(frameOf(ipv6("fd00:3::2", "fd00:1::2", 64, 48), mpls.Entry{Label: 2, TTL: 60}, mpls.Entry{Label: 1002, TTL: 9}))
	f.Add(frameOf(nil, mpls.Entry{Label: 0, TTL: 1}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, frame []byte) {
		buf := inFrameBuf(frame)
		v, io, il, why := d.inboundFrame(testCore, buf, inHeadroom, len(frame), unix.PACKET_HOST)
		checkInner(t, buf, v, io, il, why)
		if why == dropNone && io-tunOffset < 0 {
			t.Fatalf("no TUN headroom in front of the inner packet at %d", io)
		}
	})
}
