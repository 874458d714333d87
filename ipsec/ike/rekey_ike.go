package ike

import "encoding/binary"

// Rekeying the IKE SA with CREATE_CHILD_SA (RFC 7296 sections 1.3.2 and
// 2.18): the new SA takes over the child SAs, and the side that started the
// rekey deletes the old one.

// ikeRekey is our CREATE_CHILD_SA rekeying the IKE SA.
type ikeRekey struct {
	ni []byte
	ns *ikeSA // the new SA, registered under its SPI but not live
}

// rekeyIKE starts rekeying the IKE SA:
//
//	HDR, SK {SA, Ni, KEi}
func (sa *ikeSA) rekeyIKE() {
	if sa.rekey != nil || sa.state != stateEstablished {
		return
	}
	ns := &ikeSA{e: sa.e, peer: sa.peer, initiator: true, spiI: sa.e.newIKESPI(), state: stateInitSent,
		local: sa.local, remote: sa.remote, natt: sa.natt}
	dh, err := newKeyShare(sa.suite.DH, sa.e.rand)
	if err != nil {
		return
	}
	sa.e.sas[ns.spiI] = ns
	r := &ikeRekey{ni: sa.e.nonce(), ns: ns}
	sa.rekey = r
	ps := []Payload{ikeSAPayload(sa.peer.IKE, binary.BigEndian.AppendUint64(nil, ns.spiI)),
		NoncePayload(r.ni), KE{Group: sa.suite.DH, Data: dh.public()}.Payload()}
	sa.e.log.Info("rekeying IKE SA", sa.logArgs()...)
	sa.request(&request{x: CreateChildSA, payloads: func() []Payload { return ps },
		onResponse: func(m *Message) { sa.ikeRekeyed(m, r, dh) }})
}

func (sa *ikeSA) ikeRekeyed(m *Message, r *ikeRekey, dh keyShare) {
	ns := r.ns
	fail := func(why any) {
		delete(sa.e.sas, ns.spiI)
		sa.rekey = nil
		sa.rekeyAt = sa.e.now().Add(retryRekey)
		sa.e.log.Warn("IKE SA rekey failed; will retry", sa.logArgs("err", why)...)
	}
	for _, n := range m.notifies() {
		if n.Type.IsError() {
			fail(n.Type)
			return
		}
	}
	sp, ok1 := m.first(PayloadSA)
	np, ok2 := m.first(PayloadNonce)
	kp, ok3 := m.first(PayloadKE)
	if !ok1 || !ok2 || !ok3 {
		fail("response lacks SA, Nonce or KE")
		return
	}
	sap, err1 := ParseSA(sp.Body)
	nr, err2 := ParseNonce(np.Body)
	ke, err3 := ParseKE(kp.Body)
	if err1 != nil || err2 != nil || err3 != nil {
		fail("malformed response")
		return
	}
	spi, suite, ok := acceptedIKE(sap, sa.peer.IKE, 8)
	if !ok || suite.DH != sa.suite.DH || ke.Group != suite.DH {
		fail("responder chose a proposal we did not offer")
		return
	}
	if binary.BigEndian.Uint64(spi) == 0 {
		fail("responder's SPI for the new IKE SA is zero")
		return
	}
	gir, err := dh.shared(ke.Data)
	if err != nil {
		fail(err)
		return
	}
	ns.spiR, ns.suite, ns.ni, ns.nr = binary.BigEndian.Uint64(spi), suite, r.ni, append([]byte(nil), nr...)
	seed := skeyseedRekey(sa.suite.PRF, sa.keys.d, gir, ns.ni, ns.nr)
	if err := ns.installKeys(deriveIKEKeys(suite, seed, ns.ni, ns.nr, ns.spiI, ns.spiR)); err != nil {
		fail(err)
		return
	}
	ns.establish()
	sa.rekey = nil
	if x := sa.peerRekey; x != nil && lowestNonce(ns.ni, ns.nr, x.ni, x.nr) {
		// Collision; ours has the lowest nonce, so our new SA is
		// redundant. The children already live on the peer's new SA,
		// and the peer deletes the old one.
		sa.e.log.Info("IKE rekey collision: deleting our redundant SA", ns.logArgs()...)
		ns.deleteIKE()
		return
	}
	if x := sa.peerRekey; x != nil {
		ns.adopt(x) // the peer's new SA is the redundant one; it deletes it
	}
	ns.adopt(sa)
	sa.deleteIKE()
}

// adopt moves old's child SAs to sa, as an IKE rekey does (section 2.18).
func (sa *ikeSA) adopt(old *ikeSA) {
	for _, c := range old.children {
		c.sa = sa
		sa.children = append(sa.children, c)
	}
	old.children = nil
	sa.peerResources = sa.peerResources || old.peerResources
	if old.lease != nil {
		sa.lease, sa.client, old.lease = old.lease, old.client, nil
	}
	if old.gotIP4.IsValid() {
		sa.gotIP4 = old.gotIP4
	}
}

// answerIKERekey answers a peer's rekey of this IKE SA:
//
//	HDR, SK {SA, Nr, KEr}
func (sa *ikeSA) answerIKERekey(m *Message, sap SA, ni []byte) []Payload {
	num, spi, suite, ok := selectIKE(sap, sa.peer.IKE, 8)
	if !ok {
		return []Payload{Notify{Type: NotifyNoProposalChosen}.Payload()}
	}
	if binary.BigEndian.Uint64(spi) == 0 {
		// An IKE SA's SPI is never zero (RFC 7296 section 3.1).
		sa.e.log.Info("IKE SA rekey refused: initiator's SPI is zero", sa.logArgs()...)
		return []Payload{Notify{Type: NotifyInvalidSyntax}.Payload()}
	}
	kp, ok := m.first(PayloadKE)
	ke, err := ParseKE(kp.Body)
	if !ok || err != nil {
		return []Payload{Notify{Type: NotifyInvalidSyntax}.Payload()}
	}
	if ke.Group != suite.DH {
		return []Payload{Notify{Type: NotifyInvalidKEPayload, Data: []byte{byte(suite.DH >> 8), byte(suite.DH)}}.Payload()}
	}
	dh, err := newKeyShare(suite.DH, sa.e.rand)
	if err != nil {
		return []Payload{Notify{Type: NotifyNoProposalChosen}.Payload()}
	}
	gir, err := dh.shared(ke.Data)
	if err != nil {
		return []Payload{Notify{Type: NotifyInvalidSyntax}.Payload()}
	}
	ns := &ikeSA{e: sa.e, peer: sa.peer, spiI: binary.BigEndian.Uint64(spi), spiR: sa.e.newIKESPI(),
		suite: suite, ni: ni, nr: sa.e.nonce(), local: sa.local, remote: sa.remote, natt: sa.natt}
	seed := skeyseedRekey(sa.suite.PRF, sa.keys.d, gir, ns.ni, ns.nr)
	if err := ns.installKeys(deriveIKEKeys(suite, seed, ns.ni, ns.nr, ns.spiI, ns.spiR)); err != nil {
		return []Payload{Notify{Type: NotifyNoProposalChosen}.Payload()}
	}
	sa.e.sas[ns.spiR] = ns
	ns.establish()
	ns.adopt(sa)
	sa.replaced = true
	if sa.rekey != nil {
		sa.peerRekey = ns // collision: resolved when our response arrives
	}
	return []Payload{chosenIKE(num, suite, binary.BigEndian.AppendUint64(nil, ns.spiR)),
		NoncePayload(ns.nr), KE{Group: suite.DH, Data: dh.public()}.Payload()}
}
