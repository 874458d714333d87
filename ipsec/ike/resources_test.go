package ike

import (
	"testing"
	"time"
)

// resourcePair is a pair whose ends ask for (a, the initiator) and
// accept (b) per-resource child SAs (RFC 9611), with two receive queues.
func resourcePair(t *testing.T, wantA, wantB int) *pair {
	t.Helper()
	ca := peerCfg("b", addrA, addrB, true)
	cb := peerCfg("a", addrB, addrA, false)
	ca.Resources, cb.Resources = wantA, wantB
	return newPair(t, ca, cb, func(c *Config) { c.ReceiveQueues = 2 })
}

// TestResourceChildren: the initiator creates child SAs with the same
// selectors up to the responder's limit (TS_MAX_QUEUE past it): 3 asked,
// 2 accepted. Both ends agree on each, every one but the first is a
// Resource child, and their inbound SPIs fall on both receive queues.
func TestResourceChildren(t *testing.T) {
	p := resourcePair(t, 3, 2)
	p.a.Start()
	p.run()
	ca, cb := childUps(p.evA), childUps(p.evB)
	if len(ca) != 2 || len(cb) != 2 {
		t.Fatalf("child SAs: a %d, b %d, want 2 each", len(ca), len(cb))
	}
	for i := range ca {
		checkMirror(t, ca[i], cb[i])
		if want := i > 0; ca[i].Resource != want || cb[i].Resource != want {
			t.Errorf("child %d: Resource %v/%v, want %v", i, ca[i].Resource, cb[i].Resource, want)
		}
		if ca[i].LocalTS[0] != ca[0].LocalTS[0] || ca[i].RemoteTS[0] != ca[0].RemoteTS[0] {
			t.Errorf("child %d selectors %v === %v, want the first's", i, ca[i].LocalTS, ca[i].RemoteTS)
		}
	}
	for name, cs := range map[string][]ChildSA{"a": ca, "b": cb} {
		if cs[1].InSPI%2 == cs[0].InSPI%2 {
			// The first child's SPI is random; the extra one takes
			// the other queue.
			t.Errorf("%s: inbound SPIs %#x and %#x on one receive queue", name, cs[0].InSPI, cs[1].InSPI)
		}
	}
	if kinds(p.evA)[ChildDown]+kinds(p.evB)[ChildDown] != 0 {
		t.Error("a child SA went down")
	}
}

// TestResourceChildrenPeerWithout: a responder that does not speak RFC
// 9611 (Resources 0, as strongSwan 5.9) gets one child and no notify; an
// initiator without it asks for none.
func TestResourceChildrenPeerWithout(t *testing.T) {
	for _, c := range []struct{ a, b int }{{4, 0}, {0, 4}, {1, 4}} {
		p := resourcePair(t, c.a, c.b)
		p.up() // exactly one child each
		if p.sent != 4 {
			t.Errorf("resources %d/%d: %d datagrams, want 4 (IKE_SA_INIT and IKE_AUTH only)", c.a, c.b, p.sent)
		}
	}
}

// TestResourceChildrenRekeyAndDelete: each child is rekeyed on its own
// (a rekey of the extra child is an extra child again, on the same
// receive queue) and deleting one leaves the other.
func TestResourceChildrenRekeyAndDelete(t *testing.T) {
	p := resourcePair(t, 2, 2)
	p.a.Start()
	p.run()
	ca := childUps(p.evA)
	if len(ca) != 2 {
		t.Fatalf("%d child SAs, want 2", len(ca))
	}
	extra := ca[1]
	p.evA, p.evB = nil, nil
	if err := p.a.Rekey(extra.InSPI); err != nil {
		t.Fatal(err)
	}
	p.run()
	na, nb := lastChild(t, p.evA, ChildUp), lastChild(t, p.evB, ChildUp)
	checkMirror(t, na, nb)
	if na.Replaces != extra.InSPI || !na.Resource || !nb.Resource {
		t.Errorf("rekey of the extra child: replaces %#x (want %#x), Resource %v/%v", na.Replaces, extra.InSPI, na.Resource, nb.Resource)
	}
	if na.InSPI%2 != extra.InSPI%2 {
		t.Errorf("rekey moved the child from receive queue %d to %d", extra.InSPI%2, na.InSPI%2)
	}
	if d := lastChild(t, p.evA, ChildDown); d.InSPI != extra.InSPI {
		t.Errorf("rekey deleted %#x, want %#x", d.InSPI, extra.InSPI)
	}
	if n := len(p.a.SAs()[0].Children); n != 2 {
		t.Errorf("%d children after the rekey, want 2", n)
	}
	p.evA, p.evB = nil, nil
	if err := p.a.DeleteChild(ca[0].InSPI); err != nil {
		t.Fatal(err)
	}
	p.run()
	if k := kinds(p.evA); k[ChildDown] != 1 || k[ChildUp] != 0 {
		t.Errorf("delete of the first child: events %v", k)
	}
	if n := len(p.a.SAs()[0].Children); n != 1 {
		t.Errorf("%d children after deleting one, want 1", n)
	}
	// The timers rekey what is left, on its own.
	p.evA = nil
	for range 120 {
		p.advance(time.Minute)
	}
	if k := kinds(p.evA); k[ChildUp] == 0 {
		t.Errorf("no rekey of the remaining child in 2 h: %v", k)
	}
	if n := len(p.a.SAs()[0].Children); n != 1 {
		t.Errorf("%d children after its rekeys, want 1", n)
	}
}

// TestResourceChildRefused: a responder answers a request for an extra
// child with TS_MAX_QUEUE when it has not agreed to per-resource children
// (the initiator skipped the notify in IKE_AUTH).
func TestResourceChildRefused(t *testing.T) {
	p := resourcePair(t, 0, 2)
	a, _ := p.up()
	sa := p.a.sas[p.a.SAs()[0].SPIi]
	sa.peerResources = true // as if b had announced it
	sa.peer.Resources = 2
	p.evA = nil
	sa.createResourceChild(sa.children[0].localTS, sa.children[0].remoteTS)
	p.run()
	if k := kinds(p.evA); k[ChildUp] != 0 {
		t.Errorf("extra child created without b's agreement: %v", k)
	}
	if _, reserved := p.a.inSPIs[a.InSPI]; !reserved {
		t.Error("first child gone")
	}
	if n := len(p.a.inSPIs); n != 1 {
		t.Errorf("%d inbound SPIs held, want 1 (the refused child's released)", n)
	}
}
