package ike

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// TestRunnerSharedNATT: side b's NAT-T port belongs to the ESP transport
// (an esptransport.Socket served by Receive, as the dataplane serves its
// own), which passes IKE behind the non-ESP marker to HandleNATT and
// frames what the runner sends. With UDP encapsulation forced, the
// IKE_AUTH and the delete travel on that port, so the SA only comes up and
// goes away if both directions of the sharing work.
func TestRunnerSharedNATT(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	listen := func() (*net.UDPConn, uint16) {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
		if err != nil {
			t.Skipf("cannot bind loopback UDP: %v", err)
		}
		return c, uint16(c.LocalAddr().(*net.UDPAddr).Port)
	}
	a500, aPort := listen()
	a4500, aNATT := listen()
	b500, bPort := listen()
	dp, bNATT := listen() // the ESP transport's socket on b's NAT-T port
	defer dp.Close()
	natt, err := esptransport.NewSocket(dp, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	cfg := func(name, localID, remoteID string, port, natt uint16, initiate bool) Config {
		return Config{Port: port, NATTPort: natt, Logger: testLogger(t), Peers: []PeerConfig{{
			Name: name, LocalAddr: lo, RemoteAddr: lo, PSK: testPSK(), Initiate: initiate, ForceUDPEncap: true,
			LocalID: FQDNIdentity(localID), RemoteID: FQDNIdentity(remoteID),
		}}}
	}
	ca := cfg("b", "pe-a", "pe-b", aPort, aNATT, true)
	ca.Peers[0].RemotePort, ca.Peers[0].RemoteNATTPort = bPort, bNATT
	cb := cfg("a", "pe-b", "pe-a", bPort, bNATT, false)
	cb.Peers[0].RemotePort, cb.Peers[0].RemoteNATTPort = aPort, aNATT
	ea, err := NewEngine(ca)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := NewEngine(cb)
	if err != nil {
		t.Fatal(err)
	}
	ra, err := NewRunnerConns(ea, a500, a4500)
	if err != nil {
		t.Fatal(err)
	}
	var framedOut, handedIn atomic.Int64
	rb, err := NewRunnerSharedNATT(eb, b500, func(to netip.AddrPort, msg []byte) error {
		framedOut.Add(1)
		return natt.SendIKE(to, msg)
	})
	if err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{make([]byte, 65536), make([]byte, 65536)}
	go func() { _ = natt.Receive(bufs, 16, ikeTo{rb, &handedIn}) }()

	ups, downs := make(chan ChildSA, 4), make(chan ChildSA, 4)
	for _, r := range []*Runner{ra, rb} {
		r.OnChildSA(func(c ChildSA) { ups <- c })
		r.OnChildSADeleted(func(c ChildSA) { downs <- c })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- ra.Run(ctx) }()
	go func() { errs <- rb.Run(ctx) }()
	var x, y ChildSA
	for i, c := range []*ChildSA{&x, &y} {
		select {
		case *c = <-ups:
		case <-ctx.Done():
			t.Fatalf("child SA %d never came up (framed out %d, handed in %d)", i, framedOut.Load(), handedIn.Load())
		}
	}
	checkMirror(t, x, y)
	if !x.UDPEncap || !y.UDPEncap {
		t.Errorf("not UDP-encapsulated: %v / %v", x, y)
	}
	if err := ra.Do(ctx, func(e *Engine) { _ = e.Delete("b") }); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-downs:
		case <-ctx.Done():
			t.Fatal("the delete did not reach both sides")
		}
	}
	if framedOut.Load() == 0 || handedIn.Load() < 2 {
		t.Errorf("IKE on the shared port: %d sent, %d received", framedOut.Load(), handedIn.Load())
	}
	cancel()
	<-errs
	<-errs
}

// ikeTo is the ESP transport's Handler in front of a runner: IKE goes to
// HandleNATT, ESP (no dataplane here) is dropped.
type ikeTo struct {
	r       *Runner
	counter *atomic.Int64
}

func (h ikeTo) ESP([]byte, int, int, netip.AddrPort, bool) {}
func (h ikeTo) Flush()                                     {}
func (h ikeTo) Control(d esptransport.Datagram) {
	if d.Kind == wire.KindIKE {
		h.counter.Add(1)
		h.r.HandleNATT(d.From, d.Body)
	}
}
