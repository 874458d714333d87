package ike

import (
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"
)

// pair wires two engines back to back over a simulated network with a
// fake clock. Datagrams are delivered to the engine owning the
// destination address; drop, when set, can discard any of them.
type pair struct {
	t     *testing.T
	now   time.Time
	a, b  *Engine
	aAddr netip.Addr
	bAddr netip.Addr
	nat   bool // rewrite a's source to natAddr:natPort, as a NAT would
	drop  func(d Datagram) bool
	evA   []Event
	evB   []Event
	sent  int
}

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
	natIP = netip.MustParseAddr("198.51.100.7")
)

func testPSK() PSK { return NewPSK([]byte("correct horse battery staple")) }

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func peerCfg(name string, local, remote netip.Addr, initiate bool) PeerConfig {
	return PeerConfig{Name: name, LocalAddr: local, RemoteAddr: remote, PSK: testPSK(), Initiate: initiate, DPDInterval: 30 * time.Second}
}

func newPair(t *testing.T, ca, cb PeerConfig, tweak func(*Config)) *pair {
	t.Helper()
	p := &pair{t: t, now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), aAddr: addrA, bAddr: addrB}
	clock := func() time.Time { return p.now }
	mk := func(pc PeerConfig) *Engine {
		cfg := Config{Peers: []PeerConfig{pc}, Now: clock, Logger: testLogger(t)}
		if tweak != nil {
			tweak(&cfg)
		}
		e, err := NewEngine(cfg)
		if err != nil {
			t.Fatalf("NewEngine: %v", err)
		}
		return e
	}
	p.a, p.b = mk(ca), mk(cb)
	return p
}

// run delivers datagrams until both engines are quiet.
func (p *pair) run() {
	p.t.Helper()
	for range 1000 {
		oa, ob := p.a.Output(), p.b.Output()
		p.evA = append(p.evA, p.a.Events()...)
		p.evB = append(p.evB, p.b.Events()...)
		if len(oa) == 0 && len(ob) == 0 {
			return
		}
		for _, d := range oa {
			p.sent++
			if d.Remote.Addr() != p.bAddr {
				p.t.Fatalf("a sent to %v", d.Remote)
			}
			if p.drop != nil && p.drop(d) {
				continue
			}
			src := d.Local
			if p.nat {
				src = netip.AddrPortFrom(natIP, d.Local.Port()+10000)
			}
			p.b.Handle(d.Remote, src, d.Data)
		}
		for _, d := range ob {
			p.sent++
			if p.drop != nil && p.drop(d) {
				continue
			}
			dst := d.Remote
			if p.nat {
				if d.Remote.Addr() != natIP {
					p.t.Fatalf("b sent to %v, not to the NAT", d.Remote)
				}
				dst = netip.AddrPortFrom(p.aAddr, d.Remote.Port()-10000)
			}
			p.a.Handle(dst, d.Local, d.Data)
		}
	}
	p.t.Fatal("engines never went quiet")
}

// advance moves the clock and runs the timers.
func (p *pair) advance(d time.Duration) {
	p.now = p.now.Add(d)
	p.a.Tick()
	p.b.Tick()
	p.run()
}

func kinds(evs []Event) map[EventKind]int {
	m := map[EventKind]int{}
	for _, e := range evs {
		m[e.Kind]++
	}
	return m
}

func childUps(evs []Event) []ChildSA {
	var cs []ChildSA
	for _, e := range evs {
		if e.Kind == ChildUp {
			cs = append(cs, e.Child)
		}
	}
	return cs
}

// up establishes the IKE SA and first child and checks both ends agree.
func (p *pair) up() (ChildSA, ChildSA) {
	p.t.Helper()
	p.a.Start()
	p.run()
	ca, cb := childUps(p.evA), childUps(p.evB)
	if len(ca) != 1 || len(cb) != 1 {
		p.t.Fatalf("child SAs: a %d, b %d; events a %v b %v", len(ca), len(cb), kinds(p.evA), kinds(p.evB))
	}
	checkMirror(p.t, ca[0], cb[0])
	return ca[0], cb[0]
}

// checkMirror checks that two ends of a child SA agree on SPIs and keys.
func checkMirror(t *testing.T, x, y ChildSA) {
	t.Helper()
	if x.InSPI != y.OutSPI || x.OutSPI != y.InSPI {
		t.Fatalf("SPIs do not mirror: %v / %v", x, y)
	}
	if !x.InKey.Equal(y.OutKey) || !x.OutKey.Equal(y.InKey) {
		t.Fatalf("keys do not mirror")
	}
	if x.InKey.Equal(x.OutKey) {
		t.Fatalf("both directions have the same key")
	}
	if x.Cipher != y.Cipher || x.AH != y.AH || x.ESN != y.ESN || x.Mode != y.Mode || x.UDPEncap != y.UDPEncap {
		t.Fatalf("parameters differ: %v / %v", x, y)
	}
}
