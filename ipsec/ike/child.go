package ike

import (
	"bytes"
	"slices"
	"time"
)

type childState uint8

const (
	childActive   childState = iota
	childRekeying            // our CREATE_CHILD_SA rekeying it is in flight
	childRekeyed             // replaced; waiting for a Delete
	childDeleting            // our Delete is in flight
)

// childSA is one negotiated ESP or AH SA pair.
type childSA struct {
	sa                *ikeSA
	inSPI, outSPI     uint32
	suite             childSuite
	inKey, outKey     []byte
	mode              Mode
	localTS, remoteTS []TrafficSelector
	created           time.Time
	rekeyAt, expireAt time.Time
	state             childState
	replaces          uint32
	// peerRekey is the child a colliding rekey from the peer created,
	// with the nonces of that exchange (RFC 7296 section 2.8.1).
	peerRekey      *childSA
	peerNi, peerNr []byte
	// resource marks an extra per-resource child SA (RFC 9611) and the
	// children that rekey it: ChildSA.Resource.
	resource bool
}

// childInfo is the public view of c, with copies of its keys.
func (sa *ikeSA) childInfo(c *childSA) ChildSA {
	info := ChildSA{
		Peer: sa.peer.Name, InSPI: c.inSPI, OutSPI: c.outSPI, Cipher: c.suite.cipher(), AH: c.suite.ahInteg(),
		InKey: NewKeyMaterial(c.inKey), OutKey: NewKeyMaterial(c.outKey), ESN: c.suite.ESN, Mode: c.mode,
		Local: sa.local, Remote: sa.remote, UDPEncap: sa.natt && !c.suite.AH,
		LocalTS: c.localTS, RemoteTS: c.remoteTS, Lifetime: sa.peer.ChildLifetime,
		Replaces: c.replaces, Created: c.created, Resource: c.resource,
	}
	if l := sa.lease; l != nil {
		info.Client, info.VirtualIP4, info.VirtualIP6 = l.client.String(), l.v4, l.v6
	}
	if sa.gotIP4.IsValid() {
		info.VirtualIP4 = sa.gotIP4
	}
	return info
}

// keyChild derives c's keys. weInitiated says whether we sent the request
// of the exchange that made it: that side's outbound key comes first.
func (sa *ikeSA) keyChild(c *childSA, gir, ni, nr []byte, weInitiated bool) {
	iToR, rToI := childKeys(sa.suite.PRF, sa.keys.d, c.suite.keyMatLen(), gir, ni, nr)
	c.outKey, c.inKey = iToR, rToI
	if !weInitiated {
		c.outKey, c.inKey = rToI, iToR
	}
}

// install makes c live and reports it.
func (sa *ikeSA) install(c *childSA) {
	now := sa.e.now()
	c.sa, c.created = sa, now
	lt := sa.peer.ChildLifetime
	soft := lt.Soft
	if !sa.initiator {
		soft += (lt.Hard - lt.Soft) / 2 // see establish
	}
	c.rekeyAt, c.expireAt = now.Add(soft), now.Add(lt.Hard)
	sa.children = append(sa.children, c)
	sa.e.inSPIs[c.inSPI] = c
	sa.reserved = slices.DeleteFunc(sa.reserved, func(s uint32) bool { return s == c.inSPI })
	info := sa.childInfo(c)
	sa.e.log.Info("child SA up", sa.logArgs("child", info, "suite", c.suite.String())...)
	sa.e.emit(Event{Kind: ChildUp, Peer: sa.peer.Name, SPIi: sa.spiI, SPIr: sa.spiR, Child: info})
}

// removeChild forgets c and reports it down.
func (sa *ikeSA) removeChild(c *childSA) {
	if sa.e.inSPIs[c.inSPI] != c {
		return
	}
	delete(sa.e.inSPIs, c.inSPI)
	for i, x := range sa.children {
		if x == c {
			sa.children = append(sa.children[:i], sa.children[i+1:]...)
			break
		}
	}
	sa.e.log.Info("child SA down", sa.logArgs("in_spi", hex32(c.inSPI), "out_spi", hex32(c.outSPI))...)
	sa.e.emit(Event{Kind: ChildDown, Peer: sa.peer.Name, SPIi: sa.spiI, SPIr: sa.spiR, Child: sa.childInfo(c)})
	wipe(c.inKey, c.outKey)
}

func (sa *ikeSA) childByOut(spi uint32) *childSA {
	for _, c := range sa.children {
		if c.outSPI == spi {
			return c
		}
	}
	return nil
}

// offerChild is the initiator's child SA payloads: SA, TSi, TSr and the
// mode notify (nonces and KE are the caller's).
func (sa *ikeSA) offerChild(inSPI uint32, pfs bool, local, remote []TrafficSelector) []Payload {
	ps := []Payload{espSAPayload(sa.peer.childProto(), sa.peer.childProposals(), inSPI, pfs), TSPayload(true, local), TSPayload(false, remote)}
	if sa.peer.Mode == Transport {
		ps = append(ps, Notify{Type: NotifyUseTransportMode}.Payload())
	}
	return ps
}

// acceptChild checks the responder's child SA payloads against our offer
// and fills c (suite, SPI, selectors, mode). Keys are the caller's.
func (sa *ikeSA) acceptChild(m *Message, c *childSA, pfs bool) *NotifyError {
	for _, n := range m.notifies() {
		if n.Type.IsError() {
			return notifyErr(n.Type, "peer refused the child SA")
		}
	}
	sp, ok1 := m.first(PayloadSA)
	ti, ok2 := m.first(PayloadTSi)
	tr, ok3 := m.first(PayloadTSr)
	if !ok1 || !ok2 || !ok3 {
		return notifyErr(NotifyInvalidSyntax, "child SA response lacks SA, TSi or TSr")
	}
	sap, err := ParseSA(sp.Body)
	if err != nil {
		return notifyErr(NotifyInvalidSyntax, "%v", err)
	}
	mode := dhIgnore
	if m.Exchange == CreateChildSA {
		mode = dhNone
		if pfs {
			mode = dhRequired
		}
	}
	spi, suite, ok := acceptedESP(sap, sa.peer.childProto(), sa.peer.childProposals(), mode)
	if !ok || spi < 256 {
		return notifyErr(NotifyNoProposalChosen, "responder chose a child SA proposal we did not offer")
	}
	if suite.AH && sa.behindNAT() {
		return notifyErr(NotifyNoProposalChosen, "AH cannot cross the NAT detected between us")
	}
	tsi, err1 := ParseTS(ti.Body)
	tsr, err2 := ParseTS(tr.Body)
	if err1 != nil || err2 != nil || !within(tsi, c.localTS) || !within(tsr, c.remoteTS) {
		return notifyErr(NotifyTSUnacceptable, "responder's traffic selectors are not within ours")
	}
	_, transport := m.notify(NotifyUseTransportMode)
	if transport != (sa.peer.Mode == Transport) {
		return notifyErr(NotifyNoProposalChosen, "responder did not accept %s mode", sa.peer.Mode)
	}
	c.outSPI, c.suite, c.localTS, c.remoteTS, c.mode = spi, suite, tsi, tsr, sa.peer.Mode
	return nil
}

// within reports whether every selector of got lies inside one of ours.
func within(got, ours []TrafficSelector) bool {
	for _, g := range got {
		ok := false
		for _, o := range ours {
			if x, ok2 := g.Intersect(o); ok2 && x == g {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// narrow intersects the initiator's selectors with ours (section 2.9).
func narrow(theirs, ours []TrafficSelector) []TrafficSelector {
	var out []TrafficSelector
	for _, o := range ours {
		for _, t := range theirs {
			if x, ok := t.Intersect(o); ok {
				out = append(out, x)
			}
		}
	}
	return out
}

// answerChild negotiates a child SA as the responder of IKE_AUTH or
// CREATE_CHILD_SA. ni and nr are the exchange's nonces (the IKE SA's for
// IKE_AUTH); pfs allows a KE payload. It returns the child (installed)
// and the SA, [KEr], TSi, TSr (and mode notify) payloads, or an error.
func (sa *ikeSA) answerChild(m *Message, ni, nr []byte, pfs bool, replaces uint32, resource bool) (*childSA, []Payload, *NotifyError) {
	sp, ok1 := m.first(PayloadSA)
	ti, ok2 := m.first(PayloadTSi)
	tr, ok3 := m.first(PayloadTSr)
	if !ok1 || !ok2 || !ok3 {
		return nil, nil, notifyErr(NotifyInvalidSyntax, "child SA request lacks SA, TSi or TSr")
	}
	sap, err := ParseSA(sp.Body)
	if err != nil {
		return nil, nil, notifyErr(NotifyInvalidSyntax, "%v", err)
	}
	kp, hasKE := m.first(PayloadKE)
	hasKE = hasKE && pfs
	mode := dhIgnore
	switch {
	case hasKE:
		mode = dhRequired
	case pfs:
		mode = dhNone // CREATE_CHILD_SA without KE
	}
	num, outSPI, suite, ok := selectESP(sap, sa.peer.childProto(), sa.peer.childProposals(), mode)
	if !ok || outSPI < 256 {
		return nil, nil, notifyErr(NotifyNoProposalChosen, "no acceptable %s proposal", childProtoName(sa.peer.childProto()))
	}
	if suite.AH && sa.behindNAT() {
		return nil, nil, notifyErr(NotifyNoProposalChosen, "AH cannot cross the NAT detected between us")
	}
	tsi, err1 := ParseTS(ti.Body)
	tsr, err2 := ParseTS(tr.Body)
	if err1 != nil || err2 != nil {
		return nil, nil, notifyErr(NotifyInvalidSyntax, "bad traffic selectors")
	}
	remote, local := narrow(tsi, sa.remoteSelectors()), narrow(tsr, sa.peer.LocalTS)
	if len(remote) == 0 || len(local) == 0 {
		return nil, nil, notifyErr(NotifyTSUnacceptable, "traffic selectors %v === %v do not meet ours %v === %v", tsr, tsi, sa.peer.LocalTS, sa.peer.RemoteTS)
	}
	_, transport := m.notify(NotifyUseTransportMode)
	if transport != (sa.peer.Mode == Transport) {
		return nil, nil, notifyErr(NotifyNoProposalChosen, "peer asks for the wrong mode (we use %s)", sa.peer.Mode)
	}
	var gir, kePub []byte
	if hasKE {
		ke, err := ParseKE(kp.Body)
		if err != nil {
			return nil, nil, notifyErr(NotifyInvalidSyntax, "%v", err)
		}
		if ke.Group != suite.DH {
			return nil, nil, &NotifyError{Type: NotifyInvalidKEPayload, Data: []byte{byte(suite.DH >> 8), byte(suite.DH)}, Reason: "KE of another group"}
		}
		dh, err := newKeyShare(suite.DH, sa.e.rand)
		if err != nil {
			return nil, nil, notifyErr(NotifyNoProposalChosen, "%v", err)
		}
		if gir, err = dh.shared(ke.Data); err != nil {
			return nil, nil, notifyErr(NotifyInvalidSyntax, "%v", err)
		}
		kePub = dh.public()
	}
	c := &childSA{inSPI: sa.childSPI(resource, replaces), outSPI: outSPI, suite: suite, mode: sa.peer.Mode,
		localTS: local, remoteTS: remote, replaces: replaces, resource: resource}
	sa.keyChild(c, gir, ni, nr, false)
	sa.install(c)
	ps := []Payload{chosenESP(num, suite, c.inSPI)}
	if kePub != nil {
		ps = append(ps, KE{Group: suite.DH, Data: kePub}.Payload())
	}
	ps = append(ps, TSPayload(true, remote), TSPayload(false, local))
	if transport {
		ps = append(ps, Notify{Type: NotifyUseTransportMode}.Payload())
	}
	return c, ps, nil
}

// lowestNonce reports whether the lowest of the four nonces of two
// colliding exchanges is in ours (section 2.8.1).
func lowestNonce(ourNi, ourNr, theirNi, theirNr []byte) bool {
	a := minBytes(ourNi, ourNr)
	b := minBytes(theirNi, theirNr)
	return bytes.Compare(a, b) < 0
}

func minBytes(a, b []byte) []byte {
	if bytes.Compare(a, b) < 0 {
		return a
	}
	return b
}

// newChildSPI reserves an inbound SPI for a child SA of sa; drop releases
// reservations that never became a child (an exchange cut short).
func (sa *ikeSA) newChildSPI() uint32 {
	spi := sa.e.newChildSPI()
	sa.reserved = append(sa.reserved, spi)
	return spi
}

// childProtoName names a child SA protocol in logs.
func childProtoName(p ProtocolID) string {
	if p == ProtoAH {
		return "AH"
	}
	return "ESP"
}

// childDelete is the Delete payload for child SAs of sa's peer, of its
// child protocol (ESP or AH).
func (sa *ikeSA) childDelete(spis ...uint32) Payload {
	return Delete{Protocol: sa.peer.childProto(), SPIs: spis}.Payload()
}

// behindNAT reports whether NAT detection (RFC 7296 section 2.23) found
// a NAT between us. IKE on the NAT-T port alone is no NAT: strongSwan
// moves there for MOBIKE whether or not there is one.
func (sa *ikeSA) behindNAT() bool { return sa.natSelf || sa.natPeer }
