package bgp

// Peregrine as the graceful-restart helper of a gobgpd that restarts,
// over loopback:
//
//	speaker 127.0.0.1:PORT1 (AS 65000) <-- iBGP vpnv4, GR --> gobgpd 127.0.0.3:PORT3
//	  red imports 65000:1                                      10.9.1.0/24, 10.9.2.0/24 rt 65000:1
//
// gobgpd is killed (-9) and started again with -r (restart state); it
// announces 10.9.1.0/24 again but not 10.9.2.0/24. Through the restart
// red keeps both; after gobgpd's End-of-RIB it drops 10.9.2.0/24 only.
// Without graceful restart the same kill empties red at once, which shows
// the test can fail.
//
// gobgpd is passive: two GoBGP speakers that both reconnect after a flap
// fall into step, each dialling while the other sits out its 5 s idle
// hold and refuses, and can take minutes to meet.

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// gobgpdTool is bin/tools/gobgpd (make tools), or the test is skipped.
func gobgpdTool(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "bin", "tools", name))
	if err == nil {
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("needs %s (make tools): %v", name, err)
	return ""
}

type testGoBGPd struct {
	t        *testing.T
	bin, cli string
	conf     string
	api      int
	cmd      *exec.Cmd
	log      *syncBuilder
}

// syncBuilder is a strings.Builder that gobgpd's output copier and the
// test may use at once.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (g *testGoBGPd) start(restarting bool) {
	g.t.Helper()
	args := []string{"-f", g.conf, "--config-strict", "-p", "--pprof-disable", "--api-hosts", "127.0.0.1:" + strconv.Itoa(g.api)}
	if restarting {
		args = append(args, "-r")
	}
	g.cmd = exec.Command(g.bin, args...)
	g.log = &syncBuilder{}
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	cmd := g.cmd
	g.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := g.gobgp("global"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("gobgpd API did not answer:\n%s", g.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (g *testGoBGPd) gobgp(args ...string) ([]byte, error) {
	return exec.Command(g.cli, append([]string{"-u", "127.0.0.1", "-p", strconv.Itoa(g.api)}, args...)...).CombinedOutput()
}

func (g *testGoBGPd) announce(prefix string, label int) {
	g.t.Helper()
	if out, err := g.gobgp("global", "rib", "-a", "vpnv4", "add", prefix, "label", strconv.Itoa(label),
		"rd", "65000:9", "rt", "65000:1", "nexthop", "127.0.0.3"); err != nil {
		g.t.Fatalf("gobgp add %s: %v\n%s", prefix, err, out)
	}
}

func (g *testGoBGPd) kill() {
	_ = g.cmd.Process.Kill()
	_ = g.cmd.Wait()
}

func startTestGoBGPd(t *testing.T, port, peerPort int, gr bool) *testGoBGPd {
	g := &testGoBGPd{t: t, bin: gobgpdTool(t, "gobgpd"), cli: gobgpdTool(t, "gobgp")}
	l := freePort(t, "127.0.0.1")
	g.api = l
	grConf := ""
	mpgr := ""
	if gr {
		grConf = "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 30\n    notification-enabled = true\n"
		mpgr = "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n"
	}
	conf := fmt.Sprintf(`[global.config]
  as = 65000
  router-id = "3.3.3.3"
  port = %d
  local-address-list = ["127.0.0.3"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = 65000
  [neighbors.transport.config]
    local-address = "127.0.0.3"
    remote-port = %d
    passive-mode = true
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
%s  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
%s`, port, peerPort, grConf, mpgr)
	g.conf = filepath.Join(t.TempDir(), "gobgpd.toml")
	if err := os.WriteFile(g.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return g
}

func grSpeakerConfig(t *testing.T, port, peerPort int, gr bool) *Config {
	cfg := speakerConfig(t, "1.1.1.1", "127.0.0.1", port, "127.0.0.3", peerPort, `
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1']}
`)
	cfg.Neighbors[0].GracefulRestart.Enabled = gr
	return cfg
}

// watchRoutes records, every 20 ms until stop, whether red holds prefix.
func watchRoutes(s *Speaker, prefix string, stop <-chan struct{}) <-chan []bool {
	out := make(chan []bool, 1)
	go func() {
		var seen []bool
		for {
			select {
			case <-stop:
				out <- seen
				return
			case <-time.After(20 * time.Millisecond):
			}
			routes, _, err := s.VRFRoutes("red")
			if err != nil {
				continue
			}
			has := false
			for _, r := range routes {
				has = has || r.Prefix.String() == prefix
			}
			seen = append(seen, has)
		}
	}()
	return out
}

func TestGracefulRestartHelperKeepsRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gobgpd over loopback")
	}
	if raceEnabled {
		// GoBGP v3.37.0 marks a restarting neighbor's paths stale in
		// place (AdjRib.StaleAll, Path.MarkStale on the server's
		// goroutine) while the best-path watcher's goroutine may have
		// read the same paths (toPathAPI, IsStale) with nothing ordering
		// the two: the race detector reports it. A GoBGP bug, not this
		// package's; the test runs without -race.
		t.Skip("GoBGP v3.37.0 races marking paths stale against its own watcher (see comment)")
	}
	p1, p3 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.3")
	g := startTestGoBGPd(t, p3, p1, true)
	pe := startSpeaker(t, grSpeakerConfig(t, p1, p3, true))
	g.start(false)
	g.announce("10.9.1.0/24", 3001)
	g.announce("10.9.2.0/24", 3002)
	both := "10.9.1.0/24 via 127.0.0.3 label 3001 rd 65000:9; 10.9.2.0/24 via 127.0.0.3 label 3002 rd 65000:9; "
	waitRoutes(t, pe, "red", both)

	stop := make(chan struct{})
	seen := watchRoutes(pe, "10.9.1.0/24", stop)
	g.kill()
	// The session is gone (GoBGP saw the connection close at once); the
	// routes stay as stale while gobgpd is down.
	time.Sleep(2 * time.Second)
	waitRoutes(t, pe, "red", both)
	g.start(true)
	g.announce("10.9.1.0/24", 3001)
	// After gobgpd's End-of-RIB the route it did not announce again goes.
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := g.gobgp("neighbor", "127.0.0.1")
			rib, _ := g.gobgp("global", "rib", "-a", "vpnv4")
			t.Logf("gobgpd after the restart:\n%s\n%s\n%s", g.log, out, rib)
		}
	})
	waitRoutes(t, pe, "red", "10.9.1.0/24 via 127.0.0.3 label 3001 rd 65000:9; ")
	close(stop)
	for i, has := range <-seen {
		if !has {
			t.Fatalf("10.9.1.0/24 left vrf red during gobgpd's restart (sample %d)", i)
		}
	}
}

// TestGracefulRestartOffFlushes is the comparison: without graceful
// restart the kill withdraws gobgpd's routes at once.
func TestGracefulRestartOffFlushes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gobgpd over loopback")
	}
	p1, p3 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.3")
	g := startTestGoBGPd(t, p3, p1, false)
	pe := startSpeaker(t, grSpeakerConfig(t, p1, p3, false))
	g.start(false)
	g.announce("10.9.1.0/24", 3001)
	waitRoutes(t, pe, "red", "10.9.1.0/24 via 127.0.0.3 label 3001 rd 65000:9; ")
	g.kill()
	waitRoutes(t, pe, "red", "")
}

// testLogLevel is the speakers' log level in the tests: LevelDebug shows
// GoBGP's FSM.
var testLogLevel = slog.LevelWarn

// TestGracefulRestartSpeakerRestart: Peregrine restarts (Stop, then a new
// speaker on the same state directory, its VRFs listed in the other
// order) and gobgpd, its graceful-restart helper, keeps Peregrine's routes
// throughout, and ends with them under the same labels.
func TestGracefulRestartSpeakerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gobgpd over loopback")
	}
	p1, p3 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.3")
	g := startTestGoBGPd(t, p3, p1, true)
	g.start(false)
	state := t.TempDir()
	vrfs := []string{
		"  - {name: red, rd: '65000:1', export-targets: ['65000:1'], static-routes: [{prefix: 10.1.0.0/24}]}\n",
		"  - {name: blue, rd: '65000:2', export-targets: ['65000:2'], label-mode: per-prefix, static-routes: [{prefix: 10.2.0.0/24}, {prefix: 10.3.0.0/24}]}\n",
	}
	config := func(order ...int) *Config {
		cfg := speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.3", p3, vrfs[order[0]]+vrfs[order[1]])
		cfg.Neighbors[0].GracefulRestart.Enabled = true
		cfg.Neighbors[0].GracefulRestart.RestartTime = 30 * time.Second
		cfg.StateDir = state
		return cfg
	}
	// rib is gobgpd's view of Peregrine's routes: "RD:prefix [label]".
	rib := func() string {
		out, err := g.gobgp("global", "rib", "-a", "vpnv4")
		if err != nil {
			return "error: " + err.Error()
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			// "*>RD:prefix [label] ...", "S*>" for a stale path.
			f := strings.Fields(strings.TrimLeft(l, "S*> "))
			if len(f) >= 2 && strings.HasPrefix(f[0], "65000:") {
				lines = append(lines, f[0]+" "+f[1])
			}
		}
		slices.Sort(lines)
		return strings.Join(lines, "; ")
	}
	want := "65000:1:10.1.0.0/24 [1000]; 65000:2:10.2.0.0/24 [1001]; 65000:2:10.3.0.0/24 [1002]"
	waitRIB := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for got := rib(); got != want; got = rib() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: gobgpd holds %q, want %q\n%s", what, got, want, g.log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	pe, err := Start(t.Context(), config(0, 1), slog.New(slog.DiscardHandler), drain(t))
	if err != nil {
		t.Fatal(err)
	}
	waitRIB("first start")

	stop := make(chan struct{})
	lost := make(chan string, 1)
	go func() {
		for {
			select {
			case <-stop:
				lost <- ""
				return
			case <-time.After(50 * time.Millisecond):
			}
			if got := rib(); got != want {
				lost <- fmt.Sprintf("%q", got) // "" when nothing was lost
				return
			}
		}
	}()
	pe.Stop()
	time.Sleep(time.Second) // down for a while
	pe, err = Start(t.Context(), config(1, 0), slog.New(slog.DiscardHandler), drain(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pe.Stop()
	// Until the new session is up and its End-of-RIB in, the routes are
	// gobgpd's stale ones; after it, they are the new speaker's.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := g.gobgp("neighbor")
		if strings.Contains(string(out), "Establ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session not re-established:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	close(stop)
	if got := <-lost; got != "" {
		t.Errorf("gobgpd's RIB changed during Peregrine's restart: %s, want %q throughout\n%s", got, want, g.log)
	}
	waitRIB("after the restart")
}

// drain is an event channel nobody needs.
func drain(t *testing.T) chan Event {
	events := make(chan Event, 1024)
	go func() {
		for range events {
		}
	}()
	return events
}
