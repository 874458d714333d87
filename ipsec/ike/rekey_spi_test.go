package ike

import (
	"testing"
)

// pendingOf takes sa's request in flight, so that a test can answer it
// itself through its handler.
func pendingOf(t *testing.T, sa *ikeSA) *request {
	t.Helper()
	r := sa.pending
	if r == nil {
		t.Fatal("no request in flight")
	}
	sa.pending = nil
	return r
}

func errorNotifies(m *Message) []NotifyType {
	var out []NotifyType
	for _, n := range m.notifies() {
		if n.Type.IsError() {
			out = append(out, n.Type)
		}
	}
	return out
}

// A peer's CREATE_CHILD_SA rekeying the IKE SA with SPI 0 for the new SA
// (RFC 7296 section 3.3.1: an IKE SA SPI is never zero) is refused and
// leaves no SA behind.
func TestIKERekeyRequestSPIZeroRefused(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	p.up()
	sa := p.a.sas[p.a.SAs()[0].SPIi]
	dh, err := newKeyShare(sa.suite.DH, sa.e.rand)
	if err != nil {
		t.Fatal(err)
	}
	ps := []Payload{ikeSAPayload(sa.peer.IKE, make([]byte, 8)), NoncePayload(sa.e.nonce()), KE{Group: sa.suite.DH, Data: dh.public()}.Payload()}
	var resp *Message
	sa.request(&request{x: CreateChildSA, payloads: func() []Payload { return ps }, onResponse: func(m *Message) { resp = m }})
	p.run()
	if resp == nil {
		t.Fatal("no response")
	}
	if len(errorNotifies(resp)) == 0 || len(p.b.sas) != 1 || kinds(p.evB)[IKEUp] != 1 {
		t.Fatalf("IKE rekey to SPI 0 accepted: response %v, responder SAs %d, events %v", resp, len(p.b.sas), kinds(p.evB))
	}
}

// A responder that answers our IKE SA rekey with SPI 0 fails the rekey:
// the old SA stays and no SA with SPI 0 is made.
func TestIKERekeyResponseSPIZeroRefused(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	p.up()
	old := p.a.sas[p.a.SAs()[0].SPIi]
	p.drop = func(Datagram) bool { return true }
	p.evA = nil
	if err := p.a.RekeyIKE("b"); err != nil {
		t.Fatal(err)
	}
	p.run()
	r := pendingOf(t, old)
	peer, err := newKeyShare(old.suite.DH, old.e.rand)
	if err != nil {
		t.Fatal(err)
	}
	r.onResponse(&Message{Exchange: CreateChildSA, Flags: FlagResponse, Payloads: []Payload{
		chosenIKE(1, old.suite, make([]byte, 8)), NoncePayload(old.e.nonce()), KE{Group: old.suite.DH, Data: peer.public()}.Payload()}})
	for _, sa := range p.a.sas {
		if sa.spiR == 0 && sa != old {
			t.Fatalf("made an IKE SA with responder SPI 0 (state %v)", sa.state)
		}
	}
	if old.state != stateEstablished || old.rekey != nil || kinds(p.a.Events())[IKEUp] != 0 {
		t.Fatalf("old SA %v, rekey %v", old.state, old.rekey)
	}
}

// The same for child SAs: a rekey asking for SPI 0 as our outbound SPI,
// and a rekey response giving SPI 0, are refused.
func TestChildRekeySPIZeroRefused(t *testing.T) {
	t.Run("request", func(t *testing.T) {
		p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
		a, _ := p.up()
		sa := p.a.sas[p.a.SAs()[0].SPIi]
		offer := sa.offerChild(0, false, sa.peer.LocalTS, sa.peer.RemoteTS)
		ps := []Payload{Notify{Protocol: ProtoESP, SPI: be32(a.InSPI), Type: NotifyRekeySA}.Payload(), offer[0], NoncePayload(sa.e.nonce())}
		ps = append(ps, offer[1:]...)
		var resp *Message
		sa.request(&request{x: CreateChildSA, payloads: func() []Payload { return ps }, onResponse: func(m *Message) { resp = m }})
		p.run()
		if resp == nil || len(errorNotifies(resp)) == 0 || len(p.b.SAs()[0].Children) != 1 {
			t.Fatalf("child rekey to SPI 0 accepted: %v, responder children %v", resp, p.b.SAs()[0].Children)
		}
	})
	t.Run("response", func(t *testing.T) {
		p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
		a, _ := p.up()
		sa := p.a.sas[p.a.SAs()[0].SPIi]
		p.drop = func(Datagram) bool { return true }
		p.evA = nil
		if err := p.a.Rekey(a.InSPI); err != nil {
			t.Fatal(err)
		}
		p.run()
		r := pendingOf(t, sa)
		suite := sa.children[0].suite
		ps := []Payload{chosenESP(1, suite, 0), NoncePayload(sa.e.nonce()), TSPayload(true, sa.peer.LocalTS), TSPayload(false, sa.peer.RemoteTS),
			Notify{Type: NotifyUseTransportMode}.Payload()}
		r.onResponse(&Message{Exchange: CreateChildSA, Flags: FlagResponse, Payloads: ps})
		if k := kinds(p.a.Events()); k[ChildUp] != 0 || len(sa.children) != 1 {
			t.Fatalf("child rekey response with SPI 0 accepted: %v", k)
		}
	})
}

// An IKE_SA_INIT request with initiator SPI 0 gets no answer and no
// state (RFC 7296 section 3.1: the SPI is never zero).
func TestInitRequestSPIZeroIgnored(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	p.a.Start()
	out := p.a.Output()
	m, err := ParseMessage(out[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	m.SPIi = 0
	p.b.Handle(out[0].Remote, out[0].Local, m.Marshal())
	if o := p.b.Output(); len(o) != 0 || len(p.b.sas) != 0 || len(p.b.inits) != 0 {
		t.Fatalf("answered an IKE_SA_INIT with SPIi 0: %d datagrams, %d SAs", len(o), len(p.b.sas))
	}
}

// A peer that rekeys the IKE SA and then goes on rekeying the old one
// (instead of deleting it) would make an IKE SA per request: the old SA,
// once replaced, refuses further CREATE_CHILD_SA requests.
func TestReplacedIKESARefusesMoreRekeys(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	p.up()
	sa := p.a.sas[p.a.SAs()[0].SPIi]
	var resps []*Message
	for i := range 3 {
		dh, err := newKeyShare(sa.suite.DH, sa.e.rand)
		if err != nil {
			t.Fatal(err)
		}
		spi := []byte{0, 0, 0, 0, 0, 0, 0, byte(i + 1)}
		ps := []Payload{ikeSAPayload(sa.peer.IKE, spi), NoncePayload(sa.e.nonce()), KE{Group: sa.suite.DH, Data: dh.public()}.Payload()}
		sa.request(&request{x: CreateChildSA, payloads: func() []Payload { return ps }, onResponse: func(m *Message) { resps = append(resps, m) }})
		p.run()
	}
	if len(resps) != 3 || len(errorNotifies(resps[0])) != 0 {
		t.Fatalf("first rekey refused: %v", resps)
	}
	for _, m := range resps[1:] {
		if e := errorNotifies(m); len(e) != 1 || e[0] != NotifyTemporaryFailure {
			t.Errorf("rekey of a replaced IKE SA answered %v", m)
		}
	}
	if n := len(p.b.sas); n != 2 {
		t.Fatalf("responder holds %d IKE SAs, want the old one and its one successor", n)
	}
}
