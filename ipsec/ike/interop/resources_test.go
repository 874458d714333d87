package interop

import (
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// TestResourcesWithStrongSwan: a Peregrine that asks for per-resource
// child SAs (RFC 9611, Resources 4) initiating to strongSwan 5.9, which
// predates the RFC and ignores SA_RESOURCE_INFO: one child SA, traffic
// flows, and no second child is attempted.
func TestResourcesWithStrongSwan(t *testing.T) {
	_, s, pe := setup(t)
	s.load(t, goodPSK)
	_, ech, events := peregrineWith(t, pe, goodPSK, true, 0,
		ike.IKEProposal{Encr: []ike.Encr{ike.AES256GCM16}, PRF: []ike.PRF{ike.PRFHMACSHA256}, DH: []ike.DHGroup{ike.DHCurve25519}},
		ike.ESPProposal{Encr: []ike.Encr{ike.AES256GCM16}, DH: []ike.DHGroup{ike.DHCurve25519}},
		func(p *ike.PeerConfig) { p.Resources = 4 })
	ev := wait(t, events, ike.ChildUp)
	if ev.Child.Resource {
		t.Errorf("the first child is marked as an extra resource: %v", ev.Child)
	}
	out := checkSAs(t, s, ev.Child)
	pingThrough(t, s, ech)
	time.Sleep(time.Second) // time for an extra CREATE_CHILD_SA, if one were sent
	select {
	case ev := <-events:
		if ev.Kind == ike.ChildUp {
			t.Errorf("a second child with strongSwan 5.9: %v", ev.Child)
		}
	default:
	}
	if n := strings.Count(out, "INSTALLED"); n != 1 {
		t.Errorf("strongSwan lists %d child SAs, want 1", n)
	}
}
