package ike

import (
	"testing"
	"time"
)

func lastChild(t *testing.T, evs []Event, kind EventKind) ChildSA {
	t.Helper()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return evs[i].Child
		}
	}
	t.Fatalf("no %s event in %v", kind, kinds(evs))
	return ChildSA{}
}

func TestChildRekeyMakeBeforeBreak(t *testing.T) {
	for _, pfs := range []bool{false, true} {
		ca := peerCfg("b", addrA, addrB, true)
		cb := peerCfg("a", addrB, addrA, false)
		if pfs {
			ca.ESP = []ESPProposal{{Encr: []Encr{AES256GCM16}, DH: []DHGroup{DHECP256}}}
			cb.ESP = ca.ESP
		}
		p := newPair(t, ca, cb, nil)
		a, b := p.up()
		p.evA, p.evB = nil, nil
		var ups []Event
		p.a.Rekey(b.OutSPI) // unknown on a: b's outbound is a's inbound
		if err := p.a.Rekey(a.InSPI); err != nil {
			t.Fatal(err)
		}
		// Make-before-break: run one step at a time and check that the new
		// SA comes up before the old one goes down on each side.
		p.run()
		for _, evs := range [][]Event{p.evA, p.evB} {
			ups = nil
			for _, e := range evs {
				if e.Kind == ChildUp {
					ups = append(ups, e)
				}
				if e.Kind == ChildDown && len(ups) == 0 {
					t.Fatal("old child SA went down before the new one came up")
				}
			}
		}
		na, nb := lastChild(t, p.evA, ChildUp), lastChild(t, p.evB, ChildUp)
		checkMirror(t, na, nb)
		if na.Replaces != a.InSPI || nb.Replaces != b.InSPI {
			t.Fatalf("Replaces %x %x", na.Replaces, nb.Replaces)
		}
		if lastChild(t, p.evA, ChildDown).InSPI != a.InSPI || lastChild(t, p.evB, ChildDown).InSPI != b.InSPI {
			t.Fatal("the old SA was not the one deleted")
		}
		if na.InKey.Equal(a.InKey) {
			t.Fatal("rekey kept the keys")
		}
		if n := len(p.a.SAs()[0].Children); n != 1 {
			t.Fatalf("a has %d children", n)
		}
	}
}

// Both ends rekey the same child at once (RFC 7296 section 2.8.1): one new
// SA survives on both sides, and the old one and the redundant one go.
func TestChildRekeyCollision(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	a, b := p.up()
	p.evA, p.evB = nil, nil
	_ = p.a.Rekey(a.InSPI)
	_ = p.b.Rekey(b.InSPI)
	p.run()
	sa, sb := p.a.SAs()[0].Children, p.b.SAs()[0].Children
	if len(sa) != 1 || len(sb) != 1 {
		t.Fatalf("children after collision: a %v\nb %v", sa, sb)
	}
	checkMirror(t, sa[0], sb[0])
	if sa[0].InSPI == a.InSPI {
		t.Fatal("the old SA survived")
	}
	if k := kinds(p.evA); k[ChildUp] != 2 || k[ChildDown] != 2 {
		t.Fatalf("a events %v", k)
	}
}

func TestIKERekeyKeepsChildren(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	a, _ := p.up()
	old := p.a.SAs()[0]
	p.evA, p.evB = nil, nil
	if err := p.a.RekeyIKE("b"); err != nil {
		t.Fatal(err)
	}
	p.run()
	sas := p.a.SAs()
	if len(sas) != 1 || sas[0].SPIi == old.SPIi || len(sas[0].Children) != 1 || sas[0].Children[0].InSPI != a.InSPI {
		t.Fatalf("after IKE rekey: %+v", sas)
	}
	if k := kinds(p.evA); k[IKEUp] != 1 || k[IKEDown] != 1 || k[ChildDown] != 0 {
		t.Fatalf("events %v", k)
	}
	if len(p.b.SAs()) != 1 || p.b.SAs()[0].SPIr != sas[0].SPIr {
		t.Fatalf("b: %+v", p.b.SAs())
	}
	// The new IKE SA works: rekey a child through it, from the responder.
	p.evA, p.evB = nil, nil
	if err := p.b.Rekey(p.b.SAs()[0].Children[0].InSPI); err != nil {
		t.Fatal(err)
	}
	p.run()
	checkMirror(t, lastChild(t, p.evA, ChildUp), lastChild(t, p.evB, ChildUp))
}

func TestIKERekeyCollision(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	p.up()
	p.evA, p.evB = nil, nil
	_ = p.a.RekeyIKE("b")
	_ = p.b.RekeyIKE("a")
	p.run()
	sa, sb := p.a.SAs(), p.b.SAs()
	if len(sa) != 1 || len(sb) != 1 || sa[0].SPIi != sb[0].SPIi || sa[0].SPIr != sb[0].SPIr {
		t.Fatalf("after collision:\na %+v\nb %+v", sa, sb)
	}
	if len(sa[0].Children) != 1 || len(sb[0].Children) != 1 {
		t.Fatal("children lost")
	}
	// Still usable.
	if err := p.a.Rekey(sa[0].Children[0].InSPI); err != nil {
		t.Fatal(err)
	}
	p.run()
	if len(p.a.SAs()[0].Children) != 1 {
		t.Fatal("child rekey after collision failed")
	}
}

func TestLifetimesDriveRekeyAndExpiry(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	ca.ChildLifetime = Lifetime{Soft: 50 * time.Minute, Hard: time.Hour}
	ca.DPDInterval = 0
	cb := peerCfg("a", addrB, addrA, false)
	cb.DPDInterval = 0
	p := newPair(t, ca, cb, nil)
	a, _ := p.up()
	p.evA = nil
	p.advance(50 * time.Minute)
	if na := lastChild(t, p.evA, ChildUp); na.Replaces != a.InSPI {
		t.Fatalf("soft lifetime did not rekey: %v", kinds(p.evA))
	}
	// The IKE SA rekeys at 90% of 4 h by default; children keep being
	// rekeyed every 50 minutes and never reach their hard lifetime.
	p.evA = nil
	for range 17 { // to 3 h 40 min
		p.advance(10 * time.Minute)
	}
	if k := kinds(p.evA); k[IKEUp] != 1 || k[IKEDown] != 1 || k[ChildUp] != 3 || k[ChildDown] != 3 {
		t.Fatalf("lifetimes: %v", k)
	}
	if sas := p.a.SAs(); len(sas) != 1 || len(sas[0].Children) != 1 {
		t.Fatalf("SAs %+v", sas)
	}
}

func TestDeleteChildAndIKE(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	a, b := p.up()
	p.evA, p.evB = nil, nil
	if err := p.b.DeleteChild(b.InSPI); err != nil {
		t.Fatal(err)
	}
	p.run()
	if lastChild(t, p.evA, ChildDown).InSPI != a.InSPI || lastChild(t, p.evB, ChildDown).InSPI != b.InSPI {
		t.Fatal("child not deleted on both ends")
	}
	if err := p.a.Delete("b"); err != nil {
		t.Fatal(err)
	}
	p.run()
	if len(p.a.SAs()) != 0 || len(p.b.SAs()) != 0 || kinds(p.evB)[IKEDown] != 1 {
		t.Fatalf("IKE SA not deleted: %v %v", p.a.SAs(), kinds(p.evB))
	}
}

func TestDPDDetectsDeadPeer(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	p.up()
	p.advance(31 * time.Second) // idle: a liveness check is answered
	if len(p.a.SAs()) != 1 {
		t.Fatal("SA lost while the peer was alive")
	}
	p.drop = func(Datagram) bool { return true }
	p.evA = nil
	for i := 0; i < 20 && len(p.a.SAs()) > 0; i++ {
		p.advance(p.a.NextDeadline().Sub(p.now))
	}
	if k := kinds(p.evA); k[IKEDown] != 1 || k[ChildDown] != 1 || len(p.a.SAs()) != 0 {
		t.Fatalf("dead peer not detected: %v", k)
	}
	// The peer comes back (it rebooted: its old SA is gone too); a is
	// configured to initiate, so it starts over after RestartAfter.
	p.drop = nil
	p.b.Delete("a")
	p.b.Output()
	p.b.sas, p.b.inSPIs = map[uint64]*ikeSA{}, map[uint32]*childSA{}
	p.evA = nil
	p.advance(10 * time.Second)
	if k := kinds(p.evA); k[IKEUp] != 1 || k[ChildUp] != 1 {
		t.Fatalf("no restart: %v", k)
	}
}

func TestExplicitDeleteDoesNotRestart(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	p.up()
	_ = p.a.Delete("b")
	p.run()
	p.advance(time.Minute)
	if len(p.a.SAs()) != 0 || !p.a.NextDeadline().IsZero() {
		t.Fatalf("restarted after Engine.Delete: %v", p.a.SAs())
	}
}
