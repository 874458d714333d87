package fib

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	"github.com/peregrine-net/peregrine/mpls"
)

// idleHeapVRFs is how many VRFs TestIdleVRFHeap holds, as many as
// `make bench-scale` brings up at its largest (issue 23).
const idleHeapVRFs = 2000

// maxIdleVRFDesiredHeap bounds what the reconciler's desired state and
// the State built from it hold for one idle VRF of the scale bench: a CE
// interface with its connected prefix, ten static routes, one imported
// route. Each route is held once in the State a backend is given; the
// VRF's configured and connected routes are not kept a second time.
const maxIdleVRFDesiredHeap = 4 << 10

func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestIdleVRFHeap (issue 23: at most 64 KB of RSS per idle VRF): the heap
// the desired state and its State hold per idle VRF.
func TestIdleVRFHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 2,000 VRFs")
	}
	cfg := Config{}
	for i := range idleHeapVRFs {
		vc := VRFConfig{Name: fmt.Sprintf("v%d", i), Interfaces: []string{fmt.Sprintf("ce%d", i)}}
		link := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 30)
		ce := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 2})
		vc.StaticRoutes = append(vc.StaticRoutes, StaticRoute{Prefix: link})
		for j := range 9 {
			vc.StaticRoutes = append(vc.StaticRoutes, StaticRoute{Prefix: netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", j)), NextHop: ce})
		}
		cfg.VRFs = append(cfg.VRFs, vc)
	}
	heap0 := liveHeap()
	d := newDesired(1000)
	d.setConfig(cfg, 1)
	for i, vc := range cfg.VRFs {
		d.setConnected(vc.Name, []Connected{{Interface: vc.Interfaces[0], Prefix: vc.StaticRoutes[0].Prefix}})
		d.updateRoute(RouteUpdate{VRF: vc.Name, Prefix: netip.MustParsePrefix("192.168.0.0/24"),
			Remote: netip.AddrFrom4([4]byte{10, 255, 0, 2}), Labels: []mpls.Label{mpls.Label(1000 + i)}})
	}
	s := d.build(&State{})
	perVRF := (liveHeap() - heap0) / idleHeapVRFs
	t.Logf("desired state and State per idle VRF: %d B", perVRF)
	if got := len(s.VRFs["v7"].Routes); got != 11 {
		t.Fatalf("v7 has %d routes, want 11 (10 local, 1 imported)", got)
	}
	if perVRF > maxIdleVRFDesiredHeap {
		t.Errorf("an idle VRF holds %d B in the reconciler, want at most %d B", perVRF, maxIdleVRFDesiredHeap)
	}
	runtime.KeepAlive(d)
	runtime.KeepAlive(s)
}
