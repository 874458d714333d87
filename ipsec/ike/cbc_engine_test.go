package ike

import (
	"bytes"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/esp"
)

func mustIKE(t *testing.T, s string) IKEProposal {
	t.Helper()
	var p IKEProposal
	if err := p.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustESP(t *testing.T, s string) ESPProposal {
	t.Helper()
	var p ESPProposal
	if err := p.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return p
}

// Two engines agree on an AES-CBC + HMAC-SHA2 IKE SA and child SA, with
// the child's keys in the esp layout, and keep them through a child rekey
// (with PFS) and an IKE SA rekey. The IKE SA's SK payloads carry the
// whole exchange, so every step here also exercises sk_cbc.go both ways.
func TestEstablishAndRekeyCBC(t *testing.T) {
	for _, c := range []struct {
		ike, esp, suite string
		cipher          esp.Cipher
	}{
		{"aes256-sha384-modp2048", "aes256-sha256-modp2048", "aes256-sha384-prfsha384-modp2048", esp.AES256CBCSHA256},
		{"aes128-sha256-ecp256", "aes128-sha512-ecp256", "aes128-sha256-prfsha256-ecp256", esp.AES128CBCSHA512},
		{"aes256-sha512-x25519", "aes128-sha384-x25519", "aes256-sha512-prfsha512-x25519", esp.AES128CBCSHA384},
	} {
		t.Run(c.ike+"/"+c.esp, func(t *testing.T) {
			ca, cb := peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false)
			ca.IKE = []IKEProposal{mustIKE(t, c.ike)}
			ca.ESP = []ESPProposal{mustESP(t, c.esp)}
			cb.IKE, cb.ESP = ca.IKE, ca.ESP
			p := newPair(t, ca, cb, nil)
			a, _ := p.up()
			if s := p.a.SAs()[0].Suite; s != c.suite || p.b.SAs()[0].Suite != c.suite {
				t.Fatalf("IKE suites %s / %s, want %s", s, p.b.SAs()[0].Suite, c.suite)
			}
			if in, out := a.InConfig(0).Key, a.OutConfig().Key; a.Cipher != c.cipher || len(in) != c.cipher.KeyLen() || len(out) != c.cipher.KeyLen() {
				t.Fatalf("child %v with %d-byte keys", a.Cipher, len(in))
			}
			sealAcross(t, a, childUps(p.evB)[0])

			// Child rekey from the responder, with PFS in the proposal's group.
			p.evA, p.evB = nil, nil
			if err := p.b.Rekey(a.OutSPI); err != nil {
				t.Fatal(err)
			}
			p.run()
			na, nb := lastChild(t, p.evA, ChildUp), lastChild(t, p.evB, ChildUp)
			checkMirror(t, na, nb)
			if na.Cipher != c.cipher || bytes.Equal(na.InConfig(0).Key, a.InConfig(0).Key) || na.Replaces != a.InSPI {
				t.Fatalf("rekeyed child %v replaces %x", na.Cipher, na.Replaces)
			}
			sealAcross(t, nb, na)

			// IKE SA rekey: the new SA has the same suite and new keys, and a
			// child rekey through it works.
			old := p.a.SAs()[0]
			p.evA, p.evB = nil, nil
			if err := p.a.RekeyIKE("b"); err != nil {
				t.Fatal(err)
			}
			p.run()
			sas := p.a.SAs()
			if len(sas) != 1 || sas[0].SPIi == old.SPIi || sas[0].Suite != c.suite || len(p.b.SAs()) != 1 {
				t.Fatalf("after IKE rekey: %+v / %+v", sas, p.b.SAs())
			}
			p.evA, p.evB = nil, nil
			if err := p.a.Rekey(na.InSPI); err != nil {
				t.Fatal(err)
			}
			p.run()
			checkMirror(t, lastChild(t, p.evA, ChildUp), lastChild(t, p.evB, ChildUp))
			sealAcross(t, lastChild(t, p.evA, ChildUp), lastChild(t, p.evB, ChildUp))
		})
	}
}

// sealAcross seals a packet with from's outbound SA and opens it with to's
// inbound SA, through the ESP engine: the negotiated suite and keys are
// ones the dataplane takes and both ends agree on.
func sealAcross(t *testing.T, from, to ChildSA) {
	t.Helper()
	out, err1 := esp.NewSA(from.OutConfig())
	in, err2 := esp.NewSA(to.InConfig(0))
	if err1 != nil || err2 != nil {
		t.Fatalf("esp.NewSA: %v, %v", err1, err2)
	}
	buf := make([]byte, 512)
	off := esp.Headroom
	copy(buf[off:], "label stack + packet")
	pkt, err := out.Seal(buf, off, 20, esp.NextHeaderMPLS)
	if err != nil {
		t.Fatal(err)
	}
	start := off - esp.HeaderLen - from.Cipher.IVLen()
	pl, nh, err := in.Open(buf, start, len(pkt))
	if err != nil || nh != esp.NextHeaderMPLS || string(pl) != "label stack + packet" {
		t.Fatalf("open: %v %d %q", err, nh, pl)
	}
}

// A list mixing AEAD and CBC proposals, in either order: the responder
// takes the first of the initiator's proposals it accepts, whatever its
// own order, and answers with that proposal's number (RFC 7296 section
// 2.7 and 3.3.6).
func TestMixedProposalOrder(t *testing.T) {
	const (
		ikeCBC  = "aes256-sha384-modp2048"
		ikeAEAD = "aes128gcm16-prf-sha256-modp2048"
		espCBC  = "aes256-sha256"
		espAEAD = "aes256gcm16"
	)
	for _, c := range []struct {
		name       string
		iIKE, rIKE []string
		iESP, rESP []string
		wantIKE    string
		wantNum    uint8
		wantCipher esp.Cipher
	}{
		{"cbc first, responder prefers aead", []string{ikeCBC, ikeAEAD}, []string{ikeAEAD, ikeCBC},
			[]string{espCBC, espAEAD}, []string{espAEAD, espCBC}, "aes256-sha384-prfsha384-modp2048", 1, esp.AES256CBCSHA256},
		{"aead first, responder prefers cbc", []string{ikeAEAD, ikeCBC}, []string{ikeCBC, ikeAEAD},
			[]string{espAEAD, espCBC}, []string{espCBC, espAEAD}, "aes128gcm16-prfsha256-modp2048", 1, esp.AES256GCM16},
		{"cbc first, responder takes only aead", []string{ikeCBC, ikeAEAD}, []string{ikeAEAD},
			[]string{espCBC, espAEAD}, []string{espAEAD}, "aes128gcm16-prfsha256-modp2048", 2, esp.AES256GCM16},
		{"aead first, responder takes only cbc", []string{ikeAEAD, ikeCBC}, []string{ikeCBC},
			[]string{espAEAD, espCBC}, []string{espCBC}, "aes256-sha384-prfsha384-modp2048", 2, esp.AES256CBCSHA256},
	} {
		t.Run(c.name, func(t *testing.T) {
			ca, cb := peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false)
			for _, s := range c.iIKE {
				ca.IKE = append(ca.IKE, mustIKE(t, s))
			}
			for _, s := range c.rIKE {
				cb.IKE = append(cb.IKE, mustIKE(t, s))
			}
			for _, s := range c.iESP {
				ca.ESP = append(ca.ESP, mustESP(t, s))
			}
			for _, s := range c.rESP {
				cb.ESP = append(cb.ESP, mustESP(t, s))
			}
			p := newPair(t, ca, cb, nil)
			var answered []Proposal
			p.drop = func(d Datagram) bool {
				if m, err := ParseMessage(d.Data); err == nil && m.Exchange == IKESAInit && m.IsResponse() {
					if sp, ok := m.first(PayloadSA); ok {
						sa, err := ParseSA(sp.Body)
						if err != nil {
							t.Errorf("responder's SA payload: %v", err)
						}
						answered = sa.Proposals
					}
				}
				return false
			}
			a, _ := p.up()
			if len(answered) != 1 || answered[0].Num != c.wantNum {
				t.Fatalf("responder answered %+v, want one proposal numbered %d", answered, c.wantNum)
			}
			if s := p.a.SAs()[0].Suite; s != c.wantIKE || p.b.SAs()[0].Suite != s {
				t.Fatalf("IKE suite %s / %s, want %s", s, p.b.SAs()[0].Suite, c.wantIKE)
			}
			if a.Cipher != c.wantCipher {
				t.Fatalf("child %v, want %v", a.Cipher, c.wantCipher)
			}
			sealAcross(t, a, childUps(p.evB)[0])
		})
	}
}

// selectESP and acceptedESP on hand-built SA payloads: the proposal
// number is kept, INTEG NONE goes with an AEAD, an AEAD offered with a
// real integrity algorithm only or CBC offered without one is refused,
// and a response naming two integrity algorithms is refused.
func TestSelectIntegRules(t *testing.T) {
	gcm := []ESPProposal{{Encr: []Encr{AES128GCM16}}}
	cbc := []ESPProposal{{Encr: []Encr{AES128CBC}, Integ: []Integ{IntegHMACSHA512256, IntegHMACSHA256128}}}
	prop := func(num uint8, ts ...Transform) SA {
		ts = append(ts, Transform{Type: TransformESN, ID: 0})
		return SA{Proposals: []Proposal{{Num: num, Protocol: ProtoESP, SPI: be32(7), Transforms: ts}}}
	}
	sha256T, sha512T, none := transformOf(IntegHMACSHA256128), transformOf(IntegHMACSHA512256), transformOf(IntegNone)
	for _, c := range []struct {
		name string
		sa   SA
		ours []ESPProposal
		ok   bool
		want childSuite
	}{
		{"gcm, no integ", prop(3, transformOf(AES128GCM16)), gcm, true, childSuite{Encr: AES128GCM16}},
		{"gcm, integ none", prop(3, transformOf(AES128GCM16), none), gcm, true, childSuite{Encr: AES128GCM16}},
		{"gcm with sha256 only", prop(3, transformOf(AES128GCM16), sha256T), gcm, false, childSuite{}},
		{"cbc without integ", prop(3, transformOf(AES128CBC)), cbc, false, childSuite{}},
		{"cbc with none only", prop(3, transformOf(AES128CBC), none), cbc, false, childSuite{}},
		{"cbc, our preferred integ", prop(3, transformOf(AES128CBC), sha256T, sha512T), cbc, true,
			childSuite{Encr: AES128CBC, Integ: IntegHMACSHA512256}},
		{"cbc offered, we want gcm", prop(3, transformOf(AES128CBC), sha256T), gcm, false, childSuite{}},
	} {
		num, spi, s, ok := selectESP(c.sa, ProtoESP, c.ours, dhIgnore)
		if ok != c.ok || (ok && (num != 3 || spi != 7 || s != c.want)) {
			t.Errorf("%s: select %d %d %+v %v", c.name, num, spi, s, ok)
		}
	}
	if _, _, ok := acceptedESP(prop(1, transformOf(AES128CBC), sha256T, sha512T), ProtoESP, cbc, dhIgnore); ok {
		t.Error("a response with two integrity algorithms was accepted")
	}
	if _, s, ok := acceptedESP(prop(1, transformOf(AES128CBC), sha256T), ProtoESP, cbc, dhIgnore); !ok || s.Integ != IntegHMACSHA256128 {
		t.Errorf("a valid CBC response: %+v %v", s, ok)
	}
	// The chosen proposal carries the integrity transform.
	sa, err := ParseSA(chosenESP(4, childSuite{Encr: AES256CBC, Integ: IntegHMACSHA384192}, 9).Body)
	if err != nil || len(sa.Proposals) != 1 || sa.Proposals[0].Num != 4 || !has(sa.Proposals[0].Transforms, transformOf(IntegHMACSHA384192)) {
		t.Errorf("chosenESP: %+v %v", sa, err)
	}
}

// Every (ENCR, INTEG) pair maps to the esp suite of the same strongSwan
// name, and the pairs RFC 5282 and RFC 7296 forbid map to none.
func TestESPCipherPairs(t *testing.T) {
	for _, e := range []Encr{AES128CBC, AES256CBC} {
		for _, i := range []Integ{IntegHMACSHA256128, IntegHMACSHA384192, IntegHMACSHA512256} {
			c := espCipher(e, i)
			if c.String() != e.String()+"-"+i.String() || c.IsAEAD() || c.KeyLen() != e.KeyMatLen()+i.KeyLen() {
				t.Errorf("%s + %s -> %v (%d-byte keys)", e, i, c, c.KeyLen())
			}
		}
		if c := espCipher(e, IntegNone); c != 0 {
			t.Errorf("%s without integrity -> %v", e, c)
		}
	}
	for _, e := range []Encr{AES128GCM16, AES256GCM16, ChaCha20Poly1305} {
		if c := espCipher(e, IntegNone); c.String() != e.String() || c.KeyLen() != e.KeyMatLen() {
			t.Errorf("%s -> %v", e, c)
		}
		if c := espCipher(e, IntegHMACSHA256128); c != 0 {
			t.Errorf("%s with integrity -> %v", e, c)
		}
	}
}
