package ike

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestRunnersOverLoopback(t *testing.T) {
	ra, rb := loopbackRunners(t)
	ups := make(chan ChildSA, 4)
	downs := make(chan ChildSA, 4)
	for _, r := range []*Runner{ra, rb} {
		r.OnChildSA(func(c ChildSA) { ups <- c })
		r.OnChildSADeleted(func(c ChildSA) { downs <- c })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- ra.Run(ctx) }()
	go func() { errs <- rb.Run(ctx) }()
	x, y := <-ups, <-ups
	checkMirror(t, x, y)
	if err := ra.Do(ctx, func(e *Engine) { _ = e.Delete("b") }); err != nil {
		t.Fatal(err)
	}
	<-downs
	<-downs
	cancel()
	<-errs
	<-errs
}

// loopbackRunners returns two runners on 127.0.0.1, not yet running: ra
// initiates to rb (peer "b"), rb answers (peer "a").
func loopbackRunners(t *testing.T) (ra, rb *Runner) {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	type side struct {
		c500, c4500 *net.UDPConn
		port, natt  uint16
	}
	bind := func() side {
		c1, err1 := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
		c2, err2 := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
		if err1 != nil || err2 != nil {
			t.Skipf("cannot bind loopback UDP: %v %v", err1, err2)
		}
		return side{c1, c2, uint16(c1.LocalAddr().(*net.UDPAddr).Port), uint16(c2.LocalAddr().(*net.UDPAddr).Port)}
	}
	a, b := bind(), bind()
	// Both ends share 127.0.0.1, so they identify by FQDN.
	mk := func(me, peer side, name, localID, remoteID string, initiate bool) *Runner {
		pc := PeerConfig{Name: name, LocalAddr: lo, RemoteAddr: lo, RemotePort: peer.port, RemoteNATTPort: peer.natt,
			PSK: testPSK(), Initiate: initiate, LocalID: FQDNIdentity(localID), RemoteID: FQDNIdentity(remoteID)}
		e, err := NewEngine(Config{Peers: []PeerConfig{pc}, Port: me.port, NATTPort: me.natt, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRunnerConns(e, me.c500, me.c4500)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return mk(a, b, "b", "pe-a", "pe-b", true), mk(b, a, "a", "pe-b", "pe-a", false)
}
