package ike

import (
	"testing"
)

// TestCookieSecretNeverZero forges the responder's COOKIE with an all-zero
// secret, under the version of the current secret and of the previous one,
// and checks that the responder refuses it (asks for a cookie again)
// instead of creating a half-open SA. Before the secrets were drawn from
// crypto/rand at NewEngine, the previous-secret slot held zeros until the
// second rotation, so a zero-key cookie of version 0 was accepted.
func TestCookieSecretNeverZero(t *testing.T) {
	for _, slot := range []string{"current", "previous"} {
		t.Run(slot, func(t *testing.T) {
			p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), func(c *Config) { c.CookieThreshold = -1 })
			p.a.Start()
			req := p.a.Output()
			if len(req) != 1 {
				t.Fatalf("a sent %d datagrams", len(req))
			}
			p.b.Handle(req[0].Remote, req[0].Local, req[0].Data)
			resp := p.b.Output()
			if len(resp) != 1 {
				t.Fatalf("b sent %d datagrams", len(resp))
			}
			m, err := ParseMessage(resp[0].Data)
			if _, ok := m.notify(NotifyCookie); err != nil || !ok {
				t.Fatalf("b did not ask for a cookie: %v %v", m, err)
			}
			var ini *ikeSA
			for _, sa := range p.a.sas {
				ini = sa
			}
			v := p.b.secret.version
			if slot == "previous" {
				v--
			}
			var zero [32]byte
			forged := cookieWith(zero[:], v, ini.ni, addrA, ini.spiI)
			m.Payloads = []Payload{Notify{Type: NotifyCookie, Data: forged}.Payload()}
			p.a.Handle(resp[0].Remote, resp[0].Local, m.Marshal())
			retry := p.a.Output()
			if len(retry) != 1 {
				t.Fatalf("a sent %d datagrams after the cookie", len(retry))
			}
			p.b.Handle(retry[0].Remote, retry[0].Local, retry[0].Data)
			resp = p.b.Output()
			if len(resp) != 1 {
				t.Fatalf("b sent %d datagrams", len(resp))
			}
			m, err = ParseMessage(resp[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m.first(PayloadSA); ok || len(p.b.sas) != 0 {
				t.Fatalf("a cookie made with an all-zero secret (version %d, %s slot) was accepted: %v", v, slot, m)
			}
			if _, ok := m.notify(NotifyCookie); !ok {
				t.Fatalf("b answered a bad cookie with %v, not a new COOKIE", m)
			}
		})
	}
}

// TestCookieRoundTrip: a genuine cookie is accepted, after a rotation too.
func TestCookieRoundTrip(t *testing.T) {
	p := newPair(t, peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false), func(c *Config) { c.CookieThreshold = -1 })
	p.up()
}
