package ike

import (
	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// ikeSuite is a negotiated IKE SA transform set. Integ is IntegNone with
// an AEAD.
type ikeSuite struct {
	Encr  Encr
	Integ Integ
	PRF   PRF
	DH    DHGroup
}

func (s ikeSuite) String() string {
	r := s.Encr.String() + "-"
	if s.Integ != IntegNone {
		r += s.Integ.String() + "-"
	}
	return r + s.PRF.String() + "-" + s.DH.String()
}

// childSuite is a negotiated child SA transform set. DH is the PFS group
// of a CREATE_CHILD_SA exchange, DHNone otherwise; Integ is IntegNone
// with an AEAD. An AH child (AH set) has Integ alone, no Encr.
type childSuite struct {
	AH    bool
	Encr  Encr
	Integ Integ
	ESN   bool
	DH    DHGroup
}

// cipher is the ESP engine's suite for s; 0 for AH.
func (s childSuite) cipher() esp.Cipher {
	if s.AH {
		return 0
	}
	return espCipher(s.Encr, s.Integ)
}

// ahInteg is the AH engine's transform for an AH suite; 0 for ESP.
func (s childSuite) ahInteg() ah.Integ {
	if s.AH {
		return ahIntegOf(s.Integ)
	}
	return 0
}

// keyMatLen is the KEYMAT one direction takes (RFC 7296 section 2.17):
// the ESP cipher's key layout, or AH's integrity key alone.
func (s childSuite) keyMatLen() int {
	if s.AH {
		return s.Integ.AHKeyMatLen()
	}
	return s.cipher().KeyLen()
}

func (s childSuite) String() string {
	r := s.Encr.String()
	switch {
	case s.AH:
		r = "ah-" + s.Integ.String()
	case s.Integ != IntegNone:
		r += "-" + s.Integ.String()
	}
	if s.DH != DHNone {
		r += "-" + s.DH.String()
	}
	if s.ESN {
		return r + "-esn"
	}
	return r + "-noesn"
}

// ikeSAPayload offers ps; spi is empty in IKE_SA_INIT and the new 8-byte
// SPI when rekeying the IKE SA.
func ikeSAPayload(ps []IKEProposal, spi []byte) Payload {
	var sa SA
	for i, p := range ps {
		pr := Proposal{Num: uint8(i + 1), Protocol: ProtoIKE, SPI: spi}
		for _, e := range p.Encr {
			pr.Transforms = append(pr.Transforms, transformOf(e))
		}
		for _, i := range p.Integ {
			pr.Transforms = append(pr.Transforms, transformOf(i))
		}
		for _, f := range p.PRF {
			pr.Transforms = append(pr.Transforms, Transform{Type: TransformPRF, ID: uint16(f)})
		}
		for _, g := range p.DH {
			pr.Transforms = append(pr.Transforms, Transform{Type: TransformDH, ID: uint16(g)})
		}
		sa.Proposals = append(sa.Proposals, pr)
	}
	return sa.Payload()
}

// chosenIKE is the responder's answer: the accepted proposal alone, with
// one transform of each type (no INTEG with an AEAD).
func chosenIKE(num uint8, s ikeSuite, spi []byte) Payload {
	ts := []Transform{transformOf(s.Encr)}
	if s.Integ != IntegNone {
		ts = append(ts, transformOf(s.Integ))
	}
	ts = append(ts, Transform{Type: TransformPRF, ID: uint16(s.PRF)}, Transform{Type: TransformDH, ID: uint16(s.DH)})
	return SA{Proposals: []Proposal{{Num: num, Protocol: ProtoIKE, SPI: spi, Transforms: ts}}}.Payload()
}

func esnIDs(m ESNMode) []uint16 {
	switch m {
	case ESNOn:
		return []uint16{1}
	case ESNOff:
		return []uint16{0}
	}
	return []uint16{1, 0}
}

// espSAPayload offers ps with our inbound SPI; pfs adds the DH lists
// (CREATE_CHILD_SA only). proto is ProtoESP, or ProtoAH for AH proposals
// (no Encr, so no ENCR transform).
func espSAPayload(proto ProtocolID, ps []ESPProposal, spi uint32, pfs bool) Payload {
	var sa SA
	for i, p := range ps {
		pr := Proposal{Num: uint8(i + 1), Protocol: proto, SPI: be32(spi)}
		for _, e := range p.Encr {
			pr.Transforms = append(pr.Transforms, transformOf(e))
		}
		for _, i := range p.Integ {
			pr.Transforms = append(pr.Transforms, transformOf(i))
		}
		if pfs {
			for _, g := range p.DH {
				pr.Transforms = append(pr.Transforms, Transform{Type: TransformDH, ID: uint16(g)})
			}
		}
		for _, id := range esnIDs(p.ESN) {
			pr.Transforms = append(pr.Transforms, Transform{Type: TransformESN, ID: id})
		}
		sa.Proposals = append(sa.Proposals, pr)
	}
	return sa.Payload()
}

// chosenESP is the responder's answer for a child SA: ENCR (ESP only),
// INTEG (with AES-CBC, and AH's only transform), [DH] and ESN.
func chosenESP(num uint8, s childSuite, spi uint32) Payload {
	var ts []Transform
	proto := ProtoAH
	if !s.AH {
		ts, proto = append(ts, transformOf(s.Encr)), ProtoESP
	}
	if s.Integ != IntegNone {
		ts = append(ts, transformOf(s.Integ))
	}
	if s.DH != DHNone {
		ts = append(ts, Transform{Type: TransformDH, ID: uint16(s.DH)})
	}
	esn := uint16(0)
	if s.ESN {
		esn = 1
	}
	ts = append(ts, Transform{Type: TransformESN, ID: esn})
	return SA{Proposals: []Proposal{{Num: num, Protocol: proto, SPI: be32(spi), Transforms: ts}}}.Payload()
}

// offered groups the usable transforms of one received proposal by type
// (INTEG NONE included, as pickInteg needs to see it). ok is false when
// the proposal holds a transform type we do not know.
func offered(p Proposal) (m map[TransformType][]Transform, ok bool) {
	m = map[TransformType][]Transform{}
	for _, t := range p.Transforms {
		switch t.Type {
		case TransformENCR, TransformINTEG, TransformPRF, TransformDH, TransformESN:
		default:
			return nil, false
		}
		if !t.Unknown {
			m[t.Type] = append(m[t.Type], t)
		}
	}
	return m, true
}

func has(ts []Transform, t Transform) bool {
	for _, x := range ts {
		if x.ID == t.ID && x.KeyLen == t.KeyLen {
			return true
		}
	}
	return false
}

// selectIKE picks, in the initiator's proposal order, the first proposal
// our config accepts, taking our preferred transform of each type.
func selectIKE(sa SA, ours []IKEProposal, spiLen int) (num uint8, spi []byte, s ikeSuite, ok bool) {
	for _, p := range sa.Proposals {
		if p.Protocol != ProtoIKE || len(p.SPI) != spiLen {
			continue
		}
		m, good := offered(p)
		if !good {
			continue
		}
		for _, o := range ours {
			e, ok1 := pickEncr(m[TransformENCR], o.Encr)
			i, ok4 := pickInteg(m[TransformINTEG], e, o.Integ)
			f, ok2 := pick(m[TransformPRF], o.PRF)
			g, ok3 := pick(m[TransformDH], o.DH)
			if ok1 && ok2 && ok3 && ok4 {
				return p.Num, p.SPI, ikeSuite{Encr: e, Integ: i, PRF: f, DH: g}, true
			}
		}
	}
	return 0, nil, ikeSuite{}, false
}

// dhMode says how a child SA proposal's DH transforms count.
type dhMode uint8

const (
	// dhIgnore: IKE_AUTH, where the child is keyed from the IKE SA's
	// exchange and DH transforms are meaningless (RFC 7296 section 1.2).
	dhIgnore dhMode = iota
	// dhRequired: CREATE_CHILD_SA with KE: a common group must be chosen.
	dhRequired
	// dhNone: CREATE_CHILD_SA without KE: acceptable only if our proposal
	// does not demand PFS and the peer's allows NONE (or lists no group).
	dhNone
)

// selectESP is selectIKE for child SAs of protocol proto: ESP, or AH
// (ours then have no Encr). A proposal of the other protocol is never
// taken, so a PE configured for ESP refuses an AH-only offer and the
// reverse (no downgrade either way).
func selectESP(sa SA, proto ProtocolID, ours []ESPProposal, dh dhMode) (num uint8, spi uint32, s childSuite, ok bool) {
	for _, p := range sa.Proposals {
		if p.Protocol != proto || len(p.SPI) != 4 {
			continue
		}
		m, good := offered(p)
		if !good || len(m[TransformPRF]) > 0 || proto == ProtoAH && hasType(p, TransformENCR) {
			continue
		}
		for _, o := range ours {
			e, ok1 := pickEncr(m[TransformENCR], o.Encr)
			i, ok4 := pickInteg(m[TransformINTEG], e, o.Integ)
			if proto == ProtoAH {
				e, ok1 = Encr{}, true
				i, ok4 = pick(m[TransformINTEG], o.Integ)
			}
			esn, ok2 := pick(m[TransformESN], esnIDs(o.ESN))
			g, ok3 := DHGroup(0), true
			switch dh {
			case dhRequired:
				g, ok3 = pick(m[TransformDH], o.DH)
			case dhNone:
				_, noneOK := pick(m[TransformDH], []DHGroup{DHNone})
				ok3 = len(o.DH) == 0 && (len(m[TransformDH]) == 0 || noneOK)
			}
			if ok1 && ok2 && ok3 && ok4 {
				return p.Num, getBE32(p.SPI), childSuite{AH: proto == ProtoAH, Encr: e, Integ: i, ESN: esn == 1, DH: g}, true
			}
		}
	}
	return 0, 0, childSuite{}, false
}

// hasType reports whether p holds a transform of type t, known or not.
func hasType(p Proposal, t TransformType) bool {
	for _, x := range p.Transforms {
		if x.Type == t {
			return true
		}
	}
	return false
}

func pickEncr(offer []Transform, ours []Encr) (Encr, bool) {
	for _, e := range ours {
		if has(offer, transformOf(e)) {
			return e, true
		}
	}
	return Encr{}, false
}

// pickInteg chooses the integrity transform that goes with the chosen
// cipher e: none for an AEAD, which the offer must allow by listing no
// INTEG or INTEG NONE (RFC 5282 section 8), and our preferred offered one
// for AES-CBC (never NONE: ours lists none).
func pickInteg(offer []Transform, e Encr, ours []Integ) (Integ, bool) {
	if e.IsAEAD() {
		return IntegNone, len(offer) == 0 || has(offer, transformOf(IntegNone))
	}
	return pick(offer, ours)
}

func pick[T ~uint16](offer []Transform, ours []T) (T, bool) {
	for _, v := range ours {
		if has(offer, Transform{ID: uint16(v)}) {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// acceptedIKE checks a responder's IKE SA payload against what we offered:
// exactly one proposal, one transform of each type, all from our offer.
func acceptedIKE(sa SA, ours []IKEProposal, spiLen int) (spi []byte, s ikeSuite, ok bool) {
	if len(sa.Proposals) != 1 {
		return nil, s, false
	}
	p := sa.Proposals[0]
	m, good := offered(p)
	if !good || len(m[TransformENCR]) != 1 || len(m[TransformINTEG]) > 1 || len(m[TransformPRF]) != 1 || len(m[TransformDH]) != 1 {
		return nil, s, false
	}
	_, spi, s, ok = selectIKE(sa, ours, spiLen)
	return spi, s, ok
}

// acceptedESP is acceptedIKE for child SAs of protocol proto. An AH
// answer has exactly one INTEG and no ENCR.
func acceptedESP(sa SA, proto ProtocolID, ours []ESPProposal, dh dhMode) (spi uint32, s childSuite, ok bool) {
	if len(sa.Proposals) != 1 {
		return 0, s, false
	}
	m, good := offered(sa.Proposals[0])
	one := good && len(m[TransformESN]) == 1 && len(m[TransformDH]) <= 1
	if proto == ProtoAH {
		one = one && len(m[TransformENCR]) == 0 && len(m[TransformINTEG]) == 1
	} else {
		one = one && len(m[TransformENCR]) == 1 && len(m[TransformINTEG]) <= 1
	}
	if !one {
		return 0, s, false
	}
	_, spi, s, ok = selectESP(sa, proto, ours, dh)
	return spi, s, ok
}

func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func getBE32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
