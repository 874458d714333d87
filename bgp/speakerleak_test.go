package bgp

// A stopped GoBGP server is never freed (GoBGP v3.37.0 never ends its
// Serve goroutine), so whatever it still holds when stopped stays on the
// heap for good: releaseRIB (shutdown.go) empties it. These tests hold
// the heap, after a GC, against a baseline: a Speaker stopped, and a
// VRF's CE server stopped by reloads, give back what their routes took.

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// leakRoutes is how many static routes the tests give VRF red: enough
// that a leak of them stands well above the heap's noise.
const leakRoutes = 20000

// liveHeap is the heap's live bytes after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC() // the first one's finalizers may free more
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// skipWithoutRelease skips the tests where stopGoBGP does not release
// RIBs (race builds) and in short mode.
func skipWithoutRelease(t *testing.T) {
	t.Helper()
	if !releaseRIBs {
		t.Skip("race build: releaseRIB is off under the race detector (ribrelease_race.go); run without -race")
	}
	if testing.Short() {
		t.Skip("runs a speaker with 20000 routes")
	}
}

// leakConfig is ceBase with leakRoutes static routes in red.
func leakConfig() Config {
	cfg := ceBase()
	for i := range leakRoutes {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		cfg.VRFs[0].StaticRoutes = append(cfg.VRFs[0].StaticRoutes, p)
	}
	return cfg
}

// countPaths counts srv's destinations of family f.
func countPaths(t *testing.T, srv interface {
	ListPath(context.Context, *api.ListPathRequest, func(*api.Destination)) error
}, f *api.Family) int {
	t.Helper()
	n := 0
	err := srv.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: f},
		func(*api.Destination) { n++ })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	familyVPNv4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN}
	familyIPv4  = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
)

// waitCount polls count until it reaches want.
func waitCount(t *testing.T, what string, want int, count func() int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := count()
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d paths, want %d", what, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCEPaths waits until red's CE server holds the static routes as its
// own IPv4 paths, for its CEs.
func waitCEPaths(t *testing.T, s *Speaker) {
	t.Helper()
	waitCount(t, "red's CE server", leakRoutes, func() int {
		n := 0
		if err := s.do(func() error {
			if cs := s.ces["red"]; cs != nil {
				n = countPaths(t, cs.srv, familyIPv4)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	})
}

// TestStopReleasesRoutes: a Speaker with a VRF of leakRoutes static
// routes, exported as VPNv4 and held by the VRF's CE server for its CE,
// gives back its heap when stopped. Before releaseRIB, both GoBGP
// servers kept every path (about 1.2 KB a route here).
func TestStopReleasesRoutes(t *testing.T) {
	skipWithoutRelease(t)
	cfg := leakConfig()
	cfg.VRFs[0].Neighbors = []CENeighbor{loopbackCE("127.0.0.3", freePort(t, "127.0.0.3"), 65101)}
	base := liveHeap()
	events := make(chan Event, 1024)
	go func() {
		for range events {
		}
	}()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: testLogLevel}))
	s, err := Start(context.Background(), &cfg, log, events)
	if err != nil {
		t.Fatal(err)
	}
	ceOnLoopback(t, s, "red")
	waitCount(t, "the Speaker's VPNv4 RIB", leakRoutes, func() int { return countPaths(t, s.srv, familyVPNv4) })
	waitCEPaths(t, s)
	loaded := liveHeap()
	s.Stop()
	close(events)
	stopped := liveHeap()
	grew, kept := loaded-base, stopped-base
	t.Logf("heap: %d B before start, +%d B loaded (%d B/route), +%d B after Stop (%d B/route)",
		base, grew, grew/leakRoutes, kept, kept/leakRoutes)
	if grew < 200*leakRoutes {
		t.Fatalf("the routes took %d B/route: too little for this test to tell a leak", grew/leakRoutes)
	}
	if kept > grew/10 {
		t.Errorf("after Stop the heap kept %d of the %d B the routes took (%d B/route)", kept, grew, kept/leakRoutes)
	}
}

// TestCEServerRemovalReleasesRoutes: removing a VRF's CE neighbors stops
// its CE server, which held the VRF's leakRoutes static routes for its
// CE. Adding and removing the neighbor again and again must not leave
// those routes behind each time. Before releaseRIB each removal kept
// them all (about 600 B a route here): in peregrined, each reload that
// removed a VRF's CEs, or restarted its CE server (cepassive.go), kept
// the routes that server had sent its CEs, imported ones included.
func TestCEServerRemovalReleasesRoutes(t *testing.T) {
	skipWithoutRelease(t)
	const cycles = 3
	cfg := leakConfig()
	s := startSpeaker(t, &cfg)
	ceOnLoopback(t, s, "red")
	waitCount(t, "the Speaker's VPNv4 RIB", leakRoutes, func() int { return countPaths(t, s.srv, familyVPNv4) })
	ce := loopbackCE("127.0.0.3", freePort(t, "127.0.0.3"), 65101)
	cycle := func() {
		applyCEs(t, s, cfg, map[string][]CENeighbor{"red": {ce}})
		waitCEPaths(t, s)
		applyCEs(t, s, cfg, nil)
	}
	cycle() // the first CE server's one-time costs (policies, caches)
	base := liveHeap()
	for range cycles {
		cycle()
	}
	kept := liveHeap() - base
	t.Logf("heap after %d more CE server starts and stops: %+d B (%d B/route a cycle)", cycles, kept, kept/cycles/leakRoutes)
	if limit := int64(cycles * 50 * leakRoutes); kept > limit {
		t.Errorf("%d CE server starts and stops kept %d B (%d B/route a cycle), limit %d B",
			cycles, kept, kept/cycles/leakRoutes, limit)
	}
}
