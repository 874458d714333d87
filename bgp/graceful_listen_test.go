package bgp

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestGracefulRestartHelperKeepsRoutesAtEndListen: a neighbor whose
// session came up while the just-started speaker only listened
// (startlisten.go), and which then restarts, keeps its stale routes when
// the listening time ends. Seen in labs/interop's FRR reflector test: the
// reflector was killed 5 s after the PEs started, and 3 s later each PE
// switched the neighbor to dialing by deleting and adding it again, which
// dropped the routes graceful restart was keeping.
//
//	speaker 127.0.0.1 (listens first) <-- gobgpd 127.0.0.3 dials, GR, then -9
func TestGracefulRestartHelperKeepsRoutesAtEndListen(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gobgpd over loopback")
	}
	if raceEnabled {
		t.Skip("GoBGP v3.37.0 races marking paths stale against its own watcher (TestGracefulRestartHelperKeepsRoutes)")
	}
	p1, p3 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.3")
	g := startTestGoBGPd(t, p3, p1, true)
	conf, err := os.ReadFile(g.conf)
	if err != nil {
		t.Fatal(err)
	}
	// gobgpd dials: the speaker is still only listening (startListen).
	if err := os.WriteFile(g.conf, []byte(strings.Replace(string(conf), "passive-mode = true", "passive-mode = false", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pe := startSpeaker(t, grSpeakerConfig(t, p1, p3, true))
	g.start(false)
	g.announce("10.9.1.0/24", 3001)
	want := "10.9.1.0/24 via 127.0.0.3 label 3001 rd 65000:9; "
	waitRoutes(t, pe, "red", want)
	g.kill()
	time.Sleep(500 * time.Millisecond) // GoBGP sees the connection close and keeps the routes as stale
	if time.Since(start) >= startListen {
		t.Skipf("the session came up and went down %v after the start, past startListen (%v): a loaded host", time.Since(start), startListen)
	}

	// The listening time ends while gobgpd is down.
	if err := pe.do(func() error { pe.endListen(t.Context()); return nil }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	routes, _, err := pe.VRFRoutes("red")
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 1 {
		t.Fatalf("vrf red after the listening time ended with the neighbor restarting: %v, want %s", routes, want)
	}

	// gobgpd comes back, dials the speaker, which still listens, and
	// announces the route again: it never left.
	g.start(true)
	g.announce("10.9.1.0/24", 3001)
	waitRoutes(t, pe, "red", want)
}
