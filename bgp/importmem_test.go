package bgp

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// maxImportBytesPerRoute bounds the live heap a VRF's imported route costs
// Peregrine, above what GoBGP's RIB holds for its path. make bench-bgp
// reads gobgpd's own RIB at about 890 B/route live and 1300 B/route in
// spans at 100,000 routes, peregrined's heap at about 35 B/route above
// gobgpd's: this is Peregrine's whole share, and a per-route map of
// strings or a second copy of the path would be several times it.
const maxImportBytesPerRoute = 48

// TestImportBytesPerRoute imports a VPNv4 table the shape of make
// bench-bgp's (10.a.b.0/24 then /32s, one RD, one route target, one
// remote PE, per-prefix labels) into one VRF and holds the live heap it
// adds per route to maxImportBytesPerRoute, and what an import allocates
// per route, beyond the table's growth, to none.
func TestImportBytesPerRoute(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds to every allocation")
	}
	const n = 100_000
	rt := vpn.MustParseRT("65000:100")
	rd := vpn.MustParseRD("65000:100")
	nh := netip.MustParseAddr("127.0.0.11")
	rts := []vpn.RT{rt}
	pathAt := func(i int) vpnPath {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		if i >= 1<<16 {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		}
		return vpnPath{key: pathKey{rd: rd, prefix: p}, nextHop: nh, label: mpls.Label(100 + i%1000), rts: rts}
	}
	var events int
	im := newImporter(func(Event) { events++ }, func() []vpnPath { return nil })
	im.setVRF("bench", rts)

	before := liveHeap()
	for i := range n {
		im.update(pathAt(i))
	}
	after := liveHeap()
	if got := im.table("bench").len(); got != n || events != n {
		t.Fatalf("VRF holds %d routes after %d events, want %d", got, events, n)
	}
	perRoute := float64(after-before) / n
	t.Logf("%.1f B/route live", perRoute)
	if perRoute > maxImportBytesPerRoute {
		t.Errorf("importing %d routes holds %.1f B/route live, want at most %d", n, perRoute, maxImportBytesPerRoute)
	}

	// Re-announcing a known route (a changed label) reuses its slot.
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		p := pathAt(i % n)
		p.label++
		im.update(p)
		i++
	})
	if allocs != 0 {
		t.Errorf("re-importing a known route: %.1f allocations, want 0", allocs)
	}
	runtime.KeepAlive(im)
}
