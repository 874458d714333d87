package bgp

import (
	"net/netip"
	"testing"
)

// TestNeighborListensFirstOnlyAtStart: at the start a neighbor configured
// to dial is added passive and remembered for endListen; a neighbor
// configured passive, or any neighbor added by a reload, is added as
// configured.
func TestNeighborListensFirstOnlyAtStart(t *testing.T) {
	dial := Neighbor{Address: netip.MustParseAddr("192.0.2.2"), ASN: 65000, Families: []string{"vpnv4"}}
	listen := dial
	listen.Address, listen.Passive = netip.MustParseAddr("192.0.2.3"), true

	s := &Speaker{}
	for _, n := range []Neighbor{dial, listen} {
		p := peerFromConfig(n, "192.0.2.1")
		s.listenFirst(n, p)
		if !p.Transport.PassiveMode {
			t.Errorf("start: neighbor %s (passive %v) is added dialing", n.Address, n.Passive)
		}
	}
	if _, ok := s.listening["192.0.2.2"]; !ok || len(s.listening) != 1 {
		t.Errorf("start: listening %v, want only 192.0.2.2", s.listening)
	}

	s = &Speaker{cfg: &Config{}}
	p := peerFromConfig(dial, "192.0.2.1")
	s.listenFirst(dial, p)
	if p.Transport.PassiveMode || len(s.listening) != 0 {
		t.Errorf("reload: neighbor added passive %v, listening %v", p.Transport.PassiveMode, s.listening)
	}
}
