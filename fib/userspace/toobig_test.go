package userspace

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// onesSum is the Internet checksum's verification, written independently
// of wire.Checksum: the one's-complement sum over a message whose checksum
// field is filled in is 0xffff.
func onesSum(parts ...[]byte) uint16 {
	var s uint32
	for _, b := range parts {
		for i := 0; i < len(b); i += 2 {
			w := uint32(b[i]) << 8
			if i+1 < len(b) {
				w |= uint32(b[i+1])
			}
			s += w
			s = s&0xffff + s>>16
		}
	}
	return uint16(s)
}

func withDF(p []byte) []byte {
	p[6] |= 0x40
	binary.BigEndian.PutUint16(p[10:], 0)
	binary.BigEndian.PutUint16(p[10:], ^onesSum(p[:20]))
	return p
}

var testSrc = localAddrs{v4: addr("10.1.0.1"), v6: addr("fd00:1::1")}

func TestTooBigDecision(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  []byte
		mtu  int
		want bool
	}{
		{"IPv4 DF over", withDF(ipv4("10.1.0.2", "10.2.0.2", 63, 1500)), 1400, true},
		{"IPv4 DF at", withDF(ipv4("10.1.0.2", "10.2.0.2", 63, 1400)), 1400, false},
		{"IPv4 no DF over: fragmented outside", ipv4("10.1.0.2", "10.2.0.2", 63, 1500), 1400, false},
		{"IPv6 over", ipv6("fd00:1::2", "fd00:2::2", 63, 1401), 1400, true},
		{"IPv6 at", ipv6("fd00:1::2", "fd00:2::2", 63, 1400), 1400, false},
		{"no limit", ipv6("fd00:1::2", "fd00:2::2", 63, 9000), 0, false},
	} {
		if got := tooBig(tc.pkt, len(tc.pkt), tc.mtu); got != tc.want {
			t.Errorf("%s: tooBig = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBuildTooBigIPv4(t *testing.T) {
	orig := withDF(ipv4("10.1.0.2", "10.2.0.2", 63, 1500))
	buf := outBuf(orig)
	start, end, ok := buildTooBig(buf, outHeadroom, len(orig), 1400, testSrc)
	if !ok {
		t.Fatal("no ICMP built")
	}
	m := buf[start:end]
	if len(m) != 576 {
		t.Errorf("ICMP error of %d bytes, want 576 (RFC 1812 4.3.2.3)", len(m))
	}
	if got := netip.AddrFrom4([4]byte(m[12:16])); got != testSrc.v4 {
		t.Errorf("source %v, want %v", got, testSrc.v4)
	}
	if got := netip.AddrFrom4([4]byte(m[16:20])); got != addr("10.1.0.2") {
		t.Errorf("destination %v, want the sender 10.1.0.2", got)
	}
	if m[9] != 1 || int(binary.BigEndian.Uint16(m[2:4])) != len(m) {
		t.Errorf("protocol %d, total length %d", m[9], binary.BigEndian.Uint16(m[2:4]))
	}
	if onesSum(m[:20]) != 0xffff {
		t.Error("bad IPv4 header checksum")
	}
	icmp := m[20:]
	if icmp[0] != 3 || icmp[1] != 4 || binary.BigEndian.Uint16(icmp[6:8]) != 1400 {
		t.Errorf("ICMP type %d code %d mtu %d, want 3 4 1400", icmp[0], icmp[1], binary.BigEndian.Uint16(icmp[6:8]))
	}
	if onesSum(icmp) != 0xffff {
		t.Error("bad ICMP checksum")
	}
	if string(icmp[8:28]) != string(orig[:20]) {
		t.Error("the error does not quote the original header")
	}
}

func TestBuildTooBigIPv6(t *testing.T) {
	orig := ipv6("fd00:1::2", "fd00:2::2", 63, 1500)
	buf := outBuf(orig)
	start, end, ok := buildTooBig(buf, outHeadroom, len(orig), 1400, testSrc)
	if !ok {
		t.Fatal("no ICMPv6 built")
	}
	m := buf[start:end]
	if len(m) != 1280 {
		t.Errorf("ICMPv6 error of %d bytes, want 1280 (RFC 4443 2.4(c))", len(m))
	}
	if m[6] != 58 || int(binary.BigEndian.Uint16(m[4:6])) != len(m)-40 {
		t.Errorf("next header %d, payload length %d", m[6], binary.BigEndian.Uint16(m[4:6]))
	}
	if got := netip.AddrFrom16([16]byte(m[24:40])); got != addr("fd00:1::2") {
		t.Errorf("destination %v, want the sender", got)
	}
	icmp := m[40:]
	if icmp[0] != 2 || icmp[1] != 0 || binary.BigEndian.Uint32(icmp[4:8]) != 1400 {
		t.Errorf("ICMPv6 type %d code %d mtu %d, want 2 0 1400", icmp[0], icmp[1], binary.BigEndian.Uint32(icmp[4:8]))
	}
	var pseudoLen [8]byte
	binary.BigEndian.PutUint32(pseudoLen[0:4], uint32(len(icmp)))
	pseudoLen[7] = 58
	if onesSum(m[8:40], pseudoLen[:], icmp) != 0xffff {
		t.Error("bad ICMPv6 checksum")
	}
}

func TestBuildTooBigRefuses(t *testing.T) {
	icmpErr := ipv4("10.1.0.2", "10.2.0.2", 63, 1500)
	icmpErr[20] = 3 // destination unreachable: never answered with an error
	v6err := ipv6("fd00:1::2", "fd00:2::2", 63, 1500)
	v6err[40] = 1
	for name, tc := range map[string]struct {
		pkt []byte
		src localAddrs
	}{
		"ICMP error":     {icmpErr, testSrc},
		"ICMPv6 error":   {v6err, testSrc},
		"no IPv4 source": {ipv4("10.1.0.2", "10.2.0.2", 63, 1500), localAddrs{v6: testSrc.v6}},
		"no IPv6 source": {ipv6("fd00:1::2", "fd00:2::2", 63, 1500), localAddrs{v4: testSrc.v4}},
		"not IP":         {make([]byte, 1500), testSrc},
	} {
		if _, _, ok := buildTooBig(outBuf(tc.pkt), outHeadroom, len(tc.pkt), 1400, tc.src); ok {
			t.Errorf("%s: answered", name)
		}
	}
}

func TestOutboundTooBig(t *testing.T) {
	d := newTestDataplane(t, pe1State())
	d.mtu = 1400
	v := d.vrfs["red"]
	big := withDF(ipv4("10.1.0.2", "10.2.0.2", 63, 1500))
	if _, _, why := d.outbound(v, outBuf(big), outHeadroom, len(big)); why != dropTooBig {
		t.Errorf("DF packet over the MTU: drop %d, want dropTooBig", why)
	}
	frag := ipv4("10.1.0.2", "10.2.0.2", 63, 1500)
	if _, _, why := d.outbound(v, outBuf(frag), outHeadroom, len(frag)); why != dropNone {
		t.Errorf("packet without DF over the MTU: drop %d, want sent", why)
	}
	if got := v.stats().OutDrops.TooBig; got != 1 {
		t.Errorf("too-big drops %d, want 1", got)
	}
}

func TestBuildTooBigAllocs(t *testing.T) {
	orig := ipv6("fd00:1::2", "fd00:2::2", 63, 1500)
	buf := outBuf(orig)
	assertNoAllocs(t, "buildTooBig", func() {
		copy(buf[outHeadroom:], orig[:48])
		if _, _, ok := buildTooBig(buf, outHeadroom, len(orig), 1400, testSrc); !ok {
			t.Fatal("not built")
		}
	})
}
