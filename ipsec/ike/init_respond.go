package ike

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// handleInitRequest answers IKE_SA_INIT as the responder.
func (e *Engine) handleInitRequest(local, remote netip.AddrPort, raw []byte, m *Message) {
	if m.SPIi == 0 {
		// The initiator's SPI is never zero (RFC 7296 section 3.1);
		// unauthenticated, so no answer.
		e.log.Debug("dropped IKE_SA_INIT with initiator SPI 0", "from", remote)
		return
	}
	if old := e.inits[initKey{remote, m.SPIi}]; old != nil {
		if old.initResp != nil && old.state == stateInitDone {
			e.send(local, remote, old.frame(old.initResp)) // retransmitted request
		}
		return
	}
	reply := func(ps ...Payload) {
		r := &Message{SPIi: m.SPIi, Exchange: IKESAInit, Flags: FlagResponse, Payloads: ps}
		d := r.Marshal()
		if local.Port() == e.cfg.NATTPort {
			d = append(make([]byte, 4), d...)
		}
		e.send(local, remote, d)
	}
	p := e.peerFor(local.Addr(), remote.Addr())
	if p == nil {
		e.log.Info("IKE_SA_INIT from unknown peer", "remote", remote)
		reply(Notify{Type: NotifyNoProposalChosen}.Payload())
		return
	}
	ni, ok := m.first(PayloadNonce)
	if !ok || len(ni.Body) < MinNonceLen {
		return
	}
	if t := e.cfg.CookieThreshold; t < 0 || e.halfOpen() >= t {
		if n, ok := m.notify(NotifyCookie); !ok || !e.cookieValid(n.Data, ni.Body, remote.Addr(), m.SPIi) {
			reply(Notify{Type: NotifyCookie, Data: e.cookie(ni.Body, remote.Addr(), m.SPIi)}.Payload())
			return
		}
	}
	sp, ok1 := m.first(PayloadSA)
	kp, ok2 := m.first(PayloadKE)
	if !ok1 || !ok2 {
		reply(Notify{Type: NotifyInvalidSyntax}.Payload())
		return
	}
	sap, err1 := ParseSA(sp.Body)
	ke, err2 := ParseKE(kp.Body)
	nonce, err3 := ParseNonce(ni.Body)
	if errors.Join(err1, err2, err3) != nil {
		reply(Notify{Type: NotifyInvalidSyntax}.Payload())
		return
	}
	num, _, suite, ok := selectIKE(sap, p.IKE, 0)
	if !ok {
		e.log.Info("IKE_SA_INIT: no acceptable proposal", "peer", p.Name, "remote", remote)
		reply(Notify{Type: NotifyNoProposalChosen}.Payload())
		return
	}
	if ke.Group != suite.DH {
		reply(Notify{Type: NotifyInvalidKEPayload, Data: []byte{byte(suite.DH >> 8), byte(suite.DH)}}.Payload())
		return
	}
	sa := &ikeSA{
		e: e, peer: p, spiI: m.SPIi, spiR: e.newIKESPI(), state: stateInitDone, suite: suite,
		local: local, remote: remote, natt: local.Port() == e.cfg.NATTPort,
		ni: append([]byte(nil), nonce...), nr: e.nonce(), created: e.now(),
		initReq: raw, peerID: 1, nextID: 0,
	}
	dh, err := newKeyShare(suite.DH, e.rand)
	if err != nil {
		return
	}
	sa.dh = dh
	pub := dh.public()
	if err := sa.deriveKeys(ke.Data); err != nil {
		e.log.Info("IKE_SA_INIT: bad KE payload", "peer", p.Name, "err", err)
		reply(Notify{Type: NotifyInvalidSyntax}.Payload())
		return
	}
	sa.checkNATD(m, 0, local, remote)
	if sa.natSelf || sa.natPeer {
		e.log.Info("NAT detected; expecting the initiator on the NAT-T port", sa.logArgs("behind_nat_local", sa.natSelf, "behind_nat_peer", sa.natPeer)...)
	}
	ps := []Payload{chosenIKE(num, suite, nil), KE{Group: suite.DH, Data: pub}.Payload(), NoncePayload(sa.nr)}
	ps = append(ps, sa.natdPayloads()...)
	if p.Cert != nil {
		ps = append(ps, certReqFor(p.Cert.CAs).Payload(), hashAlgorithmsNotify())
	}
	r := &Message{SPIi: sa.spiI, SPIr: sa.spiR, Exchange: IKESAInit, Flags: FlagResponse, Payloads: ps}
	sa.initResp = r.Marshal()
	e.sas[sa.spiR] = sa
	e.inits[initKey{remote, sa.spiI}] = sa
	e.log.Info("IKE_SA_INIT answered", sa.logArgs("remote", remote, "suite", suite.String())...)
	e.send(local, remote, sa.frame(sa.initResp))
}

// peerFor finds the configuration for a peer at remote: the one with that
// remote address, else one without a remote address (identified in
// IKE_AUTH by its ID).
func (e *Engine) peerFor(local, remote netip.Addr) *PeerConfig {
	var wild *PeerConfig
	for _, p := range e.peers {
		if p.LocalAddr.IsValid() && p.LocalAddr != local && !p.LocalAddr.IsUnspecified() {
			continue
		}
		if p.RemoteAddr == remote {
			return p
		}
		if !p.RemoteAddr.IsValid() && wild == nil {
			wild = p
		}
	}
	return wild
}

// cookieLifetime is how long a cookie secret is used before it is
// replaced; cookies made with the previous secret stay valid for one more
// period, so an initiator retrying across a rotation is not refused.
const cookieLifetime = 5 * time.Minute

// cookie is <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
// (RFC 7296 section 2.6), with HMAC-SHA-256 keyed by the secret as the
// hash. It returns the cookie to send now.
func (e *Engine) cookie(ni []byte, ip netip.Addr, spiI uint64) []byte {
	e.rotateSecret()
	return cookieWith(e.secret.cur[:], e.secret.version, ni, ip, spiI)
}

// cookieValid checks a returned cookie against the current or previous
// secret, by its version.
func (e *Engine) cookieValid(c, ni []byte, ip netip.Addr, spiI uint64) bool {
	e.rotateSecret()
	if len(c) < 4 {
		return false
	}
	switch v := binary.BigEndian.Uint32(c); v {
	case e.secret.version:
		return hmac.Equal(c, cookieWith(e.secret.cur[:], v, ni, ip, spiI))
	case e.secret.version - 1:
		return hmac.Equal(c, cookieWith(e.secret.prev[:], v, ni, ip, spiI))
	}
	return false
}

// initCookieSecrets draws both cookie secrets from the random source, so
// that no slot ever holds a key an attacker can guess: with the previous
// slot left at zero, a cookie computed under an all-zero key would pass
// until the second rotation. The first rotation is one lifetime away.
func (e *Engine) initCookieSecrets() error {
	for _, k := range [][]byte{e.secret.cur[:], e.secret.prev[:]} {
		if _, err := io.ReadFull(e.rand, k); err != nil {
			return fmt.Errorf("ike: drawing the cookie secret: %w", err)
		}
	}
	e.secret.version = 1
	e.secret.until = e.now().Add(cookieLifetime)
	return nil
}

func (e *Engine) rotateSecret() {
	now := e.now()
	if now.Before(e.secret.until) {
		return
	}
	e.secret.prev = e.secret.cur
	_, _ = io.ReadFull(e.rand, e.secret.cur[:])
	e.secret.version++
	e.secret.until = now.Add(cookieLifetime)
}

func cookieWith(secret []byte, version uint32, ni []byte, ip netip.Addr, spiI uint64) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(ni)
	h.Write(ip.AsSlice())
	h.Write(binary.BigEndian.AppendUint64(nil, spiI))
	return h.Sum(binary.BigEndian.AppendUint32(nil, version))
}
