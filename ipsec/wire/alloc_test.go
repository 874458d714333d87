package wire

import "testing"

// Sinks keep the compiler from optimizing the measured calls away.
var (
	sinkOuter Outer
	sinkBytes []byte
	sinkKind  Kind
	sinkInt   int
	sinkErr   error
)

// TestZeroAllocs holds the package to its promise: no allocation on any
// path, accepted packets and every kind of rejected one alike. A parser
// that allocates per garbage packet turns a flood into GC pressure.
func TestZeroAllocs(t *testing.T) {
	pkts := [][]byte{
		ipv4ESP, ipv4UDP, ipv4UDPChecksum, ipv6ESP, ipv6UDP, // accepted
		nil, {0x50}, ipv4ESP[:10], ipv6ESP[:50], // rejected
	}
	bad := append([]byte(nil), ipv4UDPChecksum...)
	bad[27]++
	pkts = append(pkts, bad)
	for _, pkt := range pkts {
		if n := testing.AllocsPerRun(100, func() {
			sinkOuter, sinkBytes, sinkKind, sinkErr = Decapsulate(pkt)
		}); n != 0 {
			t.Errorf("Decapsulate(% x...): %v allocs", pkt[:min(len(pkt), 8)], n)
		}
	}
	for _, c := range encapCases {
		buf := withHeadroom(MaxOuterHeaderLen, espBody)
		if n := testing.AllocsPerRun(100, func() {
			sinkInt, sinkErr = Encapsulate(buf, MaxOuterHeaderLen, len(espBody), c.path)
		}); n != 0 {
			t.Errorf("Encapsulate %s: %v allocs", c.name, n)
		}
	}
	buf := make([]byte, 64)
	if n := testing.AllocsPerRun(100, func() {
		sinkInt, sinkErr = Encapsulate(buf, 10, 16, Path{Src: src6, Dst: dst6})
	}); n != 0 || sinkErr != ErrHeadroom {
		t.Errorf("Encapsulate error path: %v allocs, err %v", n, sinkErr)
	}
	if n := testing.AllocsPerRun(100, func() {
		sinkKind, sinkBytes = Classify(ikeInit)
		sinkInt, sinkErr = PutNonESPMarker(buf, 2)
	}); n != 0 {
		t.Errorf("Classify/PutNonESPMarker: %v allocs", n)
	}
}
