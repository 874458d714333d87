package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// rawSession opens a BGP session from a hand-driven peer at local to the
// speaker s at remote, up to Established. It dials once s's session to local
// is Active: GoBGP closes a connection that arrives while a new neighbor is
// still Idle, which a real peer would answer by retrying.
func rawSession(t *testing.T, s *Speaker, local, remote string) net.Conn {
	t.Helper()
	waitSessionState(t, s, local, api.PeerState_ACTIVE)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", remote)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(rawOpen(65000, [4]byte{3, 3, 3, 3})); err != nil {
		t.Fatal(err)
	}
	if typ, _, err := readMessage(c); err != nil || typ != 1 {
		t.Fatalf("want OPEN, got type %d: %v", typ, err)
	}
	if _, err := c.Write(bgpMessage(4, nil)); err != nil {
		t.Fatal(err)
	}
	for {
		typ, _, err := readMessage(c)
		if err != nil {
			t.Fatalf("waiting for KEEPALIVE: %v", err)
		}
		if typ == 4 {
			return c
		}
	}
}

// startWithPassivePeer starts a speaker on 127.0.0.1 and a free port with
// one passive neighbor, 127.0.0.3, for a hand-driven peer (rawSession). The
// caller stops it.
func startWithPassivePeer(t *testing.T, log *slog.Logger) (*Speaker, int) {
	t.Helper()
	port := freePort(t, "127.0.0.1")
	cfg, err := parseConfig(fmt.Appendf(nil, `
router: {id: 1.1.1.1, asn: 65000}
bgp:
  listen-address: 127.0.0.1
  listen-port: %d
  api: ""
  neighbors: [{address: 127.0.0.3, asn: 65000, passive: true}]
`, port))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), cfg, log, make(chan Event, 16))
	if err != nil {
		t.Fatal(err)
	}
	return s, port
}

// TestStopSendsCease: a graceful shutdown tells every peer why with a
// NOTIFICATION Cease (RFC 4271 section 6.7) instead of dropping TCP.
func TestStopSendsCease(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	s, port := startWithPassivePeer(t, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	c := rawSession(t, s, "127.0.0.3", fmt.Sprintf("127.0.0.1:%d", port))
	waitEstablished(t, s, "127.0.0.3")
	s.Stop()
	for {
		typ, body, err := readMessage(c)
		if err != nil {
			t.Fatalf("session closed without NOTIFICATION: %v", err)
		}
		if typ == 3 {
			if len(body) < 1 || body[0] != 6 {
				t.Errorf("NOTIFICATION % x, want error code 6 (Cease)", body)
			}
			return
		}
	}
}

// waitEstablished polls until the speaker sees the session to addr up.
func waitEstablished(t *testing.T, s *Speaker, addr string) {
	t.Helper()
	waitSessionState(t, s, addr, api.PeerState_ESTABLISHED)
}

// waitSessionState polls until the speaker's session to addr is in want.
func waitSessionState(t *testing.T, s *Speaker, addr string, want api.PeerState_SessionState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var state api.PeerState_SessionState
	for time.Now().Before(deadline) {
		_ = s.Server().ListPeer(context.Background(), &api.ListPeerRequest{Address: addr}, func(p *api.Peer) {
			state = p.GetState().GetSessionState()
		})
		if state == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("session to %s is %v, want %v", addr, state, want)
}
