package userspace

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/wire"
	"github.com/peregrine-net/peregrine/mpls"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

// testKey is aes128gcm16 key material (16-byte key, 4-byte salt) that
// differs by seed.
func testKey(seed byte) []byte {
	k := make([]byte, esp.AES128GCM16.KeyLen())
	for i := range k {
		k[i] = seed + byte(i)*7
	}
	return k
}

func sa(spi uint32, seed byte) *fib.SAParams {
	return &fib.SAParams{SPI: spi, Cipher: esp.AES128GCM16, Key: testKey(seed)}
}

// The two PEs of the unit tests. Red and blue use the same addresses; PE2
// gives red label 2001 and blue 2002, PE1 gives them 1001 and 1002.
var (
	pe1Addr = addr("192.0.2.1")
	pe2Addr = addr("192.0.2.2")
)

func remote(p string, pe netip.Addr, labels ...mpls.Label) fib.Route {
	return fib.Route{Prefix: pfx(p), Remote: pe, Labels: labels}
}

func local(p, ifname string) fib.Route {
	return fib.Route{Prefix: pfx(p), Interface: ifname}
}

func vrfOf(name string, table uint32, routes ...fib.Route) *fib.VRF {
	v := &fib.VRF{Name: name, Table: table, Interfaces: []string{name}, Routes: map[netip.Prefix]fib.Route{}}
	for _, r := range routes {
		v.Routes[r.Prefix] = r
	}
	return v
}

// pe1State is PE1's State: local 10.1.0.0/24 and fd00:1::/64 (red only),
// remote 10.2.0.0/24 in both VRFs and fd00:2::/64 in red behind PE2, and
// 10.9.9.9/32 in blue only; one tunnel with SAs out 0x1001 and in 0x2001.
// The netns test runs it too.
func pe1State() *fib.State {
	return &fib.State{
		LocalAddress: pe1Addr,
		VRFs: map[string]*fib.VRF{
			"red": vrfOf("red", 101, local("10.1.0.0/24", "red"), local("fd00:1::/64", "red"),
				remote("10.2.0.0/24", pe2Addr, 2001), remote("fd00:2::/64", pe2Addr, 2001)),
			"blue": vrfOf("blue", 102, local("10.1.0.0/24", "blue"),
				remote("10.2.0.0/24", pe2Addr, 2002), remote("10.9.9.9/32", pe2Addr, 2002)),
		},
		Labels: map[mpls.Label]fib.LabelAction{
			1001: {Kind: fib.PopLookup, VRF: "red"},
			1002: {Kind: fib.PopLookup, VRF: "blue"},
		},
		Tunnels: map[netip.Addr]*fib.Tunnel{
			pe2Addr: {Remote: pe2Addr, UDP: true, Out: sa(0x1001, 1), In: sa(0x2001, 2)},
		},
	}
}

// pe2State mirrors pe1State.
func pe2State() *fib.State {
	return &fib.State{
		LocalAddress: pe2Addr,
		VRFs: map[string]*fib.VRF{
			"red": vrfOf("red", 101, local("10.2.0.0/24", "red"), local("fd00:2::/64", "red"),
				remote("10.1.0.0/24", pe1Addr, 1001), remote("fd00:1::/64", pe1Addr, 1001)),
			"blue": vrfOf("blue", 102, local("10.2.0.0/24", "blue"),
				fib.Route{Prefix: pfx("10.9.9.9/32"), Interface: "blue", NextHop: addr("10.2.0.2")},
				remote("10.1.0.0/24", pe1Addr, 1002)),
		},
		Labels: map[mpls.Label]fib.LabelAction{
			2001: {Kind: fib.PopLookup, VRF: "red"},
			2002: {Kind: fib.PopLookup, VRF: "blue"},
		},
		Tunnels: map[netip.Addr]*fib.Tunnel{
			pe1Addr: {Remote: pe1Addr, UDP: true, Out: sa(0x2001, 2), In: sa(0x1001, 1)},
		},
	}
}

func newTestDataplane(t testing.TB, s *fib.State) *dataplane {
	t.Helper()
	d := newDataplane(mpls.Uniform, nil, 0)
	if _, _, err := d.update(s, nil); err != nil {
		t.Fatalf("update: %v", err)
	}
	return d
}

// ipv4 returns an IPv4 packet of n bytes (n >= 28: header and an ICMP echo
// header) from src to dst with the given TTL and a valid header checksum.
func ipv4(src, dst string, ttl uint8, n int) []byte {
	p := make([]byte, n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(n))
	p[8], p[9] = ttl, 1 // ICMP
	s, d := addr(src).As4(), addr(dst).As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	binary.BigEndian.PutUint16(p[10:], wire.Checksum(p[:20]))
	p[20] = 8 // echo request
	for i := 28; i < n; i++ {
		p[i] = byte(i)
	}
	return p
}

// ipv6 returns an IPv6 packet of n bytes (n >= 48) from src to dst.
func ipv6(src, dst string, hops uint8, n int) []byte {
	p := make([]byte, n)
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(n-40))
	p[6], p[7] = 58, hops // ICMPv6
	s, d := addr(src).As16(), addr(dst).As16()
	copy(p[8:24], s[:])
	copy(p[24:40], d[:])
	p[40] = 128 // echo request
	return p
}

// outBuf returns a buffer laid out as the TUN reader's, holding pkt at
// outHeadroom.
func outBuf(pkt []byte) []byte {
	b := make([]byte, outBufSize(1500))
	copy(b[outHeadroom:], pkt)
	return b
}

// toWire wraps an ESP packet from outbound in the outer IPv4 and UDP
// headers the kernel would add, in place in front of it (the headroom is
// there for it), and returns the whole datagram as its buffer and offset.
func toWire(t testing.TB, buf, pkt []byte, from netip.Addr, to *tunnelOut) (off, n int) {
	t.Helper()
	espOff := cap(buf) - cap(pkt)
	start, err := wire.Encapsulate(buf, espOff, len(pkt), wire.Path{Src: from, Dst: to.remote, UDP: to.udp})
	if err != nil {
		t.Fatalf("Encapsulate: %v", err)
	}
	return start, espOff + len(pkt) - start
}

// dialIntoTUN routes prefix in the main table into vrf's TUN and returns
// a UDP socket (closed at the test's end) whose packets to addr take
// that route: what the idle-queue tests send into an idle VRF.
func dialIntoTUN(t *testing.T, vrf, prefix, addr string) *net.UDPConn {
	t.Helper()
	link, err := netlink.LinkByName(fib.TUNName(vrf))
	if err != nil {
		t.Fatal(err)
	}
	_, dst, _ := net.ParseCIDR(prefix)
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst}); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(addr), Port: 9})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
