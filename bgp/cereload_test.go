package bgp

// A reload's reach over CE sessions, one PE over loopback:
//
//	ceA 127.0.0.3 AS 65101 --- red  --.
//	ceC 127.0.0.5 AS 65103 --- red  --+-- PE 127.0.0.1 AS 65000
//	ceB 127.0.0.4 AS 65102 --- blue --'
//
// Each CE's own view of its session (GoBGP's uptime on the CE side) is
// the oracle for "not reset"; the PE's flap counts must agree with it.

import (
	"context"
	"maps"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// ceSideUptime is when the CE's session with the PE (127.0.0.1) last
// became established, as the CE sees it; zero while it is not.
func ceSideUptime(t *testing.T, ce *server.BgpServer) time.Time {
	t.Helper()
	var up time.Time
	err := ce.ListPeer(context.Background(), &api.ListPeerRequest{Address: "127.0.0.1"}, func(p *api.Peer) {
		if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			up = p.GetTimers().GetState().GetUptime().AsTime()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return up
}

// waitCESide polls until the CE's session is established since after
// (when after is not zero) or, with after zero, down.
func waitCESide(t *testing.T, name string, ce *server.BgpServer, after time.Time, down bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		up := ceSideUptime(t, ce)
		if down && up.IsZero() || !down && !up.IsZero() && up.After(after) {
			return up
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: session never %s", name, map[bool]string{true: "down", false: "re-established after " + after.String()}[down])
	return time.Time{}
}

// TestCEReloadTouchesOnlyWhatChanged: adding a CE to red resets neither
// red's other CE nor blue's; changing one CE's as-override and
// max-prefixes re-creates that session alone; removing a CE closes
// only its session and withdraws its routes, from the VPN and from the
// VRF's other CEs.
func TestCEReloadTouchesOnlyWhatChanged(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pa, pb, pc := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4"), freePort(t, "127.0.0.5")
	ceA := newTestCE(t, testCEConfig{addr: "127.0.0.3", port: pa, pe: "127.0.0.1", asn: 65101})
	ceB := newTestCE(t, testCEConfig{addr: "127.0.0.4", port: pb, pe: "127.0.0.1", asn: 65102})
	ceC := newTestCE(t, testCEConfig{addr: "127.0.0.5", port: pc, pe: "127.0.0.1", asn: 65103})
	ceAnnounce(t, ceA, "10.3.0.0/24", false)
	ceAnnounce(t, ceB, "10.4.0.0/24", false)
	ceAnnounce(t, ceC, "10.5.0.0/24", false)
	base := ceBase()
	s := startSpeaker(t, &base)
	ceOnLoopback(t, s, "red", "blue")
	a, b, c := loopbackCE("127.0.0.3", pa, 65101), loopbackCE("127.0.0.4", pb, 65102), loopbackCE("127.0.0.5", pc, 65103)

	applyCEs(t, s, base, map[string][]CENeighbor{"red": {a}, "blue": {b}})
	upA := waitCESide(t, "ceA", ceA, time.Time{}, false)
	upB := waitCESide(t, "ceB", ceB, time.Time{}, false)
	waitVPN(t, s, "65000:1 10.3.0.0/24", []string{"{AsPath: 65101}"})
	waitVPN(t, s, "65000:2 10.4.0.0/24", []string{"{AsPath: 65102}"})

	ces := map[string]*server.BgpServer{"ceA": ceA, "ceB": ceB, "ceC": ceC}
	// unchanged checks that the sessions in want kept their CE-side
	// uptime, and that the PE counted the flaps in flaps, no more.
	unchanged := func(step string, want map[string]time.Time, flaps map[string]uint64) {
		t.Helper()
		for name, up := range want {
			if got := ceSideUptime(t, ces[name]); !got.Equal(up) {
				t.Errorf("%s: %s's session was reset: established %v, before %v", step, name, got, up)
			}
		}
		all, err := s.AllCENeighbors(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		for _, n := range all {
			got[n.VRF+" "+n.Address.String()] = n.Flaps
		}
		if !maps.Equal(got, flaps) {
			t.Errorf("%s: flaps %v, want %v", step, got, flaps)
		}
	}

	// 1. A CE added to red.
	applyCEs(t, s, base, map[string][]CENeighbor{"red": {a, c}, "blue": {b}})
	upC := waitCESide(t, "ceC", ceC, time.Time{}, false)
	waitVPN(t, s, "65000:1 10.5.0.0/24", []string{"{AsPath: 65103}"})
	waitCE(t, ceA, "ceA", "10.5.0.0/24", "65000 65103")
	unchanged("adding ceC", map[string]time.Time{"ceA": upA, "ceB": upB},
		map[string]uint64{"red 127.0.0.3": 0, "red 127.0.0.5": 0, "blue 127.0.0.4": 0})

	// 2. ceA's policy changes: its session alone is re-created.
	a2 := a
	a2.ASOverride, a2.MaxPrefixes = true, 100
	applyCEs(t, s, base, map[string][]CENeighbor{"red": {a2, c}, "blue": {b}})
	upA2 := waitCESide(t, "ceA", ceA, upA, false)
	waitCENeighbor(t, s, "red", "127.0.0.3", "re-established after one flap", func(n CENeighborStatus) bool { return ceEstablished(n) && n.Flaps == 1 })
	unchanged("changing ceA's policy", map[string]time.Time{"ceB": upB, "ceC": upC},
		map[string]uint64{"red 127.0.0.3": 1, "red 127.0.0.5": 0, "blue 127.0.0.4": 0})

	// 3. ceC removed: its session closes, its route leaves the VPN and
	// ceA; ceA and ceB stay up.
	applyCEs(t, s, base, map[string][]CENeighbor{"red": {a2}, "blue": {b}})
	waitCESide(t, "ceC", ceC, time.Time{}, true)
	waitVPN(t, s, "65000:1 10.5.0.0/24", nil)
	waitCE(t, ceA, "ceA", "10.5.0.0/24", "")
	unchanged("removing ceC", map[string]time.Time{"ceA": upA2, "ceB": upB},
		map[string]uint64{"red 127.0.0.3": 1, "blue 127.0.0.4": 0})
	routes, _, err := s.CERoutes(context.Background(), "red", "ipv4")
	if err != nil || len(routes.Learned) != 1 || routes.Learned[0].Prefix.String() != "10.3.0.0/24" ||
		len(routes.Advertised) != 1 || routes.Advertised[0].Prefix.String() != testLinkPrefix {
		t.Errorf("red's CE routes after removing ceC: %+v, %v", routes, err)
	}
	waitVPN(t, s, "65000:1 10.3.0.0/24", []string{"{AsPath: 65101}"})
	waitVPN(t, s, "65000:2 10.4.0.0/24", []string{"{AsPath: 65102}"})
}
