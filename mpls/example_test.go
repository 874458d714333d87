package mpls_test

import (
	"fmt"
	"net/netip"

	"github.com/peregrine-net/peregrine/mpls"
)

// An ingress PE imposes a VPN label and a transport label on a customer's
// IPv4 packet, in place, in the headroom of its buffer.
func Example_imposition() {
	ip := []byte{
		0x45, 0x00, 0x00, 0x14, 0x00, 0x00, 0x40, 0x00, // IPv4, 20 bytes, DF
		0x40, 0x01, 0x4e, 0xb3, 0xc0, 0x00, 0x02, 0x01, // TTL 64, ICMP, checksum, 192.0.2.1
		0xc6, 0x33, 0x64, 0x01, // 198.51.100.1
	}
	const headroom = 2 * mpls.EntrySize // room for two labels
	buf := make([]byte, headroom+len(ip))
	off := headroom
	copy(buf[off:], ip)

	ttl, err := mpls.IngressTTL(mpls.DefaultTTLMode, buf[off:])
	if err != nil {
		panic(err)
	}
	off, _ = mpls.Push(buf, off, 1000, 0, ttl, true)   // VPN label, bottom of stack
	off, _ = mpls.Push(buf, off, 24000, 0, ttl, false) // transport label

	stack, _ := mpls.ParseStack(buf[off:])
	for i := range stack.Depth() {
		fmt.Println(stack.Entry(i).Entry())
	}
	fmt.Printf("% x\n", buf[off:off+8])
	// Output:
	// label 24000, tc 0, ttl 63
	// label 1000, tc 0, [S], ttl 63
	// 05 dc 00 3f 00 3e 81 3f
}

// A PE allocates per-VRF and per-prefix VPN labels for BGP to advertise.
func ExampleAllocator() {
	a, err := mpls.NewAllocator(mpls.Range{First: 1000, Last: 1999})
	if err != nil {
		panic(err)
	}
	blue, _ := a.ForVRF("blue")
	host, _ := a.ForPrefix("blue", netip.MustParsePrefix("10.1.1.1/32"))
	again, _ := a.ForVRF("blue")
	b, _ := a.Lookup(host)
	fmt.Println(blue, host, again, b)
	// Output: 1000 1001 1000 vrf "blue" prefix 10.1.1.1/32
}
