package bgp

// Passive CE sessions over loopback: two PEs with a core session, and CEs
// that dial pe1's CE-facing addresses (each VRF's listener is bound to
// lo, the VRFs' one interface here; the two-links case with one address
// is TestCEPassiveListeners and the lab's TestE2ECEPassive):
//
//	ceRed  127.0.0.3 AS 65101 --> 127.0.0.7 red  --.
//	ceRed2 127.0.0.5 AS 65103 --> 127.0.0.7 red  --+-- pe1 127.0.0.1 == pe2 127.0.0.2
//	ceBlue 127.0.0.4 AS 65102 --> 127.0.0.8 blue --'

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// newDialingCE starts a GoBGP CE at addr, in AS asn, that does not listen
// and connects to the PE at pe:port.
func newDialingCE(t *testing.T, addr, pe string, port int, asn uint32) *server.BgpServer {
	t.Helper()
	ctx := context.Background()
	srv := server.NewBgpServer(server.LoggerOption(newSlogAdapter(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	go srv.Serve()
	t.Cleanup(func() { _ = stopGoBGP(srv) })
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: asn, RouterId: addr, ListenPort: -1}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: dialingPeer(addr, pe, port)}); err != nil {
		t.Fatal(err)
	}
	return srv
}

// dialingPeer is a dialing CE's neighbor: the PE at pe:port, from addr.
func dialingPeer(addr, pe string, port int) *api.Peer {
	return &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: pe, PeerAsn: 65000},
		Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 1, HoldTime: 9, KeepaliveInterval: 3}},
		Transport: &api.Transport{LocalAddress: addr, RemotePort: uint32(port)},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: families["ipv4"], Enabled: true}}},
	}
}

// sessionUptime is when srv's session with peer last became
// established; zero while it is not.
func sessionUptime(t *testing.T, srv *server.BgpServer, peer string) time.Time {
	t.Helper()
	var up time.Time
	err := srv.ListPeer(context.Background(), &api.ListPeerRequest{Address: peer}, func(p *api.Peer) {
		if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			up = p.GetTimers().GetState().GetUptime().AsTime()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return up
}

// waitUp polls until srv's session with peer is established since after.
func waitUp(t *testing.T, name string, srv *server.BgpServer, peer string, after time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if up := sessionUptime(t, srv, peer); !up.IsZero() && up.After(after) {
			return up
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: session with %s not established after %v", name, peer, after)
	return time.Time{}
}

// refusedBGP dials to from the local address from and reports nil if
// the connection, accepted by the listener there, is closed without a
// byte of BGP, as GoBGP closes a connection from an address it has no
// neighbor for.
func refusedBGP(from, to string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", to)
	if err != nil {
		return fmt.Errorf("no listener took the connection from %s to %s: %w", from, to, err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// A BGP speaker that took the connection would send its OPEN.
	var b [64]byte
	n, err := c.Read(b[:])
	if n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)) {
		return nil
	}
	return fmt.Errorf("connection from %s to %s: read %d bytes (% x), %v; want it closed unanswered", from, to, n, b[:n], err)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Err != nil && op.Err.Error() == "read: connection reset by peer"
}

// TestCEPassiveSessions: a CE dialing its VRF's CE-facing address gets a
// session of that VRF (routes both ways, to the far PE and back); a
// connection from an address that is no CE of the VRF is closed
// unanswered; a reload adding a passive CE to another VRF, or adding one
// to red on the address red already listens on, resets no session; one
// that moves a passive CE to a new address restarts red's CE sessions
// alone, and so does one that removes them (red then listens no more);
// the core session stays up throughout.
func TestCEPassiveSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	p1, p2 := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.2")
	vrfs := `
  - {name: red, rd: '65000:%d1', import-targets: ['65000:1'], export-targets: ['65000:1']%s}
  - {name: blue, rd: '65000:%d2', import-targets: ['65000:2'], export-targets: ['65000:2']%s}`
	// The CEs first: GoBGP's StartBgp writes package-level selection
	// options that a running server reads (a race in GoBGP v3.37.0 that
	// testdata/race.supp suppresses; this order keeps it rare without).
	ceRed := newDialingCE(t, "127.0.0.3", "127.0.0.7", p1, 65101)
	ceBlue := newDialingCE(t, "127.0.0.4", "127.0.0.8", p1, 65102)
	ceRed2 := newDialingCE(t, "127.0.0.5", "127.0.0.7", p1, 65103)
	ceAnnounce(t, ceRed, "10.3.0.0/24", false)
	ceAnnounce(t, ceBlue, "10.4.0.0/24", false)
	cfg1 := speakerConfig(t, "1.1.1.1", "127.0.0.1", p1, "127.0.0.2", p2, fmt.Sprintf(vrfs, 1, "", 1, ""))
	cfg2 := speakerConfig(t, "2.2.2.2", "127.0.0.2", p2, "127.0.0.1", p1, fmt.Sprintf(vrfs, 2, ", static-routes: [{prefix: 10.9.0.0/24}]", 2, ", static-routes: [{prefix: 10.8.0.0/24}]"))
	pe1, pe2 := startSpeaker(t, cfg1), startSpeaker(t, cfg2)
	ceOnLoopback(t, pe1, "red", "blue")
	coreUp := waitUp(t, "core", pe2.Server(), "127.0.0.1", time.Time{})

	passive := func(addr, local string, asn uint32) CENeighbor {
		return CENeighbor{Address: netip.MustParseAddr(addr), ASN: asn, Families: []string{"ipv4"}, Passive: true,
			LocalAddress: netip.MustParseAddr(local), HoldTime: 9 * time.Second, Keepalive: 3 * time.Second}
	}
	apply := func(ces map[string][]CENeighbor) {
		t.Helper()
		c := *cfg1
		c.VRFs = slices.Clone(cfg1.VRFs)
		for i := range c.VRFs {
			c.VRFs[i].Neighbors = ces[c.VRFs[i].Name]
		}
		if err := pe1.do(func() error { return pe1.apply(context.Background(), &c) }); err != nil {
			t.Fatal(err)
		}
	}
	pe1Port := strconv.Itoa(p1)
	red, red2, blue := passive("127.0.0.3", "127.0.0.7", 65101), passive("127.0.0.5", "127.0.0.7", 65103), passive("127.0.0.4", "127.0.0.8", 65102)

	// 1. red's passive CE: its session is accepted, routes go both ways.
	apply(map[string][]CENeighbor{"red": {red}})
	upRed := waitUp(t, "ceRed", ceRed, "127.0.0.7", time.Time{})
	waitVPN(t, pe2, "65000:11 10.3.0.0/24", []string{"{AsPath: 65101}", "rt:65000:1;"})
	waitCE(t, ceRed, "ceRed", "10.9.0.0/24", "65000")
	if up := sessionUptime(t, ceBlue, "127.0.0.8"); !up.IsZero() {
		t.Errorf("ceBlue has a session although blue has no CE: %v", up)
	}

	// 2. No session for an address that is no CE of red, from red's link.
	if err := refusedBGP("127.0.0.9", net.JoinHostPort("127.0.0.7", pe1Port)); err != nil {
		t.Error(err)
	}
	if ps := cePeers(t, pe1, "red"); len(ps) != 1 || ps["127.0.0.3"] != "lo" {
		t.Errorf("red's CE sessions after a stranger's connection: %v", ps)
	}

	// 3. blue gets a passive CE of its own: red's session is not reset.
	apply(map[string][]CENeighbor{"red": {red}, "blue": {blue}})
	upBlue := waitUp(t, "ceBlue", ceBlue, "127.0.0.8", time.Time{})
	waitVPN(t, pe2, "65000:12 10.4.0.0/24", []string{"{AsPath: 65102}", "rt:65000:2;"})
	waitCE(t, ceBlue, "ceBlue", "10.8.0.0/24", "65000")
	time.Sleep(time.Second)
	if rib := ceRIB(t, ceRed); rib["10.8.0.0/24"] != "" || rib["10.4.0.0/24"] != "" {
		t.Errorf("ceRed has blue's routes: %v", rib)
	}
	if rib := ceRIB(t, ceBlue); rib["10.9.0.0/24"] != "" || rib["10.3.0.0/24"] != "" {
		t.Errorf("ceBlue has red's routes: %v", rib)
	}
	if up := sessionUptime(t, ceRed, "127.0.0.7"); !up.Equal(upRed) {
		t.Errorf("adding blue's passive CE reset red's session: up since %v, before %v", up, upRed)
	}

	// 4. A second passive CE of red on the address red listens on
	// already: no listener changes, no session is reset.
	apply(map[string][]CENeighbor{"red": {red, red2}, "blue": {blue}})
	waitUp(t, "ceRed2", ceRed2, "127.0.0.7", time.Time{})
	if up := sessionUptime(t, ceRed, "127.0.0.7"); !up.Equal(upRed) {
		t.Errorf("adding a passive CE on red's listening address reset ceRed: up since %v, before %v", up, upRed)
	}

	t.Cleanup(func() {
		if up := sessionUptime(t, pe2.Server(), "127.0.0.1"); !up.Equal(coreUp) {
			t.Errorf("the core session was reset: up since %v, before %v", up, coreUp)
		}
	})

	// 5. ceRed2 moves to a new address of red's: red's listener changes,
	// so red's CE server restarts; blue's session is not reset.
	red2.LocalAddress = netip.MustParseAddr("127.0.0.6")
	if err := ceRed2.DeletePeer(context.Background(), &api.DeletePeerRequest{Address: "127.0.0.7"}); err != nil {
		t.Fatal(err)
	}
	if err := ceRed2.AddPeer(context.Background(), &api.AddPeerRequest{Peer: dialingPeer("127.0.0.5", "127.0.0.6", p1)}); err != nil {
		t.Fatal(err)
	}
	apply(map[string][]CENeighbor{"red": {red, red2}, "blue": {blue}})
	waitUp(t, "ceRed2", ceRed2, "127.0.0.6", time.Time{})
	waitUp(t, "ceRed", ceRed, "127.0.0.7", upRed)
	waitVPN(t, pe2, "65000:11 10.3.0.0/24", []string{"{AsPath: 65101}", "rt:65000:1;"})
	if up := sessionUptime(t, ceBlue, "127.0.0.8"); !up.Equal(upBlue) {
		t.Errorf("restarting red's CE sessions reset blue's: up since %v, before %v", up, upBlue)
	}

	// 6. red's passive CEs removed: red listens no more, its CE's route
	// leaves the VPN, blue's session stays.
	apply(map[string][]CENeighbor{"blue": {blue}})
	waitVPN(t, pe2, "65000:11 10.3.0.0/24", nil)
	for _, a := range []string{"127.0.0.6", "127.0.0.7"} {
		if c, err := net.Dial("tcp", net.JoinHostPort(a, pe1Port)); err == nil {
			c.Close()
			t.Errorf("red still listens on %s:%s", a, pe1Port)
		}
	}
	if up := sessionUptime(t, ceBlue, "127.0.0.8"); !up.Equal(upBlue) {
		t.Errorf("removing red's passive CEs reset blue's session: up since %v, before %v", up, upBlue)
	}
}
