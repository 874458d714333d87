package bgp

// Two speakers on IPv6 loopback, on different ports:
//
//	pe1 [::1]:P1, listen-address unset, passive  <-- iBGP over IPv6 --  pe2 [::1]:P2, connects
//	  red 10.1.0.0/24 (VPNv4), fd00:1::/64 (VPNv6)                        imports both via ::1
//
// pe1 only accepts, so the session comes up only if the default listener
// takes IPv6. The VPNv4 route crosses an IPv6 session, so its next hop is
// IPv6: RFC 8950's extended next hop, which GoBGP encodes and decodes.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDefaultListenerTakesIPv6AndVPNv4GetsIPv6NextHop(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a BGP session over loopback")
	}
	if !ipv6Available() {
		t.Skip("no IPv6 on this host")
	}
	p1, p2 := freePort6(t), freePort6(t)
	// Graceful restart off: the speakers' stops at the end would make
	// each mark the other's paths stale, which GoBGP v3.37.0 does racing
	// its own watcher (graceful_test.go); -race reported it here in 1
	// run of 28 before issue 20's hold and about 1 in 8 with it.
	vrf := func(rd string, prefixes ...string) string {
		s := fmt.Sprintf("  - {name: red, rd: '%s', import-targets: ['65000:1'], export-targets: ['65000:1'], static-routes: [", rd)
		for i, p := range prefixes {
			if i > 0 {
				s += ", "
			}
			s += "{prefix: '" + p + "'}"
		}
		return s + "]}\n"
	}
	parse := func(y string) *Config {
		cfg, err := parseConfig([]byte(y))
		if err != nil {
			t.Fatalf("config: %v\n%s", err, y)
		}
		return cfg
	}
	pe1 := parse(fmt.Sprintf(`
router: {id: 1.1.1.1, asn: 65000}
bgp:
  listen-port: %d
  api: ""
  neighbors:
    - {address: '::1', port: %d, asn: 65000, passive: true, hold-time: 9s, graceful-restart: {enabled: false}}
vrfs:
%s`, p1, p2, vrf("65000:1", "10.1.0.0/24", "fd00:1::/64")))
	if pe1.ListenAddress.IsValid() {
		t.Fatalf("test wants the default listen address, config has %s", pe1.ListenAddress)
	}
	pe2 := parse(fmt.Sprintf(`
router: {id: 2.2.2.2, asn: 65000}
bgp:
  listen-address: '::1'
  listen-port: %d
  api: ""
  neighbors:
    - {address: '::1', port: %d, asn: 65000, connect-retry: 1s, hold-time: 9s, graceful-restart: {enabled: false}}
vrfs:
%s`, p2, p1, vrf("65000:2", "10.2.0.0/24")))
	s1 := startSpeaker(t, pe1)
	s2 := startSpeaker(t, pe2)
	waitRoutes(t, s2, "red", "10.1.0.0/24 via ::1 label 1000 rd 65000:1; fd00:1::/64 via ::1 label 1000 rd 65000:1; ")
	// Every session up: GoBGP is no longer asked for debug messages.
	for _, s := range []*Speaker{s1, s2} {
		if s.diag.capturing() || s.NeighborReason(netip.MustParseAddr("::1")) != "" {
			t.Errorf("with its session up, capturing = %v, reason %q", s.diag.capturing(), s.NeighborReason(netip.MustParseAddr("::1")))
		}
	}
}

func freePort6(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("cannot listen on [::1]: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestNeighborReasonConnectionRefused: a neighbor whose address has no
// listener stays active, and the speaker says why, once in the
// log and in NeighborReason.
func TestNeighborReasonConnectionRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("connects over loopback")
	}
	if !ipv6Available() {
		t.Skip("no IPv6 on this host")
	}
	closed := freePort6(t) // nothing listens there once freePort6 returns
	cfg, err := parseConfig([]byte(fmt.Sprintf(`
router: {id: 1.1.1.1, asn: 65000}
bgp:
  listen-port: 0
  api: ""
  neighbors:
    - {address: '::1', port: %d, asn: 65000, connect-retry: 1s}
    - {address: 127.0.0.9, asn: 65000, passive: true}
`, closed)))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	s := startSpeakerLog(t, cfg, &logs)
	want := "connection refused: nothing listens on the neighbor's BGP port for this address"
	deadline := time.Now().Add(15 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = s.NeighborReason(netip.MustParseAddr("::1")); got == want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("reason = %q, want %q", got, want)
	}
	if got := s.NeighborReason(netip.MustParseAddr("127.0.0.9")); got != "passive: waiting for the neighbor to connect" {
		t.Errorf("passive neighbor's reason = %q", got)
	}
	time.Sleep(3 * time.Second) // at least one more attempt, same reason
	if n := strings.Count(logs.String(), "neighbor cannot connect"); n != 1 {
		t.Errorf("logged %d times, want once per change:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `neighbor=::1 reason="`+want) {
		t.Errorf("log lacks the neighbor and reason:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startSpeakerLog(t *testing.T, cfg *Config, w io.Writer) *Speaker {
	t.Helper()
	events := make(chan Event, 1024)
	go func() {
		for range events {
		}
	}()
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := Start(context.Background(), cfg, log, events)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}
