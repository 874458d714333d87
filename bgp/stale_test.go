package bgp

// The stale-time, against a hand-driven peer that restarts and then never
// sends End-of-RIB:
//
//	raw 127.0.0.3 (GR capability) --iBGP vpnv4--> pe 127.0.0.1, stale-time 2s
//
// Session 1 announces 10.9.1.0/24 and End-of-RIB, then the TCP connection
// closes (a crash): the route stays as stale. Session 2 opens with the
// Restart State bit and announces nothing: GoBGP alone would keep the
// stale route until an End-of-RIB that never comes; the stale-time guard
// resets the session after 2 s and the route goes.

import (
	"fmt"
	"net"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// grSession opens a session from 127.0.0.3 to remote with the graceful
// restart capability (restart time 30 s, VPNv4 with the forwarding bit),
// restarting setting the Restart State bit.
func grSession(t *testing.T, s *Speaker, remote string, restarting bool) net.Conn {
	t.Helper()
	waitSessionState(t, s, "127.0.0.3", api.PeerState_ACTIVE)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", remote)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	caps := []gobgp.ParameterCapabilityInterface{
		gobgp.NewCapMultiProtocol(gobgp.RF_IPv4_VPN),
		gobgp.NewCapGracefulRestart(restarting, false, 30,
			[]*gobgp.CapGracefulRestartTuple{gobgp.NewCapGracefulRestartTuple(gobgp.RF_IPv4_VPN, true)}),
		gobgp.NewCapFourOctetASNumber(65000),
	}
	open, err := gobgp.NewBGPOpenMessage(65000, 90, "3.3.3.3", []gobgp.OptionParameterInterface{gobgp.NewOptionParameterCapability(caps)}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(open); err != nil {
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

func TestGracefulRestartStaleTime(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	if raceEnabled {
		t.Skip("GoBGP v3.37.0 races marking paths stale against its own watcher (graceful_test.go)")
	}
	port := freePort(t, "127.0.0.1")
	cfg, err := parseConfig(fmt.Appendf(nil, `
router: {id: 1.1.1.1, asn: 65000}
bgp:
  listen-address: 127.0.0.1
  listen-port: %d
  api: ""
  neighbors:
    - {address: 127.0.0.3, asn: 65000, passive: true, families: [vpnv4],
       graceful-restart: {restart-time: 30s, stale-time: 2s}}
vrfs:
  - {name: red, rd: '65000:1', import-targets: ['65000:1'], export-targets: ['65000:1']}
`, port))
	if err != nil {
		t.Fatal(err)
	}
	pe := startSpeaker(t, cfg)
	remote := fmt.Sprintf("127.0.0.1:%d", port)

	c := grSession(t, pe, remote, false)
	rd, _ := gobgp.ParseRouteDistinguisher("65000:9")
	nlri := gobgp.NewLabeledVPNIPAddrPrefix(24, "10.9.1.0", *gobgp.NewMPLSLabelStack(3001), rd)
	rt, _ := gobgp.ParseExtendedCommunity(gobgp.EC_SUBTYPE_ROUTE_TARGET, "65000:1")
	writeMsg(t, c, gobgp.NewBGPUpdateMessage(nil, []gobgp.PathAttributeInterface{
		gobgp.NewPathAttributeOrigin(0),
		gobgp.NewPathAttributeAsPath(nil),
		gobgp.NewPathAttributeLocalPref(100),
		gobgp.NewPathAttributeMpReachNLRI("127.0.0.3", []gobgp.AddrPrefixInterface{nlri}),
		gobgp.NewPathAttributeExtendedCommunities([]gobgp.ExtendedCommunityInterface{rt}),
	}, nil))
	writeMsg(t, c, gobgp.NewEndOfRib(gobgp.RF_IPv4_VPN))
	route := "10.9.1.0/24 via 127.0.0.3 label 3001 rd 65000:9; "
	waitRoutes(t, pe, "red", route)

	c.Close() // a crash: no NOTIFICATION
	time.Sleep(500 * time.Millisecond)
	waitRoutes(t, pe, "red", route) // stale, kept
	c = grSession(t, pe, remote, true)
	up := time.Now()
	go func() { // keep the session up; announce nothing, no End-of-RIB
		for {
			if _, _, err := readMessage(c); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second)
	waitRoutes(t, pe, "red", route) // still stale within the stale-time
	waitRoutes(t, pe, "red", "")
	if d := time.Since(up); d < 2*time.Second {
		t.Errorf("stale route flushed %v after the session came back, before the 2s stale-time", d)
	}
}
