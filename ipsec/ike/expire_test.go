package ike

import (
	"testing"
	"time"
)

// At its hard lifetime a child SA leaves the dataplane at once (ChildDown)
// even while the peer has not answered the Delete: it must stop sealing at
// the hard lifetime, not when the exchange ends (or the IKE SA dies of
// lost retransmissions a minute later).
func TestHardLifetimeTakesChildDownAtOnce(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	ca.ChildLifetime = Lifetime{Soft: time.Hour, Hard: time.Hour} // no rekey first
	ca.DPDInterval = 0
	cb := peerCfg("a", addrB, addrA, false)
	cb.DPDInterval = 0
	cb.ChildLifetime = Lifetime{Soft: 2 * time.Hour, Hard: 2 * time.Hour}
	p := newPair(t, ca, cb, nil)
	a, _ := p.up()
	p.evA, p.evB = nil, nil
	p.drop = func(Datagram) bool { return true } // the peer is silent
	p.advance(time.Hour)
	down := 0
	for _, e := range p.evA {
		if e.Kind == ChildDown && e.Child.InSPI == a.InSPI {
			down++
		}
	}
	if down != 1 || len(p.a.SAs()[0].Children) != 0 {
		t.Fatalf("at the hard lifetime: %d ChildDown, children %v", down, p.a.SAs()[0].Children)
	}
	// The Delete gets through on a retransmission: the peer removes its
	// side, a reports nothing twice and the inbound SPI is released.
	p.drop = nil
	p.evA = nil
	p.advance(time.Second)
	if k := kinds(p.evA); k[ChildDown] != 0 {
		t.Fatalf("second ChildDown: %v", k)
	}
	if k := kinds(p.evB); k[ChildDown] != 1 || len(p.b.SAs()[0].Children) != 0 {
		t.Fatalf("peer kept the child: %v", k)
	}
	if _, held := p.a.inSPIs[a.InSPI]; held {
		t.Fatal("inbound SPI still reserved after the peer answered the Delete")
	}
}

// Engine.DeleteChild (the daemon's hard byte limit) likewise reports the
// child down before the peer answers.
func TestDeleteChildTakesChildDownAtOnce(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	a, _ := p.up()
	p.evA = nil
	if err := p.a.DeleteChild(a.InSPI); err != nil {
		t.Fatal(err)
	}
	if ev := p.a.Events(); len(ev) != 1 || ev[0].Kind != ChildDown || ev[0].Child.InSPI != a.InSPI {
		t.Fatalf("events right after DeleteChild: %v", kinds(ev))
	}
	if _, held := p.a.inSPIs[a.InSPI]; !held {
		t.Fatal("inbound SPI released before the peer answered: it could be handed out again")
	}
	p.run()
	if _, held := p.a.inSPIs[a.InSPI]; held || kinds(p.evB)[ChildDown] != 1 {
		t.Fatalf("after the exchange: SPI held %v, peer events %v", held, kinds(p.evB))
	}
}

// At the IKE SA's hard lifetime its child SAs go down at once too: the
// Delete of the IKE SA takes them with it, and the dataplane must not
// seal with them while the peer is slow to answer (or silent, for the
// minute of retransmissions).
func TestIKEHardLifetimeTakesChildrenDownAtOnce(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	ca.IKELifetime = Lifetime{Soft: time.Hour, Hard: time.Hour} // no rekey first
	ca.ChildLifetime = Lifetime{Soft: 3 * time.Hour, Hard: 3 * time.Hour}
	ca.DPDInterval = 0
	cb := peerCfg("a", addrB, addrA, false)
	cb.DPDInterval = 0
	cb.IKELifetime = Lifetime{Soft: 2 * time.Hour, Hard: 2 * time.Hour}
	cb.ChildLifetime = ca.ChildLifetime
	p := newPair(t, ca, cb, nil)
	a, _ := p.up()
	p.evA = nil
	p.drop = func(Datagram) bool { return true }
	p.advance(time.Hour)
	if down := lastChild(t, p.evA, ChildDown); down.InSPI != a.InSPI {
		t.Fatalf("ChildDown for %x", down.InSPI)
	}
	p.drop = nil
	p.evA = nil
	p.advance(time.Second)
	if k := kinds(p.evA); k[ChildDown] != 0 || k[IKEDown] != 1 || len(p.a.SAs()) != 0 || len(p.a.inSPIs) != 0 {
		t.Fatalf("after the Delete's answer: %v, SAs %v, SPIs %d", k, p.a.SAs(), len(p.a.inSPIs))
	}
	if k := kinds(p.evB); k[ChildDown] != 1 || k[IKEDown] != 1 {
		t.Fatalf("peer: %v", k)
	}
}
