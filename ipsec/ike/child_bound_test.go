package ike

import (
	"testing"
)

// requestNewChild sends a CREATE_CHILD_SA for an additional child SA (no
// REKEY_SA) on sa, as a peer may at any time (RFC 7296 section 1.3.1),
// and hands the response to got. The child is not installed here: the
// test looks at what the responder does.
func requestNewChild(sa *ikeSA, got func(*Message)) {
	ni := sa.e.nonce()
	offer := sa.offerChild(sa.newChildSPI(), false, sa.peer.LocalTS, sa.peer.RemoteTS)
	ps := append([]Payload{offer[0], NoncePayload(ni)}, offer[1:]...)
	sa.request(&request{x: CreateChildSA, payloads: func() []Payload { return ps }, onResponse: got})
}

// A peer that keeps creating child SAs on one IKE SA is refused with
// NO_ADDITIONAL_SAS past Config.MaxChildSAs, and the refused requests
// leave no state behind (no child, no reserved SPI, no event).
func TestChildSAsPerIKESABounded(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	p.up()
	sa := p.a.sas[p.a.SAs()[0].SPIi]
	max := p.b.cfg.MaxChildSAs
	if max <= 1 || max > 64 {
		t.Fatalf("MaxChildSAs default %d", max)
	}
	var refused []NotifyType
	accepted := 0
	for range max + 10 {
		requestNewChild(sa, func(m *Message) {
			if _, ok := m.first(PayloadSA); ok {
				accepted++
			}
			for _, n := range m.notifies() {
				if n.Type.IsError() {
					refused = append(refused, n.Type)
				}
			}
		})
		p.run()
	}
	bsa := p.b.SAs()[0]
	if accepted != max-1 || len(bsa.Children) != max || len(refused) != 11 {
		t.Fatalf("bound %d: %d accepted, %d refused (%v), responder has %d children", max, accepted, len(refused), refused, len(bsa.Children))
	}
	for _, n := range refused {
		if n != NotifyNoAdditionalSAs {
			t.Fatalf("refused with %v, want NO_ADDITIONAL_SAS", n)
		}
	}
	if n := len(p.b.inSPIs); n != max {
		t.Fatalf("responder holds %d inbound SPIs for %d children", n, max)
	}
	if k := kinds(p.evB); k[ChildUp] != max {
		t.Fatalf("responder events %v", k)
	}
	// A rekey from the peer is refused too at the bound: a peer that
	// rekeys and never deletes the old SA would otherwise grow it.
	p.evA = nil
	if err := p.a.Rekey(p.a.SAs()[0].Children[0].InSPI); err != nil {
		t.Fatal(err)
	}
	p.run()
	if n := len(p.b.SAs()[0].Children); n != max || kinds(p.evA)[ChildUp] != 0 {
		t.Fatalf("rekey at the bound: responder has %d children, initiator events %v", n, kinds(p.evA))
	}
}
