package ike

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
)

// ErrAuthFailed is reported (in an AuthFailed event) when a peer's AUTH
// payload does not verify or the peer refuses ours. The usual cause is a
// PSK that differs between the two ends, or an identity mismatch.
var ErrAuthFailed = errors.New("ike: authentication failed")

// sendAuth sends IKE_AUTH with the first child SA:
//
//	HDR, SK {IDi, [CERT+, CERTREQ,] [IDr,] AUTH, SAi2, TSi, TSr, [N(USE_TRANSPORT_MODE)]}
//
// CERT and CERTREQ only when the peer authenticates by certificate.
func (sa *ikeSA) sendAuth() {
	sa.state = stateAuthSent
	idi := identityID(sa.peer.LocalID)
	auth, err := sa.ourAuth(sa.initReq, sa.nr, sa.keys.pi, idi)
	if err != nil {
		sa.fail(err)
		return
	}
	c := &childSA{inSPI: sa.newChildSPI(), localTS: sa.peer.LocalTS, remoteTS: sa.peer.RemoteTS}
	sa.authChild = c
	ps := []Payload{idi.Payload(true)}
	if sa.peer.Cert != nil {
		ps = append(ps, certReqFor(sa.peer.Cert.CAs).Payload())
	}
	ps = append(ps, identityID(sa.peer.RemoteID).Payload(false))
	ps = append(append(ps, auth...), Notify{Type: NotifyInitialContact}.Payload())
	if sa.peer.RequestAddress {
		ps = append(ps, CP{Type: CFGRequest, Attrs: []CFGAttr{{Type: AttrInternalIP4Address}, {Type: AttrInternalIP4DNS}}}.Payload())
	}
	ps = append(ps, sa.offerChild(c.inSPI, false, c.localTS, c.remoteTS)...)
	ps = append(ps, sa.offerResources()...)
	sa.request(&request{x: IKEAuth, payloads: func() []Payload { return ps }, onResponse: sa.handleAuthResponse})
}

// handleAuthResponse checks the responder's identity and AUTH and installs
// the first child SA:
//
//	HDR, SK {IDr, AUTH, SAr2, TSi, TSr}
func (sa *ikeSA) handleAuthResponse(m *Message) {
	c := sa.authChild
	sa.authChild = nil
	if _, ok := m.notify(NotifyAuthenticationFailed); ok {
		hint := "check that both ends have the same pre-shared key and matching identities"
		if sa.peer.Cert != nil {
			hint = "check our certificate, the peer's CAs and revocations, and the identities"
		}
		sa.authFailed("peer refused our authentication (AUTHENTICATION_FAILED): " + hint)
		delete(sa.e.inSPIs, c.inSPI)
		return
	}
	idp, ok1 := m.first(PayloadIDr)
	ap, ok2 := m.first(PayloadAUTH)
	if !ok1 || !ok2 {
		for _, n := range m.notifies() {
			if n.Type.IsError() {
				sa.fail(fmt.Errorf("ike: IKE_AUTH refused: %s", n.Type))
				return
			}
		}
		sa.fail(errors.New("ike: IKE_AUTH response lacks IDr or AUTH"))
		return
	}
	idr, err1 := ParseID(idp.Body)
	auth, err2 := ParseAuth(ap.Body)
	if err := errors.Join(err1, err2); err != nil {
		sa.fail(err)
		return
	}
	reason := ""
	if !identityMatches(sa.peer.RemoteID, idr) {
		reason = fmt.Sprintf("responder identified as %s, expected %s", idString(idr), sa.peer.RemoteID)
	} else {
		reason = sa.checkPeerAuth("responder", m, auth, idr, sa.initResp, sa.ni, sa.keys.pr)
	}
	if reason != "" {
		if sa.peer.Cert != nil {
			sa.sendAuthFailed()
		}
		sa.authFailed(reason)
		return
	}
	sa.establish()
	if sa.peer.RequestAddress {
		sa.takeCFGReply(m)
	}
	if nerr := sa.acceptChild(m, c, false); nerr != nil {
		delete(sa.e.inSPIs, c.inSPI)
		sa.e.log.Warn("first child SA not created", sa.logArgs("err", nerr)...)
		return
	}
	sa.keyChild(c, nil, sa.ni, sa.nr, true)
	sa.install(c)
	sa.startResources(m, c)
}

// handleAuthRequest authenticates the initiator and answers with our
// identity, AUTH and the first child SA. A child SA failure does not fail
// the IKE SA (RFC 7296 section 1.2): the error notify goes in its place.
func (sa *ikeSA) handleAuthRequest(m *Message) []Payload {
	if sa.state != stateInitDone {
		return []Payload{Notify{Type: NotifyInvalidSyntax}.Payload()}
	}
	idp, ok1 := m.first(PayloadIDi)
	ap, ok2 := m.first(PayloadAUTH)
	if !ok1 || !ok2 {
		sa.e.log.Info("IKE_AUTH without IDi or AUTH (EAP is not supported)", sa.logArgs()...)
		sa.state = stateDead
		return []Payload{Notify{Type: NotifyAuthenticationFailed}.Payload()}
	}
	idi, err1 := ParseID(idp.Body)
	auth, err2 := ParseAuth(ap.Body)
	if errors.Join(err1, err2) != nil {
		sa.state = stateDead
		return []Payload{Notify{Type: NotifyInvalidSyntax}.Payload()}
	}
	if !peerAdmits(sa.peer, idi) {
		// The peer was chosen by address at IKE_SA_INIT; its identity
		// must be that peer's. Only a peer without a remote address
		// (found by identity) may give way to another such peer.
		p := sa.e.wildcardPeerByID(sa.local.Addr(), idi)
		if sa.peer.RemoteAddr.IsValid() || p == nil {
			sa.authFailed(fmt.Sprintf("initiator identified as %s, which is not the identity of the peer configured for %s", idString(idi), sa.remote.Addr()))
			return []Payload{Notify{Type: NotifyAuthenticationFailed}.Payload()}
		}
		sa.peer = p
	}
	if sa.peer.RemoteAccess != nil {
		sa.client, _ = idIdentity(idi)
	}
	if reason := sa.checkPeerAuth("initiator", m, auth, idi, sa.initReq, sa.nr, sa.keys.pi); reason != "" {
		sa.authFailed(reason)
		return []Payload{Notify{Type: NotifyAuthenticationFailed}.Payload()}
	}
	idr := identityID(sa.peer.LocalID)
	ours, err := sa.ourAuth(sa.initResp, sa.ni, sa.keys.pr, idr)
	if err != nil {
		sa.authFailed(err.Error())
		return []Payload{Notify{Type: NotifyAuthenticationFailed}.Payload()}
	}
	ps := append([]Payload{idr.Payload(false)}, ours...)
	sa.establish()
	if sa.peer.RemoteAccess != nil {
		if _, ok := m.notify(NotifyInitialContact); ok {
			sa.dropHostsOlderSAs()
		}
		cp, nerr := sa.answerCP(m)
		if nerr != nil {
			sa.e.log.Warn("first child SA refused", sa.logArgs("err", nerr)...)
			return append(ps, Notify{Type: nerr.Type}.Payload())
		}
		ps = append(ps, cp)
	}
	_, cps, nerr := sa.answerChild(m, sa.ni, sa.nr, false, 0, false)
	if nerr != nil {
		sa.e.log.Warn("first child SA refused", sa.logArgs("err", nerr)...)
		return append(ps, Notify{Type: nerr.Type, Data: nerr.Data}.Payload())
	}
	return append(append(ps, cps...), sa.answerResources(m)...)
}

// authFailed logs and reports an authentication failure and drops the SA.
// The message names the peer and the cause, never the key.
func (sa *ikeSA) authFailed(reason string) {
	sa.e.log.Error("IKE authentication failed", sa.logArgs("remote", sa.remote, "reason", reason)...)
	sa.e.emit(Event{Kind: AuthFailed, Peer: sa.peer.Name, SPIi: sa.spiI, SPIr: sa.spiR, Err: fmt.Errorf("%w: %s", ErrAuthFailed, reason)})
	// A refusal after IKE_AUTH (the initiator's AUTHENTICATION_FAILED
	// in an INFORMATIONAL) takes the children that IKE_AUTH made.
	for _, c := range sa.children {
		sa.removeChild(c)
	}
	sa.children = nil
	sa.state = stateDead
	sa.e.remove(sa)
	sa.e.maybeRestart(sa)
}

// wildcardPeerByID finds a peer without a remote address (so any
// address may speak for it) configured with identity id and usable on
// local, as peerFor would have chosen it.
func (e *Engine) wildcardPeerByID(local netip.Addr, id ID) *PeerConfig {
	for _, p := range e.peers {
		if p.RemoteAddr.IsValid() || (p.LocalAddr.IsValid() && p.LocalAddr != local && !p.LocalAddr.IsUnspecified()) {
			continue
		}
		if peerAdmits(p, id) {
			return p
		}
	}
	return nil
}

// peerAdmits reports whether id is p's identity, or one of its
// remote-access clients.
func peerAdmits(p *PeerConfig, id ID) bool {
	if p.RemoteAccess != nil {
		return p.RemoteAccess.admits(id)
	}
	return identityMatches(p.RemoteID, id)
}

// idDERASN1DN is ID_DER_ASN1_DN, an X.500 name; only named in logs.
const idDERASN1DN IDType = 9

func idString(id ID) string {
	switch id.Type {
	case IDFQDN, IDRFC822:
		return fmt.Sprintf("%q", id.Data)
	case IDIPv4, IDIPv6:
		if a, ok := netip.AddrFromSlice(id.Data); ok {
			return a.String()
		}
	case idDERASN1DN:
		// strongSwan's default identity with a certificate: its subject.
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(id.Data, &rdn); err == nil && len(rest) == 0 {
			var n pkix.Name
			n.FillFromRDNSequence(&rdn)
			return fmt.Sprintf("distinguished name %q (not supported: configure an FQDN, e-mail or address identity)", n.String())
		}
	}
	return fmt.Sprintf("ID type %d (%d bytes)", id.Type, len(id.Data))
}
