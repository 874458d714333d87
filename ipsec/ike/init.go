package ike

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// initiate sends IKE_SA_INIT:
//
//	HDR, SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP)
func (e *Engine) initiate(p *PeerConfig) error {
	sa := &ikeSA{
		e: e, peer: p, initiator: true, spiI: e.newIKESPI(), state: stateInitSent,
		local:  netip.AddrPortFrom(p.LocalAddr, e.cfg.Port),
		remote: netip.AddrPortFrom(p.RemoteAddr, p.RemotePort),
		ni:     e.nonce(), created: e.now(),
	}
	dh, err := newKeyShare(p.IKE[0].DH[0], e.rand)
	if err != nil {
		return err
	}
	sa.dh = dh
	sa.suite.DH = p.IKE[0].DH[0]
	e.sas[sa.spiI] = sa
	e.log.Info("initiating IKE SA", sa.logArgs("remote", sa.remote)...)
	sa.sendInit()
	return nil
}

// sendInit (re)builds and sends the IKE_SA_INIT request, with the cookie
// first when the responder asked for one (section 2.6).
func (sa *ikeSA) sendInit() {
	var ps []Payload
	if sa.cookie != nil {
		ps = append(ps, Notify{Type: NotifyCookie, Data: sa.cookie}.Payload())
	}
	ps = append(ps,
		ikeSAPayload(sa.peer.IKE, nil),
		KE{Group: sa.suite.DH, Data: sa.dh.public()}.Payload(),
		NoncePayload(sa.ni))
	ps = append(ps, sa.natdPayloads()...)
	if sa.peer.Cert != nil {
		ps = append(ps, hashAlgorithmsNotify())
	}
	m := &Message{SPIi: sa.spiI, Exchange: IKESAInit, Flags: FlagInitiator, Payloads: ps}
	sa.initReq = m.Marshal()
	sa.pending, sa.queue, sa.nextID = nil, nil, 0
	sa.queue = []*request{{x: IKESAInit, data: sa.initReq, onResponse: sa.handleInitResponse}}
	sa.sendNext()
}

// natdHash is SHA-1(SPIi | SPIr | IP | Port) (RFC 7296 section 2.23).
func natdHash(spiI, spiR uint64, ap netip.AddrPort) []byte {
	h := sha1.New()
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], spiI)
	binary.BigEndian.PutUint64(b[8:16], spiR)
	h.Write(b[:])
	h.Write(ap.Addr().AsSlice())
	h.Write([]byte{byte(ap.Port() >> 8), byte(ap.Port())})
	return h.Sum(nil)
}

// natdPayloads are our NAT detection notifies. With ForceUDPEncap the
// source hash is of a port we do not use, so the peer sees a NAT and ESP
// goes in UDP (as strongSwan's encap=yes does; RFC 7296 section 2.23
// allows it).
func (sa *ikeSA) natdPayloads() []Payload {
	src := sa.local
	if sa.peer.ForceUDPEncap {
		src = netip.AddrPortFrom(src.Addr(), src.Port()^0xffff)
	}
	return []Payload{
		Notify{Type: NotifyNATDetectionSourceIP, Data: natdHash(sa.spiI, sa.spiR, src)}.Payload(),
		Notify{Type: NotifyNATDetectionDestIP, Data: natdHash(sa.spiI, sa.spiR, sa.remote)}.Payload(),
	}
}

// checkNATD compares the peer's NAT detection hashes with the addresses
// the message really travelled between. A peer without the notifies does
// not do NAT traversal and nothing changes. spiR is the responder SPI the
// peer hashed: zero in the IKE_SA_INIT request.
func (sa *ikeSA) checkNATD(m *Message, spiR uint64, local, remote netip.AddrPort) {
	var src [][]byte
	var dst []byte
	for _, n := range m.notifies() {
		switch n.Type {
		case NotifyNATDetectionSourceIP:
			src = append(src, n.Data)
		case NotifyNATDetectionDestIP:
			dst = n.Data
		}
	}
	if len(src) == 0 || dst == nil {
		return
	}
	sa.natSelf = !hmac.Equal(dst, natdHash(sa.spiI, spiR, local))
	want := natdHash(sa.spiI, spiR, remote)
	sa.natPeer = true
	for _, s := range src {
		if hmac.Equal(s, want) {
			sa.natPeer = false
		}
	}
}

// handleInitResponse processes the IKE_SA_INIT response:
//
//	HDR, SAr1, KEr, Nr, [CERTREQ], [N(NAT_DETECTION_*)]
//
// or an error notify: COOKIE and INVALID_KE_PAYLOAD make us retry.
func (sa *ikeSA) handleInitResponse(m *Message) {
	if n, ok := m.notify(NotifyCookie); ok && sa.cookie == nil {
		sa.cookie = append([]byte(nil), n.Data...)
		sa.e.log.Info("responder asked for a cookie; retrying", sa.logArgs()...)
		sa.sendInit()
		return
	}
	if n, ok := m.notify(NotifyInvalidKEPayload); ok && len(n.Data) == 2 {
		g := DHGroup(binary.BigEndian.Uint16(n.Data))
		if g != sa.suite.DH && sa.offersGroup(g) {
			dh, err := newKeyShare(g, sa.e.rand)
			if err == nil {
				sa.e.log.Info("responder wants another DH group; retrying", sa.logArgs("group", g.String())...)
				sa.dh, sa.suite.DH = dh, g
				sa.sendInit()
				return
			}
		}
	}
	for _, n := range m.notifies() {
		if n.Type.IsError() {
			sa.fail(fmt.Errorf("ike: IKE_SA_INIT refused: %s", n.Type))
			return
		}
	}
	if m.SPIr == 0 {
		sa.fail(errors.New("ike: IKE_SA_INIT response without responder SPI"))
		return
	}
	p, ok1 := m.first(PayloadSA)
	k, ok2 := m.first(PayloadKE)
	n, ok3 := m.first(PayloadNonce)
	if !ok1 || !ok2 || !ok3 {
		sa.fail(errors.New("ike: IKE_SA_INIT response lacks SA, KE or Nonce"))
		return
	}
	sap, err1 := ParseSA(p.Body)
	ke, err2 := ParseKE(k.Body)
	nr, err3 := ParseNonce(n.Body)
	if err := errors.Join(err1, err2, err3); err != nil {
		sa.fail(err)
		return
	}
	_, suite, ok := acceptedIKE(sap, sa.peer.IKE, 0)
	if !ok || suite.DH != sa.suite.DH || ke.Group != suite.DH {
		sa.fail(errors.New("ike: responder chose a proposal we did not offer"))
		return
	}
	delete(sa.e.sas, sa.spiI)
	sa.spiR = m.SPIr
	sa.e.sas[sa.spiI] = sa
	sa.suite, sa.nr = suite, append([]byte(nil), nr...)
	sa.initResp = append([]byte(nil), m.raw...)
	if err := sa.deriveKeys(ke.Data); err != nil {
		sa.fail(err)
		return
	}
	sa.checkNATD(m, sa.spiR, sa.local, sa.remote)
	if sa.natSelf || sa.natPeer || sa.peer.ForceUDPEncap {
		sa.floatNATT()
	}
	sa.sendAuth()
}

func (sa *ikeSA) offersGroup(g DHGroup) bool {
	for _, p := range sa.peer.IKE {
		for _, x := range p.DH {
			if x == g {
				return true
			}
		}
	}
	return false
}

// floatNATT moves IKE to the NAT-T ports with the non-ESP marker (RFC
// 7296 section 2.23); ESP will travel in UDP.
func (sa *ikeSA) floatNATT() {
	sa.natt = true
	sa.local = netip.AddrPortFrom(sa.local.Addr(), sa.e.cfg.NATTPort)
	sa.remote = netip.AddrPortFrom(sa.remote.Addr(), sa.peer.RemoteNATTPort)
	sa.e.log.Info("NAT detected; switching to NAT-T", sa.logArgs("behind_nat_local", sa.natSelf, "behind_nat_peer", sa.natPeer)...)
}

// deriveKeys computes g^ir, SKEYSEED and the IKE SA keys and builds the
// SK ciphers.
func (sa *ikeSA) deriveKeys(peerKE []byte) error {
	gir, err := sa.dh.shared(peerKE)
	if err != nil {
		return err
	}
	seed := skeyseed(sa.suite.PRF, sa.ni, sa.nr, gir)
	return sa.installKeys(deriveIKEKeys(sa.suite, seed, sa.ni, sa.nr, sa.spiI, sa.spiR))
}

func (sa *ikeSA) installKeys(k ikeKeys) error {
	ei, err1 := newSKCipher(sa.suite, k.ei, k.ai)
	er, err2 := newSKCipher(sa.suite, k.er, k.ar)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	sa.keys = k
	sa.in, sa.out = er, ei
	if !sa.initiator {
		sa.in, sa.out = ei, er
	}
	sa.dh = nil
	return nil
}
