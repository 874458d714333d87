package ike

import (
	"net/netip"
	"testing"
	"time"
)

var addrC = netip.MustParseAddr("192.0.2.3")

// authAs runs IKE_SA_INIT and IKE_AUTH from an initiator at addrA that
// calls itself id with psk, against a responder at addrB configured with
// peers. It returns the pair after the exchange.
func authAs(t *testing.T, id Identity, psk PSK, peers ...PeerConfig) *pair {
	t.Helper()
	ini := peerCfg("b", addrA, addrB, true)
	ini.LocalID, ini.PSK = id, psk
	p := newPair(t, ini, peers[0], nil)
	cfg := Config{Peers: peers, Now: func() time.Time { return p.now }, Logger: testLogger(t)}
	b, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.b = b
	p.a.Start()
	p.run()
	return p
}

// An initiator at peer a's address that authenticates with peer c's
// identity and PSK must not become peer c: the peer is chosen by address
// at IKE_SA_INIT and the identity must be that peer's.
func TestAuthIdentityMustBelongToPeerOfAddress(t *testing.T) {
	pskC := NewPSK([]byte("peer c's own pre-shared key"))
	a := peerCfg("a", addrB, addrA, false)
	c := peerCfg("c", addrB, addrC, false)
	c.PSK = pskC
	roam := PeerConfig{Name: "roam", LocalAddr: addrB, RemoteID: FQDNIdentity("roam.example"), PSK: pskC}
	for _, tc := range []struct {
		name  string
		id    Identity
		peers []PeerConfig
	}{
		{"addressed peer", AddrIdentity(addrC), []PeerConfig{a, c}},
		{"wildcard peer", FQDNIdentity("roam.example"), []PeerConfig{a, roam}},
		{"addressed peer from elsewhere", AddrIdentity(addrC), []PeerConfig{roam, c}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := authAs(t, tc.id, pskC, tc.peers...)
			kb, ka := kinds(p.evB), kinds(p.evA)
			if kb[IKEUp] != 0 || kb[ChildUp] != 0 || kb[AuthFailed] != 1 || ka[AuthFailed] != 1 || len(p.b.SAs()) != 0 {
				t.Fatalf("initiator at %v authenticated as %v: responder events %v, initiator %v, SAs %+v", addrA, tc.id, kb, ka, p.b.SAs())
			}
		})
	}
}

// A peer without a remote address is found by its identity among the
// other peers without one, from any address.
func TestAuthWildcardPeerByIdentity(t *testing.T) {
	psk := NewPSK([]byte("the roaming peers' key 2"))
	r1 := PeerConfig{Name: "r1", LocalAddr: addrB, RemoteID: FQDNIdentity("r1.example"), PSK: NewPSK([]byte("the roaming peers' key 1"))}
	r2 := PeerConfig{Name: "r2", LocalAddr: addrB, RemoteID: FQDNIdentity("r2.example"), PSK: psk}
	p := authAs(t, FQDNIdentity("r2.example"), psk, r1, r2)
	sas := p.b.SAs()
	if len(sas) != 1 || sas[0].Peer != "r2" || kinds(p.evB)[IKEUp] != 1 {
		t.Fatalf("roaming peer r2 not recognised: %+v %v", sas, kinds(p.evB))
	}
}
