package ike

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/esp"
)

func TestEstablishAndSealAcross(t *testing.T) {
	for _, g := range []DHGroup{DHCurve25519, DHECP256, DHModp2048} {
		for _, enc := range []Encr{AES128GCM16, AES256GCM16, ChaCha20Poly1305} {
			t.Run(g.String()+"-"+enc.String(), func(t *testing.T) {
				ca := peerCfg("b", addrA, addrB, true)
				cb := peerCfg("a", addrB, addrA, false)
				ca.IKE = []IKEProposal{{Encr: []Encr{enc}, PRF: []PRF{PRFHMACSHA384}, DH: []DHGroup{g}}}
				ca.ESP = []ESPProposal{{Encr: []Encr{enc}, ESN: ESNOn}}
				p := newPair(t, ca, cb, nil)
				a, b := p.up()
				if a.Cipher != espCipher(enc, IntegNone) || !a.ESN || a.Mode != Transport || a.UDPEncap {
					t.Fatalf("negotiated %v", a)
				}
				// The keys work: what a seals, b opens.
				sa, _ := esp.NewSA(a.OutConfig())
				sb, _ := esp.NewSA(b.InConfig(0))
				buf := make([]byte, 256)
				off := esp.Headroom
				copy(buf[off:], "label stack + packet")
				pkt, err := sa.Seal(buf, off, 20, esp.NextHeaderMPLS)
				if err != nil {
					t.Fatal(err)
				}
				start := off - esp.HeaderLen - esp.IVLen
				pl, nh, err := sb.Open(buf, start, len(pkt))
				if err != nil || nh != esp.NextHeaderMPLS || string(pl) != "label stack + packet" {
					t.Fatalf("open: %v %d %q", err, nh, pl)
				}
				if kinds(p.evA)[IKEUp] != 1 || kinds(p.evB)[IKEUp] != 1 {
					t.Fatalf("IKE up events: %v %v", kinds(p.evA), kinds(p.evB))
				}
			})
		}
	}
}

func TestWrongPSK(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	cb := peerCfg("a", addrB, addrA, false)
	cb.PSK = NewPSK([]byte("a different secret, also long"))
	var logs strings.Builder
	p := newPair(t, ca, cb, nil)
	p.b.log = slogTo(&logs)
	p.a.Start()
	p.run()
	for _, evs := range [][]Event{p.evA, p.evB} {
		k := kinds(evs)
		if k[AuthFailed] != 1 || k[ChildUp] != 0 || k[IKEUp] != 0 {
			t.Fatalf("events %v", k)
		}
	}
	if !errors.Is(p.evA[0].Err, ErrAuthFailed) {
		t.Fatalf("err %v", p.evA[0].Err)
	}
	if len(p.a.SAs()) != 0 || len(p.b.SAs()) != 0 {
		t.Fatalf("SAs left: %v %v", p.a.SAs(), p.b.SAs())
	}
	l := logs.String()
	if !strings.Contains(l, "pre-shared keys differ") || strings.Contains(l, "different secret") || strings.Contains(l, "horse") {
		t.Fatalf("log line: %s", l)
	}
}

func TestNATTraversal(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	cb := peerCfg("a", addrB, natIP, false)
	cb.RemoteID = AddrIdentity(addrA)
	cb.RemoteTS = []TrafficSelector{TSHost(addrA)}
	p := newPair(t, ca, cb, nil)
	p.nat = true
	a, b := p.up()
	if !a.UDPEncap || a.Local.Port() != 4500 || a.Remote.Port() != 4500 || b.Remote.Port() != 14500 {
		t.Fatalf("not floated to NAT-T: %v / %v", a, b)
	}
}

func TestRetransmitBackoffAndDeath(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	cb := peerCfg("a", addrB, addrA, false)
	p := newPair(t, ca, cb, nil)
	p.drop = func(Datagram) bool { return true } // the peer is unreachable
	p.a.Start()
	p.run()
	var gaps []time.Duration
	last := p.now
	for i := 0; i < 10 && len(p.a.SAs()) > 0; i++ {
		next := p.a.NextDeadline()
		gaps = append(gaps, next.Sub(last))
		last = next
		p.advance(next.Sub(p.now))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32}
	if len(gaps) != len(want) {
		t.Fatalf("gaps %v", gaps)
	}
	for i, w := range want {
		if gaps[i] != w*time.Second {
			t.Fatalf("gap %d = %v, want %v (all %v)", i, gaps[i], w*time.Second, gaps)
		}
	}
	if p.sent != 6 {
		t.Fatalf("sent %d", p.sent)
	}
}

func TestLostResponseIsRetransmitted(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	cb := peerCfg("a", addrB, addrA, false)
	p := newPair(t, ca, cb, nil)
	n := 0
	p.drop = func(d Datagram) bool { // lose b's first IKE_AUTH response
		if d.Local.Addr() == addrB {
			n++
			return n == 2
		}
		return false
	}
	p.a.Start()
	p.run()
	p.advance(time.Second)
	if k := kinds(p.evA); k[ChildUp] != 1 || kinds(p.evB)[ChildUp] != 1 {
		t.Fatalf("events %v %v", k, kinds(p.evB))
	}
}
