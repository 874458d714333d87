package userspace

import (
	"testing"

	"github.com/peregrine-net/peregrine/fib"
)

// TestRetiringInboundSA is IKE's make-before-break: after a rekey PE2
// seals with the new SA at once while PE1's packets sealed with the old
// one may still arrive. With the old SA in RetiringIn both open; once the
// delete removes it, only the new one does.
func TestRetiringInboundSA(t *testing.T) {
	pe2 := newTestDataplane(t, pe2State())
	oldTx := newTestDataplane(t, pe1State()) // seals with 0x1001
	s1 := pe1State()
	s1.Tunnels[pe2Addr].Out = sa(0x1101, 7) // the rekeyed SA
	newTx := newTestDataplane(t, s1)

	// PE2 after the rekey: new inbound SA, the old one retiring.
	s2 := pe2State()
	s2.Tunnels[pe1Addr].In = sa(0x1101, 7)
	s2.Tunnels[pe1Addr].RetiringIn = []*fib.SAParams{sa(0x1001, 1)}
	if _, _, err := pe2.update(s2, nil); err != nil {
		t.Fatal(err)
	}
	send := func(tx *dataplane) drop {
		inner := ipv4("10.1.0.2", "10.2.0.2", 63, 100)
		buf := outBuf(inner)
		pkt, _, why := tx.outbound(tx.vrfs["red"], buf, outHeadroom, len(inner))
		if why != dropNone {
			t.Fatalf("outbound: drop %d", why)
		}
		espOff := cap(buf) - cap(pkt)
		_, _, _, why = pe2.inbound(buf, espOff, len(pkt))
		return why
	}
	if why := send(oldTx); why != dropNone {
		t.Errorf("old SA while retiring: drop %d", why)
	}
	if why := send(newTx); why != dropNone {
		t.Errorf("new SA: drop %d", why)
	}
	// The delete arrives: the old SA goes.
	s2.Tunnels[pe1Addr].RetiringIn = nil
	if _, _, err := pe2.update(s2, nil); err != nil {
		t.Fatal(err)
	}
	if why := send(oldTx); why != dropOpen {
		t.Errorf("old SA after its delete: drop %d, want dropOpen", why)
	}
	if why := send(newTx); why != dropNone {
		t.Errorf("new SA after the delete: drop %d", why)
	}
}
