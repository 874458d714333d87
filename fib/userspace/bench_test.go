package userspace

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/mpls"
)

// Benchmarks:
//
//	go test -run='^$' -bench=. -benchmem ./fib/userspace/
//
// BenchmarkLookup looks random addresses up in a VRF of a million routes;
// BenchmarkTable builds and updates such a table; BenchmarkOutbound and
// BenchmarkInbound run the per-packet functions on 1400-byte packets.

const (
	bigRoutes = 1_000_000
	bigV6     = 50_000 // of bigRoutes
)

// bigVRF is a VRF of bigRoutes routes: IPv4 prefixes /8 to /32, weighted
// toward /24 as Internet tables are, and some IPv6 /32 to /64, spread over
// 16 remote PEs with a label per PE. Built once per test binary.
var bigVRF = sync.OnceValue(func() *fib.VRF {
	r := rand.New(rand.NewPCG(1, 2))
	v := &fib.VRF{Name: "big", Table: 100, Routes: make(map[netip.Prefix]fib.Route, bigRoutes)}
	for len(v.Routes) < bigRoutes {
		var p netip.Prefix
		if len(v.Routes) < bigV6 {
			var a [16]byte
			a[0], a[1] = 0x20, 0x01
			for i := 2; i < 8; i++ {
				a[i] = byte(r.Uint32())
			}
			p = netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(33)).Masked()
		} else {
			bits := 24
			switch x := r.IntN(100); {
			case x < 10:
				bits = 8 + r.IntN(8)
			case x < 40:
				bits = 16 + r.IntN(8)
			case x < 95:
				bits = 24
			default:
				bits = 25 + r.IntN(8)
			}
			var a [4]byte
			u := r.Uint32()
			a[0], a[1], a[2], a[3] = byte(u>>24), byte(u>>16), byte(u>>8), byte(u)
			p = netip.PrefixFrom(netip.AddrFrom4(a), bits).Masked()
		}
		pe := netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + r.IntN(16))})
		v.Routes[p] = fib.Route{Prefix: p, Remote: pe, Labels: []mpls.Label{mpls.Label(1000 + int(pe.As4()[3]))}}
	}
	return v
})

func bigTable(b *testing.B) (*dataplane, *routeTable) {
	b.Helper()
	d := newDataplane(mpls.Uniform, nil, 0)
	t, errs := d.buildTable(nil, nil, bigVRF())
	if len(errs) > 0 {
		b.Fatal(errs[0])
	}
	return d, t
}

// lookupAddrs are random addresses, 9 in 10 of them IPv4.
func lookupAddrs(n int) []netip.Addr {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]netip.Addr, n)
	for i := range out {
		if i%10 == 9 {
			var a [16]byte
			a[0], a[1] = 0x20, 0x01
			for j := 2; j < 16; j++ {
				a[j] = byte(r.Uint32())
			}
			out[i] = netip.AddrFrom16(a)
			continue
		}
		u := r.Uint32()
		out[i] = netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
	}
	return out
}

// BenchmarkLookup: "random" spreads lookups over 64Ki addresses, so most
// miss the CPU caches (the trie is tens of MiB); "flows" cycles through 256
// addresses, as a busy link's active flows do.
func BenchmarkLookup(b *testing.B) {
	_, t := bigTable(b)
	for _, c := range []struct {
		name string
		n    int
	}{{"random", 1 << 16}, {"flows", 256}} {
		b.Run(c.name, func(b *testing.B) {
			addrs := lookupAddrs(c.n)
			b.ReportAllocs()
			hits, i := 0, 0
			for b.Loop() {
				if _, ok := t.Lookup(addrs[i&(len(addrs)-1)]); ok {
					hits++
				}
				i++
			}
			b.ReportMetric(float64(hits)/float64(i), "hit-ratio")
		})
	}
}

// BenchmarkTable measures building a million-route table from scratch
// (and the heap it holds), and the copy-on-write update of one route in
// it that Apply publishes.
func BenchmarkTable(b *testing.B) {
	v := bigVRF()
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		var heap uint64
		for b.Loop() {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			d := newDataplane(mpls.Uniform, nil, 0)
			t, _ := d.buildTable(nil, nil, v)
			runtime.GC()
			runtime.ReadMemStats(&m1)
			heap = m1.HeapAlloc - m0.HeapAlloc
			runtime.KeepAlive(t)
		}
		b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	})
	b.Run("update-one", func(b *testing.B) {
		d, t := bigTable(b)
		next := &fib.VRF{Name: v.Name, Table: v.Table, Routes: make(map[netip.Prefix]fib.Route, len(v.Routes)+1)}
		for p, r := range v.Routes {
			next.Routes[p] = r
		}
		p := netip.MustParsePrefix("198.51.100.0/24")
		next.Routes[p] = fib.Route{Prefix: p, Remote: netip.MustParseAddr("192.0.2.10"), Labels: []mpls.Label{1010}}
		b.ReportAllocs()
		// The diff walks both maps (it does not know which route
		// changed); persist is the trie update alone.
		b.Run("diff+persist", func(b *testing.B) {
			for b.Loop() {
				d.buildTable(t, v, next)
			}
		})
		b.Run("persist", func(b *testing.B) {
			b.ReportAllocs()
			var errs []error
			hop := d.ref(next.Routes[p], &errs)
			if hop == nil {
				b.Fatal(errs)
			}
			for b.Loop() {
				t.InsertPersist(p, hop)
			}
		})
	})
}

// The per-packet benchmarks run PE1's outbound and PE2's inbound on 1400-
// byte IPv4 packets (SetBytes counts the inner packet), AES-128-GCM.

func BenchmarkOutbound(b *testing.B) {
	d := newTestDataplane(b, pe1State())
	v := d.vrfs["red"]
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 1400)
	buf := outBuf(inner)
	b.SetBytes(int64(len(inner)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf[outHeadroom:], inner[:20]) // Seal encrypted the last one's header
		if _, _, why := d.outbound(v, buf, outHeadroom, len(inner)); why != dropNone {
			b.Fatal(why)
		}
	}
}

// BenchmarkInbound opens a ring of packets sealed by PE1. Each op copies
// the packet into the work buffer first (Open decrypts in place), as the
// esp benchmarks do; between rings, outside the timer, both SAs start over
// so that the sequence numbers are fresh for the replay window.
func BenchmarkInbound(b *testing.B) {
	const ring = 512
	pe2 := newTestDataplane(b, pe2State())
	inner := ipv4("10.1.0.2", "10.2.0.2", 63, 1400)
	pkts := make([][]byte, ring)
	espOff := 0
	refill := func() {
		pe1 := newTestDataplane(b, pe1State())
		pe2.spis.Remove(0x1001)
		delete(pe2.inSAs, 0x1001)
		if errs := pe2.updateTunnels(pe2State()); len(errs) > 0 {
			b.Fatal(errs[0])
		}
		for i := range pkts {
			buf := outBuf(inner)
			pkt, _, _ := pe1.outbound(pe1.vrfs["red"], buf, outHeadroom, len(inner))
			espOff = cap(buf) - cap(pkt)
			pkts[i] = buf[:espOff+len(pkt)]
		}
	}
	work := make([]byte, inBufSize)
	b.SetBytes(int64(len(inner)))
	b.ReportAllocs()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		if i%ring == 0 {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		p := pkts[i%ring]
		copy(work[espOff:], p[espOff:])
		if _, _, _, why := pe2.inbound(work, espOff, len(p)-espOff); why != dropNone {
			b.Fatal(fmt.Sprint("drop ", why))
		}
	}
}
