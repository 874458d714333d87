package mpls

// Benchmarks for the per-packet operations. Each reports allocations, which
// must stay at 0 (TestPacketPathAllocs enforces it).

import "testing"

func BenchmarkPush(b *testing.B) {
	buf := make([]byte, 2048)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Push(buf, 64, 1000, 0, 64, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPop(b *testing.B) {
	buf := make([]byte, 2048)
	EncodeEntry(buf[64:], 1000, 0, true, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := Pop(buf, 64, 1500); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSwap(b *testing.B) {
	pkt := make([]byte, 1500)
	EncodeEntry(pkt, 24000, 0, false, 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := Swap(pkt, 24001); err != nil {
			b.Fatal(err)
		}
		pkt[3] = 64 // undo the TTL decrement so the loop never expires
	}
}

func BenchmarkParseStack(b *testing.B) {
	pkt := append([]byte{
		0x05, 0xdc, 0x00, 0x3f, // label 24000, TC 0, S=0, TTL 63
		0x00, 0x3e, 0x81, 0x3f, // label 1000, TC 0, S=1, TTL 63
	}, make([]byte, 1492)...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStack(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEgressTTL(b *testing.B) {
	pkt := ipv4Header()
	b.ReportAllocs()
	for b.Loop() {
		if err := EgressTTL(Uniform, 50, pkt); err != nil {
			b.Fatal(err)
		}
		pkt[ipv4TTLOffset] = 64 // checksum drifts; EgressTTL does not check it
	}
}

func BenchmarkAllocatorForVRFBound(b *testing.B) {
	a, _ := NewAllocator(Range{16, MaxLabel})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.ForVRF("blue"); err != nil {
			b.Fatal(err)
		}
	}
}
