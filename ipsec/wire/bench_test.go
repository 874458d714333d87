package wire

import "testing"

// benchPaths cover the four outer shapes; IPv6 UDP is the expensive one,
// because its checksum reads every byte of the ESP packet.
var benchPaths = []struct {
	name string
	p    Path
}{
	{"IPv4", Path{Src: src4, Dst: dst4}},
	{"IPv4-UDP", Path{Src: src4, Dst: dst4, UDP: true}},
	{"IPv4-UDP-checksum", Path{Src: src4, Dst: dst4, UDP: true, UDPChecksum: true}},
	{"IPv6", Path{Src: src6, Dst: dst6}},
	{"IPv6-UDP", Path{Src: src6, Dst: dst6, UDP: true}},
}

const benchESPLen = 1400

func benchESP() []byte {
	esp := make([]byte, benchESPLen)
	esp[3] = 1 // SPI 1
	return esp
}

func BenchmarkEncapsulate(b *testing.B) {
	for _, c := range benchPaths {
		b.Run(c.name, func(b *testing.B) {
			buf := withHeadroom(MaxOuterHeaderLen, benchESP())
			b.ReportAllocs()
			b.SetBytes(benchESPLen)
			for b.Loop() {
				if _, err := Encapsulate(buf, MaxOuterHeaderLen, benchESPLen, c.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecapsulate(b *testing.B) {
	for _, c := range benchPaths {
		b.Run(c.name, func(b *testing.B) {
			buf := withHeadroom(MaxOuterHeaderLen, benchESP())
			off, err := Encapsulate(buf, MaxOuterHeaderLen, benchESPLen, c.p)
			if err != nil {
				b.Fatal(err)
			}
			pkt := buf[off:]
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				if _, _, _, err := Decapsulate(pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecapsulateGarbage measures the drop path: a flood of
// non-IP bytes must cost nanoseconds and no allocations.
func BenchmarkDecapsulateGarbage(b *testing.B) {
	pkt := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 50, 0xde, 0xad, 192, 0, 2, 1, 192, 0, 2, 2}
	b.ReportAllocs()
	for b.Loop() {
		Decapsulate(pkt)
	}
}
