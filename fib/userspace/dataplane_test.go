package userspace

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/mpls"
)

// reveal opens an ESP packet from outbound with the outbound SA's keys and
// returns its label stack entry and inner packet: what the peer would see.
func reveal(t *testing.T, p *fib.SAParams, buf, pkt []byte) (mpls.Entry, []byte) {
	t.Helper()
	rx, err := esp.NewSA(esp.Config{SPI: p.SPI, Cipher: p.Cipher, Key: p.Key})
	if err != nil {
		t.Fatal(err)
	}
	work := append(make([]byte, esp.ScratchLen), pkt...)
	payload, nh, err := rx.Open(work, esp.ScratchLen, len(pkt))
	if err != nil || nh != esp.NextHeaderMPLS {
		t.Fatalf("Open: next header %d, %v", nh, err)
	}
	e, _, _, err := mpls.Pop(payload, 0, len(payload))
	if err != nil {
		t.Fatal(err)
	}
	return e, payload[mpls.EntrySize:]
}

func TestOutboundLongestMatch(t *testing.T) {
	peA, peB := addr("192.0.2.10"), addr("192.0.2.11")
	s := &fib.State{
		LocalAddress: pe1Addr,
		VRFs: map[string]*fib.VRF{"red": vrfOf("red", 101,
			remote("10.0.0.0/8", peA, 100),
			remote("10.1.0.0/16", peB, 200),
			local("10.1.2.0/24", "red"),
			remote("10.1.2.128/25", peA, 300, 301),
		)},
		Tunnels: map[netip.Addr]*fib.Tunnel{
			peA: {Remote: peA, UDP: true, Out: sa(0xa00, 1)},
			peB: {Remote: peB, Out: sa(0xb00, 2)},
		},
	}
	d := newTestDataplane(t, s)
	v := d.vrfs["red"]
	for _, tc := range []struct {
		dst    string
		peer   netip.Addr
		labels []mpls.Label
		drop   drop
	}{
		{"10.9.9.9", peA, []mpls.Label{100}, dropNone},
		{"10.1.9.9", peB, []mpls.Label{200}, dropNone},
		{"10.1.2.3", netip.Addr{}, nil, dropNoRoute}, // local: the kernel's, never the TUN's
		{"10.1.2.200", peA, []mpls.Label{300, 301}, dropNone},
		{"11.0.0.1", netip.Addr{}, nil, dropNoRoute},
	} {
		buf := outBuf(ipv4("10.1.0.2", tc.dst, 63, 100))
		pkt, to, why := d.outbound(v, buf, outHeadroom, 100)
		if why != tc.drop {
			t.Errorf("%s: drop %d, want %d", tc.dst, why, tc.drop)
			continue
		}
		if why != dropNone {
			if pkt != nil || to != nil {
				t.Errorf("%s: dropped packet still returned", tc.dst)
			}
			continue
		}
		if to.remote != tc.peer {
			t.Errorf("%s: sent to %s, want %s", tc.dst, to.remote, tc.peer)
		}
		key := s.Tunnels[tc.peer].Out
		top, rest := reveal(t, key, buf, pkt)
		got := []mpls.Label{top.Label}
		if !top.Bottom {
			got = append(got, mpls.StackEntry(rest).Label())
		}
		if !equalLabels(got, tc.labels) || top.TTL != 63 {
			t.Errorf("%s: labels %v TTL %d, want %v TTL 63", tc.dst, got, top.TTL, tc.labels)
		}
	}
	if got := v.stats().OutDrops.NoRoute; got != 2 {
		t.Errorf("no-route drops %d, want 2", got)
	}
}

func equalLabels(a, b []mpls.Label) bool {
	return len(a) == len(b) && (len(a) == 0 || a[0] == b[0] && equalLabels(a[1:], b[1:]))
}

// TestSamePrefixTwoVRFs sends to 10.2.0.2 from red and from blue at PE1 and
// receives at PE2: the VRF picks the label on the way out, the label picks
// the VRF on the way in.
func TestSamePrefixTwoVRFs(t *testing.T) {
	pe1, pe2 := newTestDataplane(t, pe1State()), newTestDataplane(t, pe2State())
	for _, name := range []string{"red", "blue", "red"} {
		inner := ipv4("10.1.0.2", "10.2.0.2", 63, 84)
		buf := outBuf(inner)
		pkt, to, why := pe1.outbound(pe1.vrfs[name], buf, outHeadroom, len(inner))
		if why != dropNone {
			t.Fatalf("%s: outbound dropped: %d", name, why)
		}
		off, n := toWire(t, buf, pkt, pe1Addr, to)
		v, io, il, why := pe2.inboundIP(buf, off, n)
		if why != dropNone || v == nil {
			t.Fatalf("%s: inbound dropped: %d", name, why)
		}
		if v.name != name {
			t.Errorf("sent in %s, arrived in %s", name, v.name)
		}
		if !bytes.Equal(buf[io:io+il], inner) {
			t.Errorf("%s: inner packet changed:\n got %x\nwant %x", name, buf[io:io+il], inner)
		}
	}
	if c := pe2.vrfs["red"].stats(); c.InPackets != 2 || c.InBytes != 2*84 {
		t.Errorf("PE2 red in: %+v", c)
	}
}

// TestIPv6AndTTL carries an IPv6 packet across, and checks the Uniform TTL: the
// label takes the IP TTL as the kernel left it; on the way in, a smaller
// label TTL comes back into the IP header.
func TestIPv6AndTTL(t *testing.T) {
	pe1, pe2 := newTestDataplane(t, pe1State()), newTestDataplane(t, pe2State())
	inner := ipv6("fd00:1::2", "fd00:2::2", 40, 120)
	buf := outBuf(inner)
	pkt, _, why := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
	if why != dropNone {
		t.Fatalf("outbound dropped: %d", why)
	}
	// A core hop lowers the label TTL (as an LSR would), then PE2.
	espOff := cap(buf) - cap(pkt)
	label, _ := reveal(t, pe1State().Tunnels[pe2Addr].Out, buf, pkt)
	if label.TTL != 40 || label.Label != 2001 {
		t.Fatalf("label %v, want 2001 TTL 40", label)
	}
	v, io, il, why := pe2.inbound(buf, espOff, len(pkt))
	if why != dropNone || v.name != "red" || il != len(inner) {
		t.Fatalf("inbound: drop %d, length %d", why, il)
	}
	if got := buf[io+7]; got != 40 {
		t.Errorf("hop limit %d, want 40 (the kernel decrements it next)", got)
	}

	// A label TTL below the IP TTL (core hops) comes back into the IPv4
	// header, whose checksum still verifies.
	inner4 := ipv4("10.1.0.2", "10.2.0.2", 64, 60)
	setTTL(inner4, 8, 5)
	if sum := ^foldSum(inner4[:20]); sum != 0 || inner4[8] != 5 {
		t.Errorf("TTL %d, checksum residue %#04x; want 5, 0", inner4[8], sum)
	}

	// A packet changed in transit fails authentication.
	buf = outBuf(inner4)
	pkt, _, _ = pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner4))
	pkt[esp.HeaderLen+esp.IVLen+3] ^= 1
	espOff = cap(buf) - cap(pkt)
	if _, _, _, why := pe2.inbound(buf, espOff, len(pkt)); why != dropOpen {
		t.Errorf("tampered packet: drop %d, want dropOpen", why)
	}
}

func foldSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// TestFailClosed: a remote PE with no tunnel, or a tunnel without an
// outbound SA, gets nothing, and the drop is counted by reason.
func TestFailClosed(t *testing.T) {
	s := pe1State()
	s.Tunnels[pe2Addr] = &fib.Tunnel{Remote: pe2Addr, UDP: true, In: sa(0x2001, 2)} // no Out
	s.VRFs["red"].Routes[pfx("10.3.0.0/24")] = remote("10.3.0.0/24", addr("192.0.2.3"), 3001)
	d := newTestDataplane(t, s)
	v := d.vrfs["red"]
	for _, tc := range []struct {
		dst  string
		want drop
	}{{"10.2.0.2", dropNoSA}, {"10.3.0.2", dropNoTunnel}} {
		inner := ipv4("10.1.0.2", tc.dst, 63, 100)
		buf := outBuf(inner)
		pkt, to, why := d.outbound(v, buf, outHeadroom, len(inner))
		if why != tc.want || pkt != nil || to != nil {
			t.Errorf("%s: drop %d pkt %v, want drop %d and nothing", tc.dst, why, pkt != nil, tc.want)
		}
		if !bytes.Equal(buf[outHeadroom:outHeadroom+len(inner)], inner) {
			t.Errorf("%s: dropped packet was modified", tc.dst)
		}
	}
	c := v.stats()
	if c.OutDrops.NoSA != 1 || c.OutDrops.NoTunnel != 1 || c.OutPackets != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestInboundDrops(t *testing.T) {
	pe1, pe2 := newTestDataplane(t, pe1State()), newTestDataplane(t, pe2State())
	// PE1 sends with a label PE2 does not know.
	s := pe1State()
	s.VRFs["red"].Routes[pfx("10.2.0.0/24")] = remote("10.2.0.0/24", pe2Addr, 2999)
	if _, _, err := pe1.update(s, nil); err != nil {
		t.Fatal(err)
	}
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 100)
	buf := outBuf(inner)
	pkt, _, _ := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
	espOff := cap(buf) - cap(pkt)
	if _, _, _, why := pe2.inbound(buf, espOff, len(pkt)); why != dropUnknownLabel {
		t.Errorf("unknown label: drop %d", why)
	}
	// Garbage with an unknown SPI, and a runt.
	junk := make([]byte, 200)
	junk[20] = 0x77
	if _, _, _, why := pe2.inbound(junk, 20, 100); why != dropOpen {
		t.Errorf("unknown SPI: drop %d", why)
	}
	if _, _, _, why := pe2.inboundIP(junk, 20, 3); why != dropMalformed {
		t.Errorf("runt: drop %d", why)
	}
	st := pe2.stats()
	if st.Inbound.UnknownLabel != 1 || st.Inbound.OpenFailed != 1 || st.Inbound.Malformed != 1 || st.UnknownSPI != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestUpdateKeepsSAs: an update with the same SA parameters keeps the SA
// (the sequence number goes on); new keys under the same SPI replace it.
func TestUpdateKeepsSAs(t *testing.T) {
	d := newTestDataplane(t, pe1State())
	first := d.outSAs[outKey{remote: pe2Addr, spi: 0x1001}].sa
	if _, _, err := d.update(pe1State(), nil); err != nil {
		t.Fatal(err)
	}
	if d.outSAs[outKey{remote: pe2Addr, spi: 0x1001}].sa != first {
		t.Error("same parameters: SA replaced")
	}
	s := pe1State()
	s.Tunnels[pe2Addr].Out = sa(0x1001, 9)
	delete(s.VRFs, "blue")
	delete(s.Labels, 1002)
	_, removed, err := d.update(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.outSAs[outKey{remote: pe2Addr, spi: 0x1001}].sa == first {
		t.Error("new key: SA kept")
	}
	if len(removed) != 1 || removed[0].name != "blue" {
		t.Errorf("removed %v", removed)
	}
	if (*d.lfib.Load())[1002] != nil {
		t.Error("LFIB still points at removed VRF")
	}
}
