package ike

import (
	"encoding/binary"
	"slices"
	"time"
)

// CREATE_CHILD_SA (RFC 7296 section 1.3): rekeying child SAs and the IKE
// SA, make-before-break. The new SA is installed first; the old one is
// deleted with an INFORMATIONAL exchange by the side that started the
// rekey, so both ends accept traffic on the old SA until then.

// retryRekey is how long a refused rekey waits before trying again.
const retryRekey = 10 * time.Second

// rekeyChild starts rekeying old:
//
//	HDR, SK {N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr}
func (sa *ikeSA) rekeyChild(old *childSA) {
	g := DHNone
	if dhs := sa.peer.childProposals()[0].DH; len(dhs) > 0 {
		g = dhs[0]
	}
	sa.rekeyChildGroup(old, g)
}

// rekeyChildGroup rekeys old with a KE of group g (DHNone: no PFS).
func (sa *ikeSA) rekeyChildGroup(old *childSA, g DHGroup) {
	if old.state != childActive || sa.state != stateEstablished {
		return
	}
	old.state = childRekeying
	pfs := g != DHNone
	ni := sa.e.nonce()
	nc := &childSA{inSPI: sa.childSPI(old.resource, old.inSPI), localTS: old.localTS, remoteTS: old.remoteTS,
		replaces: old.inSPI, resource: old.resource}
	var dh keyShare
	ps := []Payload{Notify{Protocol: sa.peer.childProto(), SPI: be32(old.inSPI), Type: NotifyRekeySA}.Payload()}
	offer := sa.offerChild(nc.inSPI, pfs, nc.localTS, nc.remoteTS)
	ps = append(ps, offer[0], NoncePayload(ni))
	if pfs {
		var err error
		if dh, err = newKeyShare(g, sa.e.rand); err != nil {
			old.state = childActive
			return
		}
		ps = append(ps, KE{Group: g, Data: dh.public()}.Payload())
	}
	ps = append(ps, offer[1:]...)
	sa.e.log.Info("rekeying child SA", sa.logArgs("in_spi", hex32(old.inSPI))...)
	sa.request(&request{x: CreateChildSA, payloads: func() []Payload { return ps },
		onResponse: func(m *Message) { sa.childRekeyed(m, old, nc, ni, dh, g) }})
}

func (sa *ikeSA) childRekeyed(m *Message, old, nc *childSA, ni []byte, dh keyShare, g DHGroup) {
	retry := func(why any) {
		delete(sa.e.inSPIs, nc.inSPI)
		sa.e.log.Warn("child SA rekey failed; will retry", sa.logArgs("in_spi", hex32(old.inSPI), "err", why)...)
		if sa.e.inSPIs[old.inSPI] == old && old.state == childRekeying {
			old.state = childActive
			old.rekeyAt = sa.e.now().Add(retryRekey)
		}
	}
	if n, ok := m.notify(NotifyInvalidKEPayload); ok && len(n.Data) == 2 {
		// The responder wants another of our groups: ask again at once.
		want := DHGroup(binary.BigEndian.Uint16(n.Data))
		if want != g && sa.offersESPGroup(want) {
			delete(sa.e.inSPIs, nc.inSPI)
			old.state = childActive
			sa.rekeyChildGroup(old, want)
			return
		}
	}
	nr, why := sa.finishChild(m, nc, ni, dh, g)
	if why != nil {
		retry(why)
		return
	}
	sa.install(nc)
	if x := old.peerRekey; x != nil && lowestNonce(ni, nr, old.peerNi, old.peerNr) {
		// Collision, and ours holds the lowest nonce: our new SA is the
		// redundant one. The peer deletes the old SA.
		sa.e.log.Info("child rekey collision: deleting our redundant SA", sa.logArgs("in_spi", hex32(nc.inSPI))...)
		old.state = childRekeyed
		sa.deleteChild(nc)
		return
	}
	old.state = childRekeyed
	if sa.e.inSPIs[old.inSPI] == old { // not expired meanwhile (expireChild deleted it)
		sa.deleteChild(old)
	}
}

// finishChild checks the responder's answer to our CREATE_CHILD_SA for
// nc (SA, Nr, [KEr,] TSi, TSr) and keys nc, which it does not install.
// It returns the responder's nonce, or why the answer is refused.
func (sa *ikeSA) finishChild(m *Message, nc *childSA, ni []byte, dh keyShare, g DHGroup) (nr []byte, why any) {
	pfs := g != DHNone
	if nerr := sa.acceptChild(m, nc, pfs); nerr != nil {
		return nil, nerr
	}
	if nc.suite.DH != g {
		return nil, "responder chose a DH group other than our KE's"
	}
	np, ok := m.first(PayloadNonce)
	nr, err := ParseNonce(np.Body)
	if !ok || err != nil {
		return nil, "response without a valid nonce"
	}
	var gir []byte
	if pfs {
		kp, ok := m.first(PayloadKE)
		ke, err := ParseKE(kp.Body)
		if !ok || err != nil || ke.Group != nc.suite.DH {
			return nil, "response without a valid KE"
		}
		if gir, err = dh.shared(ke.Data); err != nil {
			return nil, err
		}
	}
	sa.keyChild(nc, gir, ni, nr, true)
	return nr, nil
}

// handleCreateChild answers CREATE_CHILD_SA: an IKE SA rekey (SA of
// protocol IKE), a child rekey (N(REKEY_SA)) or a new child SA.
func (sa *ikeSA) handleCreateChild(m *Message) []Payload {
	if sa.state != stateEstablished || sa.replaced {
		return []Payload{Notify{Type: NotifyTemporaryFailure}.Payload()}
	}
	np, ok := m.first(PayloadNonce)
	ni, err := ParseNonce(np.Body)
	if !ok || err != nil {
		return []Payload{Notify{Type: NotifyInvalidSyntax}.Payload()}
	}
	ni = append([]byte(nil), ni...)
	if sp, ok := m.first(PayloadSA); ok {
		if sap, err := ParseSA(sp.Body); err == nil && len(sap.Proposals) > 0 && sap.Proposals[0].Protocol == ProtoIKE {
			return sa.answerIKERekey(m, sap, ni)
		}
	}
	var old *childSA
	if n, ok := m.notify(NotifyRekeySA); ok {
		if n.Protocol != sa.peer.childProto() || len(n.SPI) != 4 {
			return []Payload{Notify{Type: NotifyInvalidSyntax}.Payload()}
		}
		old = sa.childByOut(getBE32(n.SPI))
		if old == nil || old.state == childDeleting || old.state == childRekeyed {
			return []Payload{Notify{Protocol: n.Protocol, SPI: n.SPI, Type: NotifyChildSANotFound}.Payload()}
		}
	}
	_, resource := m.notify(NotifySAResourceInfo)
	if resource && old == nil {
		if nerr := sa.admitResource(m); nerr != nil {
			return []Payload{Notify{Type: nerr.Type}.Payload()}
		}
	}
	if len(sa.children) >= sa.e.cfg.MaxChildSAs {
		sa.e.log.Warn("CREATE_CHILD_SA refused: too many child SAs", sa.logArgs("children", len(sa.children), "max", sa.e.cfg.MaxChildSAs)...)
		return []Payload{Notify{Type: NotifyNoAdditionalSAs}.Payload()}
	}
	nr := sa.e.nonce()
	replaces := uint32(0)
	if old != nil {
		replaces, resource = old.inSPI, old.resource
	}
	c, ps, nerr := sa.answerChild(m, ni, nr, true, replaces, resource)
	if nerr != nil {
		sa.e.log.Info("CREATE_CHILD_SA refused", sa.logArgs("err", nerr)...)
		return []Payload{Notify{Type: nerr.Type, Data: nerr.Data}.Payload()}
	}
	if old != nil {
		if old.state == childRekeying {
			old.peerRekey, old.peerNi, old.peerNr = c, ni, nr
		} else {
			old.state = childRekeyed // the peer will delete it
		}
	}
	if resource && old == nil {
		ps = append(ps, resourceInfo())
	}
	// Nr goes right after SA.
	return append([]Payload{ps[0], NoncePayload(nr)}, ps[1:]...)
}

func (sa *ikeSA) offersESPGroup(g DHGroup) bool {
	for _, p := range sa.peer.childProposals() {
		if slices.Contains(p.DH, g) {
			return true
		}
	}
	return false
}
