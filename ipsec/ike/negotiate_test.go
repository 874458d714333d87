package ike

import (
	"net/netip"
	"testing"
	"time"
)

func TestCookieRequiredPastThreshold(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	cb := peerCfg("a", addrB, addrA, false)
	p := newPair(t, ca, cb, func(c *Config) { c.CookieThreshold = -1 }) // always
	var cookies int
	p.drop = func(d Datagram) bool {
		if m, err := ParseMessage(d.Data); err == nil && m.IsResponse() && m.Exchange == IKESAInit {
			if _, ok := m.notify(NotifyCookie); ok {
				cookies++
				if len(m.Payloads) != 1 || m.SPIr != 0 {
					t.Errorf("cookie response keeps state: %v", m)
				}
			}
		}
		return false
	}
	p.up()
	if cookies != 1 {
		t.Fatalf("%d cookie responses", cookies)
	}
}

func TestCookieThresholdCountsHalfOpen(t *testing.T) {
	cb := peerCfg("a", addrB, addrA, false)
	p := newPair(t, peerCfg("b", addrA, addrB, true), cb, func(c *Config) { c.CookieThreshold = 2; c.HalfOpenTimeout = 10 * time.Second })
	// Three initiations whose IKE_AUTH never arrives leave b half-open;
	// the third must first prove its address with a cookie.
	cookies := 0
	p.drop = func(d Datagram) bool {
		m, err := ParseMessage(d.Data)
		if err == nil && m.IsResponse() {
			if _, ok := m.notify(NotifyCookie); ok {
				cookies++
			}
		}
		return err != nil || m.Exchange != IKESAInit
	}
	for range 3 {
		_ = p.a.Initiate("b")
		p.run()
	}
	if n := p.b.halfOpen(); n != 3 || cookies != 1 {
		t.Fatalf("half-open %d, cookies %d; want 3 and 1", n, cookies)
	}
	p.advance(11 * time.Second)
	if n := len(p.b.SAs()); n != 0 {
		t.Fatalf("%d half-open SAs survived their timeout", n)
	}
}

func TestInvalidKERetry(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	ca.IKE = []IKEProposal{{Encr: []Encr{AES128GCM16}, PRF: []PRF{PRFHMACSHA256}, DH: []DHGroup{DHCurve25519, DHECP256}}}
	cb := peerCfg("a", addrB, addrA, false)
	cb.IKE = []IKEProposal{{Encr: []Encr{AES128GCM16}, PRF: []PRF{PRFHMACSHA256}, DH: []DHGroup{DHECP256}}}
	p := newPair(t, ca, cb, nil)
	p.up()
	if s := p.a.SAs()[0].Suite; s != "aes128gcm16-prfsha256-ecp256" {
		t.Fatalf("suite %s", s)
	}
}

func TestNegotiationFailures(t *testing.T) {
	cases := map[string]struct {
		a, b func(*PeerConfig)
		ike  bool // IKE SA expected up
	}{
		"no common IKE cipher": {
			a: func(c *PeerConfig) {
				c.IKE = []IKEProposal{{Encr: []Encr{AES128GCM16}, PRF: []PRF{5}, DH: []DHGroup{31}}}
			},
			b: func(c *PeerConfig) {
				c.IKE = []IKEProposal{{Encr: []Encr{ChaCha20Poly1305}, PRF: []PRF{5}, DH: []DHGroup{31}}}
			},
		},
		"ESN required vs refused": {
			a:   func(c *PeerConfig) { c.ESP = []ESPProposal{{Encr: []Encr{AES128GCM16}, ESN: ESNOn}} },
			b:   func(c *PeerConfig) { c.ESP = []ESPProposal{{Encr: []Encr{AES128GCM16}, ESN: ESNOff}} },
			ike: true,
		},
		"disjoint selectors": {
			a:   func(c *PeerConfig) { c.LocalTS = []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("10.9.0.0/16"))} },
			ike: true,
		},
		"mode mismatch": {
			a:   func(c *PeerConfig) { c.Mode = Tunnel },
			ike: true,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ca, cb := peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false)
			if c.a != nil {
				c.a(&ca)
			}
			if c.b != nil {
				c.b(&cb)
			}
			p := newPair(t, ca, cb, nil)
			p.a.Start()
			p.run()
			ka, kb := kinds(p.evA), kinds(p.evB)
			if ka[ChildUp] != 0 || kb[ChildUp] != 0 {
				t.Fatalf("a child came up: %v %v", ka, kb)
			}
			if up := ka[IKEUp] == 1 && kb[IKEUp] == 1; up != c.ike {
				t.Fatalf("IKE up %v, want %v", up, c.ike)
			}
		})
	}
}

func TestNarrowing(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	ca.Mode = Tunnel
	ca.LocalTS = []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("10.0.0.0/8"))}
	ca.RemoteTS = []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("0.0.0.0/0"))}
	cb := peerCfg("a", addrB, addrA, false)
	cb.Mode = Tunnel
	cb.LocalTS = []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("10.2.0.0/24"))}
	cb.RemoteTS = []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("10.1.0.0/24"))}
	p := newPair(t, ca, cb, nil)
	a, b := p.up()
	if a.LocalTS[0] != cb.RemoteTS[0] || a.RemoteTS[0] != cb.LocalTS[0] || b.LocalTS[0] != cb.LocalTS[0] {
		t.Fatalf("not narrowed: %v === %v", a.LocalTS, a.RemoteTS)
	}
}

func TestRetransmittedInitGetsSameAnswer(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	var firstResp []byte
	n := 0
	p.drop = func(d Datagram) bool {
		if d.Local.Addr() == addrB && n == 0 {
			n++
			firstResp = d.Data
			return true // lose b's IKE_SA_INIT response once
		}
		if d.Local.Addr() == addrB && n == 1 {
			n++
			if string(d.Data) != string(firstResp) {
				t.Error("retransmitted IKE_SA_INIT got a different response")
			}
		}
		return false
	}
	p.a.Start()
	p.run()
	p.advance(time.Second)
	if len(p.b.SAs()) != 1 || kinds(p.evB)[ChildUp] != 1 {
		t.Fatalf("b: %v %v", p.b.SAs(), kinds(p.evB))
	}
}

// One end demands PFS for rekeys, the other offers none: the rekey is
// refused and the existing child SA stays.
func TestPFSMismatchRefusesRekey(t *testing.T) {
	ca := peerCfg("b", addrA, addrB, true)
	ca.ESP = []ESPProposal{{Encr: []Encr{AES256GCM16}, DH: []DHGroup{DHCurve25519}}}
	p := newPair(t, ca, peerCfg("a", addrB, addrA, false), nil)
	a, b := p.up()
	p.evA, p.evB = nil, nil
	_ = p.a.Rekey(a.InSPI)
	_ = p.b.Rekey(b.InSPI)
	p.run()
	if k := kinds(p.evA); k[ChildUp] != 0 || k[ChildDown] != 0 || len(p.a.SAs()[0].Children) != 1 {
		t.Fatalf("rekey with mismatched PFS: %v", k)
	}
}

func TestIPv6AndFQDNIdentities(t *testing.T) {
	a6, b6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	ca := peerCfg("b", a6, b6, true)
	ca.LocalID, ca.RemoteID = FQDNIdentity("pe1.example.net"), AddrIdentity(b6)
	cb := peerCfg("a", b6, a6, false)
	cb.LocalID, cb.RemoteID = AddrIdentity(b6), FQDNIdentity("pe1.example.net")
	p := newPair(t, ca, cb, nil)
	p.aAddr, p.bAddr = a6, b6
	a, _ := p.up()
	if a.Local.Addr() != a6 || a.LocalTS[0] != TSHost(a6) {
		t.Fatalf("%v", a)
	}
}

func TestForceUDPEncap(t *testing.T) {
	for _, side := range []string{"initiator", "responder"} {
		ca, cb := peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false)
		if side == "initiator" {
			ca.ForceUDPEncap = true
		} else {
			cb.ForceUDPEncap = true
		}
		p := newPair(t, ca, cb, nil)
		a, b := p.up()
		if !a.UDPEncap || !b.UDPEncap || a.Remote.Port() != 4500 || b.Remote.Port() != 4500 {
			t.Fatalf("%s: not encapsulated: %v / %v", side, a, b)
		}
	}
	// Without it and without a NAT, ESP is not encapsulated and the
	// responder sees no NAT either.
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	a, _ := p.up()
	if a.UDPEncap || p.b.sasSorted()[0].natPeer || p.b.sasSorted()[0].natSelf {
		t.Fatalf("NAT seen where there is none: %v", a)
	}
}

func TestChildRekeyInvalidKERetry(t *testing.T) {
	ca, cb := peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false)
	ca.ESP = []ESPProposal{{Encr: []Encr{AES128GCM16}, DH: []DHGroup{DHCurve25519, DHECP256}}}
	cb.ESP = []ESPProposal{{Encr: []Encr{AES128GCM16}, DH: []DHGroup{DHECP256}}}
	p := newPair(t, ca, cb, nil)
	a, _ := p.up()
	p.evA, p.evB = nil, nil
	_ = p.a.Rekey(a.InSPI)
	p.run()
	na := lastChild(t, p.evA, ChildUp)
	if na.Replaces != a.InSPI || p.a.SAs()[0].Children[0].InSPI != na.InSPI {
		t.Fatalf("rekey after INVALID_KE_PAYLOAD failed: %v", kinds(p.evA))
	}
	checkMirror(t, na, lastChild(t, p.evB, ChildUp))
}

func TestCookieSurvivesOneRotation(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	e := p.b
	ni := make([]byte, 32)
	c := e.cookie(ni, addrA, 7)
	if !e.cookieValid(c, ni, addrA, 7) || e.cookieValid(c, ni, addrA, 8) || e.cookieValid(c, ni, natIP, 7) {
		t.Fatal("cookie check")
	}
	p.now = p.now.Add(cookieLifetime)
	if !e.cookieValid(c, ni, addrA, 7) {
		t.Fatal("cookie from the previous secret refused")
	}
	p.now = p.now.Add(cookieLifetime)
	if e.cookieValid(c, ni, addrA, 7) {
		t.Fatal("cookie two secrets old accepted")
	}
}

// A response in the clear to an encrypted exchange is forged: it must not
// end the exchange, even if it claims AUTHENTICATION_FAILED.
func TestForgedCleartextResponseIgnored(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), nil)
	p.drop = func(d Datagram) bool {
		m, err := ParseMessage(d.Data)
		if d.Remote.Port() == 4500 || err != nil || m.Exchange != IKEAuth || m.IsResponse() {
			return false
		}
		forged := &Message{SPIi: m.SPIi, SPIr: m.SPIr, Exchange: IKEAuth, Flags: FlagResponse, MessageID: m.MessageID,
			Payloads: []Payload{Notify{Type: NotifyAuthenticationFailed}.Payload()}}
		p.a.Handle(d.Local, d.Remote, forged.Marshal())
		return false
	}
	p.up()
	if k := kinds(p.evA); k[AuthFailed] != 0 {
		t.Fatalf("forged response accepted: %v", k)
	}
}
