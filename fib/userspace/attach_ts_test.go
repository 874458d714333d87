package userspace

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
)

// l4v4 is an IPv4 packet from src to dst of protocol proto whose
// transport header starts with the 16-bit values a and b (ports, or
// ICMP's type and code in a's two bytes); frag is the flags and
// fragment offset field (0x2000: more fragments, offset 0).
func l4v4(src, dst string, proto uint8, a, b uint16, frag uint16) []byte {
	p := ipv4(src, dst, 64, 60)
	p[9] = proto
	binary.BigEndian.PutUint16(p[6:], frag)
	binary.BigEndian.PutUint16(p[20:], a)
	binary.BigEndian.PutUint16(p[22:], b)
	return p
}

// l4v6 is l4v4's IPv6 twin; ext are extension headers put before the
// transport header (each its next header byte filled in here).
func l4v6(src, dst string, proto uint8, a, b uint16, ext ...[]byte) []byte {
	p := ipv6(src, dst, 64, 48)[:40]
	nhAt := 6
	for _, e := range ext {
		p[nhAt] = e[0] // the kind of header this one is, kept in byte 0 by the caller
		e = append([]byte(nil), e...)
		nhAt = len(p)
		p = append(p, e...)
	}
	p[nhAt] = proto
	l4 := make([]byte, 20)
	binary.BigEndian.PutUint16(l4, a)
	binary.BigEndian.PutUint16(l4[2:], b)
	p = append(p, l4...)
	binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
	return p
}

// v6Frag is an IPv6 fragment header of kind byte 44 at offset off (in
// 8-byte units); hopByHop an empty hop-by-hop options header.
func v6Frag(off uint16) []byte { return []byte{44, 0, byte(off >> 5), byte(off << 3), 0, 0, 0, 1} }

// shortTotal sets IPv4 packet p's total length to n, leaving its bytes.
func shortTotal(p []byte, n uint16) []byte {
	binary.BigEndian.PutUint16(p[2:], n)
	return p
}

var hopByHop = []byte{0, 0, 1, 4, 0, 0, 0, 0}

func sel(p string, proto uint8, lo, hi uint16) fib.Selector {
	return fib.Selector{Prefix: pfx(p), Protocol: proto, StartPort: lo, EndPort: hi}
}

// TestAttachTSPolicy: with the site's selectors any protocol and the
// local ones TCP port 443, UDP 53 and ICMP echo requests (type 8, any
// code), and the IPv6 twins, each packet from the site (inbound) and to
// it (outbound, the same flow reversed) passes or is refused as RFC
// 4301 says.
func TestAttachTSPolicy(t *testing.T) {
	fa := &fib.Attachment{
		SitePrefixes:  []netip.Prefix{pfx("10.9.0.0/24"), pfx("fd00:9::/64")},
		LocalPrefixes: []netip.Prefix{pfx("10.1.0.0/24"), pfx("fd00:1::/64")},
		SiteSelectors: []fib.Selector{sel("10.9.0.0/24", 0, 0, 65535), sel("fd00:9::/64", 0, 0, 65535)},
		LocalSelectors: []fib.Selector{
			sel("10.1.0.0/24", 6, 443, 443), sel("10.1.0.0/24", 17, 53, 53), sel("10.1.0.0/24", protoICMP, 0x0800, 0x08ff),
			sel("fd00:1::/64", 6, 443, 443), sel("fd00:1::/64", protoICMPv6, 128<<8, 128<<8|0xff),
		},
	}
	pol := &attachPolicy{site: fa.SitePrefixes, local: fa.LocalPrefixes, ts: newTSPolicy(fa)}
	if !pol.ts.narrow {
		t.Fatal("a TCP 443 selector is not narrow")
	}
	for _, tc := range []struct {
		name string
		in   []byte // from the site; outbound checks it with addresses and ports swapped
		out  []byte
		want bool
	}{
		{"TCP to 443", l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 443, 0), l4v4("10.1.0.2", "10.9.0.5", 6, 443, 40000, 0), true},
		{"TCP to 80", l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 80, 0), l4v4("10.1.0.2", "10.9.0.5", 6, 80, 40000, 0), false},
		{"UDP to 443", l4v4("10.9.0.5", "10.1.0.2", 17, 40000, 443, 0), l4v4("10.1.0.2", "10.9.0.5", 17, 443, 40000, 0), false},
		{"UDP to 53", l4v4("10.9.0.5", "10.1.0.2", 17, 40000, 53, 0), l4v4("10.1.0.2", "10.9.0.5", 17, 53, 40000, 0), true},
		{"TCP 443 outside the site", l4v4("10.8.0.5", "10.1.0.2", 6, 40000, 443, 0), l4v4("10.1.0.2", "10.8.0.5", 6, 443, 40000, 0), false},
		{"TCP 443 outside local", l4v4("10.9.0.5", "10.2.0.2", 6, 40000, 443, 0), l4v4("10.2.0.2", "10.9.0.5", 6, 443, 40000, 0), false},
		{"TCP 443 initial fragment", l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 443, 0x2000), l4v4("10.1.0.2", "10.9.0.5", 6, 443, 40000, 0x2000), true},
		{"non-initial fragment of TCP (no ports)", l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 443, 0x2000|185), l4v4("10.1.0.2", "10.9.0.5", 6, 443, 40000, 185), false},
		{"GRE (no ports)", l4v4("10.9.0.5", "10.1.0.2", 47, 0, 443, 0), l4v4("10.1.0.2", "10.9.0.5", 47, 443, 0, 0), false},
		{"ICMP echo request", l4v4("10.9.0.5", "10.1.0.2", protoICMP, 8<<8, 0, 0), l4v4("10.1.0.2", "10.9.0.5", protoICMP, 8<<8, 0, 0), true},
		{"ICMP echo reply", l4v4("10.9.0.5", "10.1.0.2", protoICMP, 0, 0, 0), l4v4("10.1.0.2", "10.9.0.5", protoICMP, 0, 0, 0), false},
		{"ICMP unreachable", l4v4("10.9.0.5", "10.1.0.2", protoICMP, 3<<8|3, 0, 0), l4v4("10.1.0.2", "10.9.0.5", protoICMP, 3<<8|3, 0, 0), false},
		{"truncated TCP", l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 443, 0)[:22], l4v4("10.1.0.2", "10.9.0.5", 6, 443, 40000, 0)[:22], false},
		{"TCP 443 past the total length", shortTotal(l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 443, 0), 22), shortTotal(l4v4("10.1.0.2", "10.9.0.5", 6, 443, 40000, 0), 22), false},
		{"total length zero", shortTotal(l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 443, 0), 0), shortTotal(l4v4("10.1.0.2", "10.9.0.5", 6, 443, 40000, 0), 0), false},
		{"IPv6 TCP to 443", l4v6("fd00:9::5", "fd00:1::2", 6, 40000, 443), l4v6("fd00:1::2", "fd00:9::5", 6, 443, 40000), true},
		{"IPv6 TCP to 22", l4v6("fd00:9::5", "fd00:1::2", 6, 40000, 22), l4v6("fd00:1::2", "fd00:9::5", 6, 22, 40000), false},
		{"IPv6 TCP 443 behind hop-by-hop", l4v6("fd00:9::5", "fd00:1::2", 6, 40000, 443, hopByHop), l4v6("fd00:1::2", "fd00:9::5", 6, 443, 40000, hopByHop), true},
		{"IPv6 TCP 443 initial fragment", l4v6("fd00:9::5", "fd00:1::2", 6, 40000, 443, v6Frag(0)), l4v6("fd00:1::2", "fd00:9::5", 6, 443, 40000, v6Frag(0)), true},
		{"IPv6 non-initial fragment", l4v6("fd00:9::5", "fd00:1::2", 6, 40000, 443, v6Frag(100)), l4v6("fd00:1::2", "fd00:9::5", 6, 443, 40000, v6Frag(100)), false},
		{"ICMPv6 echo request", l4v6("fd00:9::5", "fd00:1::2", protoICMPv6, 128<<8, 0), l4v6("fd00:1::2", "fd00:9::5", protoICMPv6, 128<<8, 0), true},
		{"ICMPv6 type 128 as ICMPv4's protocol", l4v6("fd00:9::5", "fd00:1::2", protoICMP, 128<<8, 0), l4v6("fd00:1::2", "fd00:9::5", protoICMP, 128<<8, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst, _, ok := innerAddrs(tc.in, protoIPv4)
			if !ok {
				src, dst, _, ok = innerAddrs(tc.in, protoIPv6)
			}
			if !ok && len(tc.in) >= 20 {
				src, dst = netip.AddrFrom4([4]byte(tc.in[12:16])), netip.AddrFrom4([4]byte(tc.in[16:20]))
			}
			if got := pol.allowsIn(tc.in, src, dst); got != tc.want {
				t.Errorf("inbound: %v, want %v", got, tc.want)
			}
			if got := pol.allowsOut(tc.out, dst); got != tc.want {
				t.Errorf("outbound: %v, want %v", got, tc.want)
			}
		})
	}
}

// TestAttachTSAnyProtocol: selectors that are all any protocol and any
// port (what strongSwan negotiates unless told otherwise) leave the
// address check alone: every protocol, fragment or port passes.
func TestAttachTSAnyProtocol(t *testing.T) {
	fa := &fib.Attachment{
		SitePrefixes: []netip.Prefix{pfx("10.9.0.0/24")}, LocalPrefixes: []netip.Prefix{pfx("0.0.0.0/0")},
		SiteSelectors: []fib.Selector{sel("10.9.0.0/24", 0, 0, 65535)}, LocalSelectors: []fib.Selector{sel("0.0.0.0/0", 0, 0, 65535)},
	}
	pol := &attachPolicy{site: fa.SitePrefixes, local: fa.LocalPrefixes, ts: newTSPolicy(fa)}
	if pol.ts.narrow {
		t.Fatal("any-protocol selectors are narrow")
	}
	for _, p := range [][]byte{
		l4v4("10.9.0.5", "10.1.0.2", 6, 1, 2, 0), l4v4("10.9.0.5", "10.1.0.2", 47, 1, 2, 0),
		l4v4("10.9.0.5", "10.1.0.2", 17, 1, 2, 100), l4v4("10.9.0.5", "10.1.0.2", 6, 1, 2, 0)[:21],
	} {
		if !pol.allowsIn(p, addr("10.9.0.5"), addr("10.1.0.2")) || !pol.allowsOut(p, addr("10.1.0.2")) {
			t.Errorf("% x refused", p[:21])
		}
	}
	if pol.allowsIn(l4v4("10.8.0.5", "10.1.0.2", 6, 1, 2, 0), addr("10.8.0.5"), addr("10.1.0.2")) {
		t.Error("a source outside the site's selectors passes")
	}
}

// narrowState is attachState with red's gateway negotiated down to TCP
// port 443 on our side.
func narrowState() *fib.State {
	s := attachState()
	a := s.Attachments["gw-red"]
	a.SiteSelectors = []fib.Selector{sel("10.9.0.0/24", 6, 0, 65535)}
	a.LocalSelectors = []fib.Selector{sel("0.0.0.0/0", 6, 443, 443)}
	return s
}

// TestAttachmentNarrowSelectors: through the dataplane, red's gateway
// negotiated TCP to port 443: a TCP packet to 443 enters red and one to
// port 80 or a ping is dropped and counted ts-violation; outbound, red
// seals its answer from 443 and drops one from port 80, counted. Both
// paths allocate nothing.
func TestAttachmentNarrowSelectors(t *testing.T) {
	d := newTestDataplane(t, narrowState())
	red := newGateway(t, sa(0x3001, 3), sa(0x4001, 4))
	for _, tc := range []struct {
		name  string
		inner []byte
		want  drop
	}{
		{"TCP to 443", l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 443, 0), dropNone},
		{"TCP to 80", l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 80, 0), dropTSViolation},
		{"ping", ipv4("10.9.0.5", "10.1.0.2", 64, 100), dropTSViolation},
	} {
		buf, off, n := red.sealed(t, tc.inner, protoIPv4)
		if _, _, _, why := d.inbound(buf, off, n); why != tc.want {
			t.Errorf("%s: drop %d, want %d", tc.name, why, tc.want)
		}
	}
	if c := d.stats().Attachments["gw-red"]; c.InPackets != 1 || c.TSViolation != 2 {
		t.Errorf("inbound counters %+v, want 1 in, 2 ts-violation", c)
	}
	for _, tc := range []struct {
		name  string
		inner []byte
		want  drop
	}{
		{"answer from 443", l4v4("10.1.0.2", "10.9.0.5", 6, 443, 40000, 0), dropNone},
		{"from port 80", l4v4("10.1.0.2", "10.9.0.5", 6, 80, 40000, 0), dropTSViolation},
	} {
		if _, _, why := d.outbound(d.vrfs["red"], outBuf(tc.inner), outHeadroom, len(tc.inner)); why != tc.want {
			t.Errorf("%s: drop %d, want %d", tc.name, why, tc.want)
		}
	}
	if c := d.stats().Attachments["gw-red"]; c.OutPackets != 1 || c.TSViolation != 3 {
		t.Errorf("outbound counters %+v, want 1 out, 3 ts-violation in all", c)
	}

	type pkt struct {
		buf    []byte
		off, n int
	}
	for _, tc := range []struct {
		name  string
		dport uint16
		want  drop
	}{{"narrow inbound allowed", 443, dropNone}, {"narrow inbound refused", 80, dropTSViolation}} {
		pkts := make([]pkt, allocRuns+1)
		for i := range pkts {
			b, o, n := red.sealed(t, l4v4("10.9.0.5", "10.1.0.2", 6, 40000, tc.dport, 0), protoIPv4)
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
	inner := l4v4("10.1.0.2", "10.9.0.5", 6, 443, 40000, 0)
	buf := outBuf(inner)
	assertNoAllocs(t, "narrow outbound", func() {
		copy(buf[outHeadroom:], inner)
		if _, _, why := d.outbound(d.vrfs["red"], buf, outHeadroom, len(inner)); why != dropNone {
			t.Fatalf("drop %d", why)
		}
	})
}

// FuzzAttachTS feeds arbitrary packets to the selector check of a
// narrow policy both ways: it must not panic, and what passes inbound,
// with the addresses read as the dataplane reads them, must be TCP to
// port 443 from the site.
func FuzzAttachTS(f *testing.F) {
	fa := narrowState().Attachments["gw-red"]
	pol := &attachPolicy{site: fa.SitePrefixes, local: fa.LocalPrefixes, ts: newTSPolicy(fa)}
	f.Add(l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 443, 0))
	f.Add(l4v4("10.9.0.5", "10.1.0.2", 6, 40000, 443, 185))
	f.Add(l4v6("fd00:9::5", "fd00:1::2", 6, 40000, 443, hopByHop, v6Frag(0)))
	f.Add(l4v6("fd00:9::5", "fd00:1::2", 6, 40000, 443, v6Frag(3)))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, p []byte) {
		_ = pol.allowsOut(p, addr("10.1.0.2"))
		_ = pol.allowsIn(p, addr("fd00:9::5"), addr("fd00:1::2"))
		src, dst, _, ok := innerAddrs(p, protoIPv4) // as fromAttachment reads them
		if !ok || !pol.allowsIn(p, src, dst) {
			return
		}
		if !pfx("10.9.0.0/24").Contains(src) || len(p) < 24 || p[0]>>4 != 4 || p[9] != 6 {
			t.Fatalf("% x passed, not TCP over IPv4", p)
		}
		if at := int(p[0]&0x0f) * 4; at < 20 || len(p) < at+4 || binary.BigEndian.Uint16(p[at+2:]) != 443 {
			t.Fatalf("% x passed, not to port 443", p)
		}
	})
}
