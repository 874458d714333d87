package ike

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/ipsec/ah"
)

// AH child SAs (RFC 4302) negotiated by IKEv2: PeerConfig.AH, an explicit
// choice per peer, never a downgrade from ESP nor an upgrade to it.

func ahPeers(integ ...Integ) (PeerConfig, PeerConfig) {
	ca, cb := peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false)
	ca.AH = []AHProposal{{Integ: integ}}
	cb.AH = []AHProposal{{Integ: []Integ{IntegHMACSHA256128, IntegAES128GMAC, IntegAES256GMAC}}}
	return ca, cb
}

// The offer: Protocol ID AH (2), INTEG and ESN transforms, no ENCR (RFC
// 7296 sections 3.3.1 and 3.3.3); the answer names one INTEG.
func TestAHProposalOnTheWire(t *testing.T) {
	ps := []ESPProposal{AHProposal{Integ: []Integ{IntegAES128GMAC, IntegHMACSHA256128}, ESN: ESNOn}.Child(),
		AHProposal{Integ: []Integ{IntegAES256GMAC}}.Child()}
	sa, err := ParseSA(espSAPayload(ProtoAH, ps, 0x1234, false).Body)
	if err != nil || len(sa.Proposals) != 2 {
		t.Fatalf("ParseSA: %+v %v", sa, err)
	}
	want := [][]Transform{
		{{Type: TransformINTEG, ID: 9}, {Type: TransformINTEG, ID: 12}, {Type: TransformESN, ID: 1}},
		{{Type: TransformINTEG, ID: 11}, {Type: TransformESN, ID: 1}, {Type: TransformESN, ID: 0}},
	}
	for i, p := range sa.Proposals {
		if p.Protocol != ProtoAH || p.Num != uint8(i+1) || !bytes.Equal(p.SPI, []byte{0, 0, 0x12, 0x34}) {
			t.Errorf("proposal %d: protocol %d num %d spi %x", i, p.Protocol, p.Num, p.SPI)
		}
		if len(p.Transforms) != len(want[i]) {
			t.Fatalf("proposal %d transforms %+v, want %+v", i, p.Transforms, want[i])
		}
		for j, tr := range p.Transforms {
			if tr.Type != want[i][j].Type || tr.ID != want[i][j].ID || tr.KeyLen != 0 {
				t.Errorf("proposal %d transform %d: %+v, want %+v", i, j, tr, want[i][j])
			}
		}
	}
	ans, err := ParseSA(chosenESP(2, childSuite{AH: true, Integ: IntegAES256GMAC, ESN: false}, 0x99).Body)
	if err != nil || len(ans.Proposals) != 1 {
		t.Fatalf("chosen: %+v %v", ans, err)
	}
	if p := ans.Proposals[0]; p.Protocol != ProtoAH || p.Num != 2 || len(p.Transforms) != 2 ||
		p.Transforms[0] != (Transform{Type: TransformINTEG, ID: 11}) || p.Transforms[1] != (Transform{Type: TransformESN, ID: 0}) {
		t.Errorf("chosen AH proposal %+v", p)
	}
}

// Selection: an AH peer takes only AH proposals without ENCR, an ESP
// peer only ESP ones, whatever else the offer holds.
func TestSelectChildProtocol(t *testing.T) {
	ahOurs := []ESPProposal{AHProposal{Integ: []Integ{IntegHMACSHA256128, IntegAES128GMAC}}.Child()}
	espOurs := []ESPProposal{{Encr: []Encr{AES128GCM16}}}
	esn0 := Transform{Type: TransformESN, ID: 0}
	sha, gmac := transformOf(IntegHMACSHA256128), transformOf(IntegAES128GMAC)
	espProp := Proposal{Num: 1, Protocol: ProtoESP, SPI: be32(0x500), Transforms: []Transform{transformOf(AES128GCM16), esn0}}
	ahProp := Proposal{Num: 2, Protocol: ProtoAH, SPI: be32(0x600), Transforms: []Transform{gmac, sha, esn0}}
	ahWithEncr := Proposal{Num: 3, Protocol: ProtoAH, SPI: be32(0x700), Transforms: []Transform{transformOf(AES128GCM16), sha, esn0}}
	ahUnknownInteg := Proposal{Num: 4, Protocol: ProtoAH, SPI: be32(0x800), Transforms: []Transform{{Type: TransformINTEG, ID: 5}, esn0}}
	for _, c := range []struct {
		name    string
		props   []Proposal
		proto   ProtocolID
		ours    []ESPProposal
		ok      bool
		num     uint8
		spi     uint32
		wantAH  bool
		wantInt Integ
	}{
		{"AH peer, ESP then AH offered", []Proposal{espProp, ahProp}, ProtoAH, ahOurs, true, 2, 0x600, true, IntegHMACSHA256128},
		{"ESP peer, ESP then AH offered", []Proposal{espProp, ahProp}, ProtoESP, espOurs, true, 1, 0x500, false, IntegNone},
		{"ESP peer, AH only offered", []Proposal{ahProp}, ProtoESP, espOurs, false, 0, 0, false, 0},
		{"AH peer, ESP only offered", []Proposal{espProp}, ProtoAH, ahOurs, false, 0, 0, false, 0},
		{"AH peer, AH with an ENCR", []Proposal{ahWithEncr}, ProtoAH, ahOurs, false, 0, 0, false, 0},
		{"AH peer, AH with an INTEG AH does not take", []Proposal{ahUnknownInteg}, ProtoAH, ahOurs, false, 0, 0, false, 0},
		{"ESP peer with AH proposals as ESP", []Proposal{{Num: 1, Protocol: ProtoESP, SPI: be32(0x500), Transforms: []Transform{sha, esn0}}}, ProtoESP, espOurs, false, 0, 0, false, 0},
	} {
		num, spi, s, ok := selectESP(SA{Proposals: c.props}, c.proto, c.ours, dhIgnore)
		if ok != c.ok || ok && (num != c.num || spi != c.spi || s.AH != c.wantAH || s.Integ != c.wantInt) {
			t.Errorf("%s: num %d spi %x suite %+v ok %v", c.name, num, spi, s, ok)
		}
		if ok && c.wantAH && (s.cipher() != 0 || !s.ahInteg().IsValid()) {
			t.Errorf("%s: AH suite maps to cipher %v, AH %v", c.name, s.cipher(), s.ahInteg())
		}
	}
	// The initiator's check of the answer: one INTEG, no ENCR, for AH.
	for _, c := range []struct {
		name string
		p    Proposal
		ok   bool
	}{
		{"one INTEG", Proposal{Num: 1, Protocol: ProtoAH, SPI: be32(0x600), Transforms: []Transform{sha, esn0}}, true},
		{"two INTEGs", Proposal{Num: 1, Protocol: ProtoAH, SPI: be32(0x600), Transforms: []Transform{sha, gmac, esn0}}, false},
		{"no INTEG", Proposal{Num: 1, Protocol: ProtoAH, SPI: be32(0x600), Transforms: []Transform{esn0}}, false},
		{"an ENCR", Proposal{Num: 1, Protocol: ProtoAH, SPI: be32(0x600), Transforms: []Transform{transformOf(AES128GCM16), sha, esn0}}, false},
		{"ESP answer to an AH offer", Proposal{Num: 1, Protocol: ProtoESP, SPI: be32(0x600), Transforms: []Transform{sha, esn0}}, false},
	} {
		if _, _, ok := acceptedESP(SA{Proposals: []Proposal{c.p}}, ProtoAH, ahOurs, dhIgnore); ok != c.ok {
			t.Errorf("accepted %s: %v, want %v", c.name, ok, c.ok)
		}
	}
}

// KEYMAT for AH is the integrity key alone per direction (RFC 7296
// section 2.17), with AES-GMAC's 4-byte salt after the AES key (RFC 4543
// section 8.1), initiator to responder first: computed here with
// crypto/hmac, not the engine's prf+.
func TestAHKeyMat(t *testing.T) {
	skd := bytes.Repeat([]byte{0x5d}, 32)
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	var stream, prev []byte
	for i := byte(1); len(stream) < 2*36; i++ {
		m := hmac.New(sha256.New, skd)
		m.Write(prev)
		m.Write(ni)
		m.Write(nr)
		m.Write([]byte{i})
		prev = m.Sum(nil)
		stream = append(stream, prev...)
	}
	for _, c := range []struct {
		integ Integ
		n     int
		ah    ah.Integ
	}{{IntegHMACSHA256128, 32, ah.HMACSHA256128}, {IntegAES128GMAC, 20, ah.AES128GMAC}, {IntegAES256GMAC, 36, ah.AES256GMAC}} {
		s := childSuite{AH: true, Integ: c.integ}
		if s.keyMatLen() != c.n || s.ahInteg() != c.ah || c.ah.KeyLen() != c.n {
			t.Fatalf("%s: KEYMAT %d bytes, AH %v (key %d), want %d", c.integ, s.keyMatLen(), s.ahInteg(), c.ah.KeyLen(), c.n)
		}
		iToR, rToI := childKeys(PRFHMACSHA256, skd, s.keyMatLen(), nil, ni, nr)
		if !bytes.Equal(iToR, stream[:c.n]) || !bytes.Equal(rToI, stream[c.n:2*c.n]) {
			t.Errorf("%s: KEYMAT split wrong:\n%x %x\nwant %x", c.integ, iToR, rToI, stream[:2*c.n])
		}
	}
}

// Two engines negotiate AH children with each transform: both ends have
// the same AH transform and mirrored keys of the AH engine's length, and
// a packet sealed with one end's outbound key opens with the other's
// inbound key.
func TestAHChildBetweenEngines(t *testing.T) {
	for _, integ := range []Integ{IntegHMACSHA256128, IntegAES128GMAC, IntegAES256GMAC} {
		t.Run(integ.String(), func(t *testing.T) {
			ca, cb := ahPeers(integ)
			p := newPair(t, ca, cb, nil)
			a, b := p.up()
			want := ahIntegOf(integ)
			if a.AH != want || b.AH != want || a.Cipher != 0 || len(a.OutKey.Bytes()) != want.KeyLen() {
				t.Fatalf("child %v: AH %v, key %d bytes; want %v", a, a.AH, len(a.OutKey.Bytes()), want)
			}
			if !strings.Contains(a.String(), "ah "+want.String()+" (integrity only)") {
				t.Errorf("String %q does not say AH, integrity only", a.String())
			}
			sealAHAcross(t, a, b)
			sealAHAcross(t, b, a)
		})
	}
}

// sealAHAcross seals with from's outbound SA and opens with to's inbound.
func sealAHAcross(t *testing.T, from, to ChildSA) {
	t.Helper()
	out, err1 := ah.NewSA(ah.Config{SPI: from.OutSPI, Integ: from.AH, Key: from.OutKey.Bytes(), ESN: from.ESN})
	in, err2 := ah.NewSA(ah.Config{SPI: to.InSPI, Integ: to.AH, Key: to.InKey.Bytes(), ESN: to.ESN})
	if err1 != nil || err2 != nil {
		t.Fatalf("ah.NewSA: %v, %v", err1, err2)
	}
	buf := make([]byte, 512)
	off := ah.Headroom
	n := copy(buf[off:], "label stack + packet")
	pkt, err := out.SealTunnel(buf, off, n, ah.NextHeaderMPLS, from.Local.Addr(), from.Remote.Addr())
	if err != nil {
		t.Fatal(err)
	}
	start := len(buf[:off+n]) - len(pkt)
	pl, nh, err := in.Open(buf, start, len(pkt))
	if err != nil || nh != ah.NextHeaderMPLS || string(pl) != "label stack + packet" {
		t.Fatalf("open: %v %d %q", err, nh, pl)
	}
}

// No downgrade and no upgrade: an ESP peer refuses an AH-only offer, an
// AH peer an ESP-only one, with NO_PROPOSAL_CHOSEN; the IKE SA stays up
// without a child (RFC 7296 section 1.2), so nothing is installed.
func TestAHAndESPRefuseEachOther(t *testing.T) {
	for _, c := range []struct {
		name               string
		initAH, responseAH bool
	}{
		{"ESP responder, AH initiator", true, false},
		{"AH responder, ESP initiator", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ca, cb := peerCfg("b", addrA, addrB, true), peerCfg("a", addrB, addrA, false)
			if c.initAH {
				ca.AH = []AHProposal{{Integ: []Integ{IntegHMACSHA256128, IntegAES128GMAC}}}
			}
			if c.responseAH {
				cb.AH = []AHProposal{{Integ: []Integ{IntegHMACSHA256128}}}
			}
			var logA, logB bytes.Buffer
			p := newPair(t, ca, cb, nil)
			p.a.log, p.b.log = slogTo(&logA), slogTo(&logB)
			p.a.Start()
			p.run()
			if n, m := len(childUps(p.evA)), len(childUps(p.evB)); n != 0 || m != 0 {
				t.Fatalf("child SAs came up: a %d, b %d", n, m)
			}
			if k := kinds(p.evA); k[IKEUp] != 1 {
				t.Errorf("initiator events %v, want the IKE SA up without a child", k)
			}
			if !strings.Contains(logB.String(), "first child SA refused") || !strings.Contains(logA.String(), "NO_PROPOSAL_CHOSEN") {
				t.Errorf("no NO_PROPOSAL_CHOSEN:\nresponder: %s\ninitiator: %s", logB.String(), logA.String())
			}
		})
	}
}

// Rekey and delete of an AH child work as for ESP: REKEY_SA and Delete
// name protocol AH, the new child is AH with new keys, the old one goes.
func TestAHChildRekeyAndDelete(t *testing.T) {
	ca, cb := ahPeers(IntegAES128GMAC)
	ca.AH[0].DH, cb.AH[0].DH = []DHGroup{DHCurve25519}, []DHGroup{DHCurve25519}
	p := newPair(t, ca, cb, nil)
	a, b := p.up()
	p.evA, p.evB = nil, nil
	if err := p.a.Rekey(a.InSPI); err != nil {
		t.Fatal(err)
	}
	p.run()
	na, nb := lastChild(t, p.evA, ChildUp), lastChild(t, p.evB, ChildUp)
	checkMirror(t, na, nb)
	if na.AH != ah.AES128GMAC || na.Replaces != a.InSPI || nb.Replaces != b.InSPI || na.InKey.Equal(a.InKey) {
		t.Fatalf("rekeyed child %v replaces %x, want AH aes128gmac replacing %x with new keys", na, na.Replaces, a.InSPI)
	}
	if lastChild(t, p.evA, ChildDown).InSPI != a.InSPI || lastChild(t, p.evB, ChildDown).InSPI != b.InSPI {
		t.Fatal("the old AH child was not deleted on both ends")
	}
	for _, e := range []*Engine{p.a, p.b} {
		if sas := e.SAs(); len(sas) != 1 || len(sas[0].Children) != 1 {
			t.Fatalf("after the rekey: %+v", sas)
		}
	}
	p.evA, p.evB = nil, nil
	if err := p.b.DeleteChild(nb.InSPI); err != nil {
		t.Fatal(err)
	}
	p.run()
	if lastChild(t, p.evA, ChildDown).InSPI != na.InSPI || len(p.a.SAs()[0].Children) != 0 {
		t.Fatal("the AH child's Delete was not honoured by the peer")
	}
}

// AH covers the outer addresses and has no UDP form: behind a NAT the
// child is refused, never installed UDP-encapsulated.
// The same pair with ESP gets its child (UDP-encapsulated).
func TestAHRefusedBehindNAT(t *testing.T) {
	for _, withAH := range []bool{false, true} {
		ca, cb := ahPeers(IntegHMACSHA256128)
		if !withAH {
			ca.AH, cb.AH = nil, nil
		}
		cb.RemoteAddr = natIP
		cb.RemoteID = AddrIdentity(addrA)
		cb.RemoteTS = []TrafficSelector{TSHost(addrA)}
		p := newPair(t, ca, cb, nil)
		p.nat = true
		p.a.Start()
		p.run()
		if k := kinds(p.evA); k[IKEUp] != 1 {
			t.Fatalf("AH %v: IKE SA not up across the NAT: %v", withAH, k)
		}
		n, m := len(childUps(p.evA)), len(childUps(p.evB))
		if withAH && (n != 0 || m != 0) {
			t.Fatalf("AH children came up across a NAT: a %d, b %d", n, m)
		}
		if !withAH && (n != 1 || m != 1 || !childUps(p.evA)[0].UDPEncap) {
			t.Fatalf("ESP children across the NAT: a %d, b %d", n, m)
		}
	}
}

// Configuration: AH transforms only, no UDP encapsulation.
func TestAHPeerConfigChecks(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*PeerConfig)
		want string
	}{
		{"HMAC-SHA2-384 is not an AH transform here", func(p *PeerConfig) { p.AH = []AHProposal{{Integ: []Integ{IntegHMACSHA384192}}} }, ".ah[0].integ[0]"},
		{"no integ", func(p *PeerConfig) { p.AH = []AHProposal{{}} }, ".ah[0]"},
		{"forced UDP", func(p *PeerConfig) {
			p.AH = []AHProposal{{Integ: []Integ{IntegHMACSHA256128}}}
			p.ForceUDPEncap = true
		}, ".ah"},
	} {
		pc := peerCfg("b", addrA, addrB, true)
		c.mod(&pc)
		_, err := NewEngine(Config{Peers: []PeerConfig{pc}})
		if err == nil || !strings.Contains(err.Error(), "peers[b]"+c.want+":") {
			t.Errorf("%s: %v, want a config error naming %s", c.name, err, c.want)
		}
	}
	// GMAC is AH's only: an ESP CBC proposal with it is refused.
	pc := peerCfg("b", addrA, addrB, true)
	pc.ESP = []ESPProposal{{Encr: []Encr{AES128CBC}, Integ: []Integ{IntegAES128GMAC}}}
	if _, err := NewEngine(Config{Peers: []PeerConfig{pc}}); err == nil {
		t.Error("an ESP proposal with AES-GMAC as integrity was accepted")
	}
}
