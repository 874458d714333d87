package bgp

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"testing"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

type recorder struct{ got []string }

func (r *recorder) emit(e Event) { r.got = append(r.got, e.String()) }

func (r *recorder) take(t *testing.T, want ...string) {
	t.Helper()
	if !slices.Equal(r.got, want) {
		t.Errorf("events:\n got %q\nwant %q", r.got, want)
	}
	r.got = nil
}

// newTestImporter returns an importer and the function that feeds it a
// best-path change, keeping the remote best paths as GoBGP's RIB would for
// the importer's re-evaluation.
func newTestImporter(rec *recorder) (*importer, func(vpnPath)) {
	rib := map[pathKey]vpnPath{}
	im := newImporter(rec.emit, func() []vpnPath {
		var out []vpnPath
		for _, p := range rib {
			out = append(out, p)
		}
		return out
	})
	return im, func(p vpnPath) {
		switch {
		case p.withdraw:
			delete(rib, p.key)
		case !p.local:
			rib[p.key] = p
		}
		im.update(p)
	}
}

func path(rd, prefix, nh string, label uint32, rts ...string) vpnPath {
	p := vpnPath{
		key:     pathKey{rd: vpn.MustParseRD(rd), prefix: netip.MustParsePrefix(prefix)},
		nextHop: netip.MustParseAddr(nh),
		label:   mpls.MustLabel(label),
	}
	for _, rt := range rts {
		p.rts = append(p.rts, vpn.MustParseRT(rt))
	}
	return p
}

func rts(s ...string) []vpn.RT {
	var out []vpn.RT
	for _, x := range s {
		out = append(out, vpn.MustParseRT(x))
	}
	return out
}

func TestImportByRouteTarget(t *testing.T) {
	r := &recorder{}
	im, feed := newTestImporter(r)
	im.setVRF("red", rts("65000:1"))
	im.setVRF("blue", rts("65000:2"))
	r.take(t)

	feed(path("65000:1", "10.2.0.0/24", "10.0.0.2", 100, "65000:1"))
	r.take(t, "route-add vrf red 10.2.0.0/24 via 10.0.0.2 label 100 (rd 65000:1)")

	// Same customer prefix in blue, its own RD: lands in blue only.
	feed(path("65000:2", "10.2.0.0/24", "10.0.0.2", 200, "65000:2"))
	r.take(t, "route-add vrf blue 10.2.0.0/24 via 10.0.0.2 label 200 (rd 65000:2)")

	// A path with an RT no VRF imports: nothing.
	feed(path("65000:9", "10.9.0.0/24", "10.0.0.9", 900, "65000:9"))
	r.take(t)

	// RT change on the path: red loses it; blue gains it as a second
	// candidate, which wins the tie on next hop by its lower RD.
	feed(path("65000:1", "10.2.0.0/24", "10.0.0.2", 100, "65000:2"))
	r.take(t, "route-del vrf red 10.2.0.0/24",
		"route-add vrf blue 10.2.0.0/24 via 10.0.0.2 label 100 (rd 65000:1)")
	if routes, _ := im.routes("blue"); len(routes) != 1 || routes[0].Label != 100 {
		t.Errorf("blue: %v", routes)
	}

	// A lower next hop on the other candidate takes over.
	feed(path("65000:2", "10.2.0.0/24", "10.0.0.1", 201, "65000:2"))
	r.take(t, "route-add vrf blue 10.2.0.0/24 via 10.0.0.1 label 201 (rd 65000:2)")

	// Withdraw of the installed candidate falls back to the other.
	w := path("65000:2", "10.2.0.0/24", "10.0.0.1", 201)
	w.withdraw = true
	feed(w)
	r.take(t, "route-add vrf blue 10.2.0.0/24 via 10.0.0.2 label 100 (rd 65000:1)")

	// A VRF that starts importing 65000:9 picks up the path it skipped.
	im.setVRF("red", rts("65000:1", "65000:9"))
	r.take(t, "route-add vrf red 10.9.0.0/24 via 10.0.0.9 label 900 (rd 65000:9)")

	im.removeVRF("red")
	r.take(t, "route-del vrf red 10.9.0.0/24")
	if _, ok := im.routes("red"); ok {
		t.Error("removed VRF still has a table")
	}
}

func TestLocalPathsAreNotImported(t *testing.T) {
	r := &recorder{}
	im, feed := newTestImporter(r)
	im.setVRF("red", rts("65000:1"))
	p := path("65000:1", "10.1.0.0/24", "0.0.0.0", 100, "65000:1")
	p.local = true
	feed(p)
	r.take(t)
}

func TestCandidateChoiceIgnoresArrivalOrder(t *testing.T) {
	a := path("65000:1", "10.5.0.0/24", "10.0.0.3", 300, "65000:1")
	b := path("65000:7", "10.5.0.0/24", "10.0.0.4", 400, "65000:1")
	var final []string
	for _, order := range [][]vpnPath{{a, b}, {b, a}} {
		r := &recorder{}
		im, feed := newTestImporter(r)
		im.setVRF("red", rts("65000:1"))
		for _, p := range order {
			feed(p)
		}
		routes, _ := im.routes("red")
		final = append(final, fmt.Sprint(routes))
	}
	if final[0] != final[1] {
		t.Errorf("order changes the result: %s vs %s", final[0], final[1])
	}
}

// BenchmarkImportTable imports b.N distinct /32s into one VRF and reports
// the live heap the VRF table holds per prefix, the importer's share of
// the memory a route costs (GoBGP's RIB holds the rest), and asserts that
// importing allocates nothing per route beyond table growth.
func BenchmarkImportTable(b *testing.B) {
	rt, _ := vpn.ParseRT("65000:1")
	rd, _ := vpn.ParseRD("65000:1")
	im := newImporter(func(Event) {}, func() []vpnPath { return nil })
	im.setVRF("red", []vpn.RT{rt})
	rts := []vpn.RT{rt}
	nh := netip.MustParseAddr("192.0.2.1")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		im.update(vpnPath{key: pathKey{rd: rd, prefix: netip.PrefixFrom(a, 32)}, nextHop: nh, label: mpls.Label(16 + i%1000), rts: rts})
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := im.table("red").len(); n != b.N {
		b.Fatalf("table holds %d prefixes, want %d", n, b.N)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heapB/prefix")
	runtime.KeepAlive(im)
}
