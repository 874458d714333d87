package bgp

import (
	"net"
	"testing"
	"time"
)

// TestCEMalformedUpdateResetsOnlyThatSession: a CE of red that sends an
// UPDATE whose withdrawn-routes length runs past the message (RFC 4271
// section 6.3) is answered with a NOTIFICATION (UPDATE Message Error) and
// its session alone closes: red's other CE and blue's CE keep their
// sessions, and their routes stay exported.
func TestCEMalformedUpdateResetsOnlyThatSession(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	pa, pb := freePort(t, "127.0.0.3"), freePort(t, "127.0.0.4")
	ceA := newTestCE(t, testCEConfig{addr: "127.0.0.3", port: pa, pe: "127.0.0.1", asn: 65101})
	ceB := newTestCE(t, testCEConfig{addr: "127.0.0.4", port: pb, pe: "127.0.0.1", asn: 65102})
	ceAnnounce(t, ceA, "10.3.0.0/24", false)
	ceAnnounce(t, ceB, "10.4.0.0/24", false)

	// The hostile CE: a listener that speaks BGP by hand. CE sessions are
	// active, so the PE connects to it.
	ln, err := net.Listen("tcp", "127.0.0.5:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })

	base := ceBase()
	s := startSpeaker(t, &base)
	ceOnLoopback(t, s, "red", "blue")
	a, b := loopbackCE("127.0.0.3", pa, 65101), loopbackCE("127.0.0.4", pb, 65102)
	bad := loopbackCE("127.0.0.5", ln.Addr().(*net.TCPAddr).Port, 65105)
	applyCEs(t, s, base, map[string][]CENeighbor{"red": {a, bad}, "blue": {b}})
	upA := waitCESide(t, "ceA", ceA, time.Time{}, false)
	upB := waitCESide(t, "ceB", ceB, time.Time{}, false)
	waitVPN(t, s, "65000:1 10.3.0.0/24", []string{"{AsPath: 65101}"})
	waitVPN(t, s, "65000:2 10.4.0.0/24", []string{"{AsPath: 65102}"})

	if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("the PE never connected to the hostile CE: %v", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// OPEN with IPv4 unicast, then KEEPALIVE once the PE's OPEN is in.
	caps := []byte{0x02, 0x06, 0x01, 0x04, 0x00, 0x01, 0x00, 0x01}
	body := append([]byte{4, byte(65105 >> 8), byte(65105 & 0xff), 0, 90, 127, 0, 0, 5, byte(len(caps))}, caps...)
	if _, err := c.Write(bgpMessage(1, body)); err != nil {
		t.Fatal(err)
	}
	if typ, _, err := readMessage(c); err != nil || typ != 1 {
		t.Fatalf("PE's OPEN: type %d, %v", typ, err)
	}
	if _, err := c.Write(bgpMessage(4, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(bgpMessage(2, []byte{0x00, 0xff, 0x00, 0x00})); err != nil {
		t.Fatal(err)
	}
	var notification []byte
	for notification == nil {
		typ, body, err := readMessage(c)
		if err != nil {
			t.Fatalf("no NOTIFICATION before the session closed: %v", err)
		}
		if typ == 3 {
			notification = body
		}
	}
	if len(notification) < 2 || notification[0] != 3 {
		t.Errorf("NOTIFICATION % x: want error code 3 (UPDATE Message Error)", notification)
	}
	if _, _, err := readMessage(c); err == nil {
		t.Error("session still open after the NOTIFICATION")
	}

	time.Sleep(time.Second) // give a wrongful reset time to show
	for name, ce := range map[string]struct {
		up  time.Time
		now time.Time
	}{"ceA": {upA, ceSideUptime(t, ceA)}, "ceB": {upB, ceSideUptime(t, ceB)}} {
		if !ce.now.Equal(ce.up) {
			t.Errorf("%s's session was reset by another CE's malformed UPDATE: established %v, before %v", name, ce.now, ce.up)
		}
	}
	waitVPN(t, s, "65000:1 10.3.0.0/24", []string{"{AsPath: 65101}"})
	waitVPN(t, s, "65000:2 10.4.0.0/24", []string{"{AsPath: 65102}"})
	ns, _, err := s.CENeighbors(t.Context(), "red")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Address.String() == "127.0.0.3" && !ceEstablished(n) {
			t.Errorf("red's good CE is %s after the other CE's malformed UPDATE", n.State)
		}
	}
}
