package ike

import (
	"encoding/binary"
	"io"
	"slices"
)

// Per-resource child SAs (RFC 9611). With PeerConfig.Resources above 1:
//
//	initiator                                responder
//	IKE_AUTH {..., SA, TSi, TSr, N(SA_RESOURCE_INFO)}  -->
//	                <-- {..., SA, TSi, TSr, N(SA_RESOURCE_INFO)}   (it speaks RFC 9611)
//	CREATE_CHILD_SA {SA, Ni, [KEi,] TSi, TSr, N(SA_RESOURCE_INFO)}  -->
//	                <-- {SA, Nr, [KEr,] TSi, TSr, N(SA_RESOURCE_INFO)}
//	... until Resources children, or
//	                <-- N(TS_MAX_QUEUE)                (the responder has enough)
//
// A responder without the notify in its IKE_AUTH answer (strongSwan 5.9
// predates the RFC) gets no extra child: one SA per direction, as before.
// Each child is rekeyed and deleted on its own timers; a rekey of an extra
// child is an extra child again (ChildSA.Resource), so the dataplane keeps
// sealing with all of them. The extra children carry the first child's
// narrowed selectors.
//
// Inbound SPIs: the dataplane receives on Config.ReceiveQueues sockets,
// SPI s on socket s mod ReceiveQueues; a new extra child gets an SPI on
// the socket the fewest children of its IKE SA use, and a rekey keeps the
// socket of the child it replaces, so each resource is opened on a core
// of its own.

// resourceInfo is the SA_RESOURCE_INFO notify, with no resource
// identifier (its data is optional and opaque, section 4).
func resourceInfo() Payload { return Notify{Type: NotifySAResourceInfo}.Payload() }

// offerResources is what IKE_AUTH's request adds to offer per-resource
// children.
func (sa *ikeSA) offerResources() []Payload {
	if sa.peer.Resources <= 1 {
		return nil
	}
	return []Payload{resourceInfo()}
}

// answerResources is what IKE_AUTH's response adds: the notify if the
// initiator sent it and we speak it.
func (sa *ikeSA) answerResources(m *Message) []Payload {
	if _, ok := m.notify(NotifySAResourceInfo); !ok || sa.peer.Resources <= 1 {
		return nil
	}
	sa.peerResources = true
	return []Payload{resourceInfo()}
}

// startResources follows IKE_AUTH's first child, first: if the responder
// announced per-resource children, it creates the others.
func (sa *ikeSA) startResources(m *Message, first *childSA) {
	if sa.peer.Resources <= 1 {
		return
	}
	if _, ok := m.notify(NotifySAResourceInfo); !ok {
		sa.e.log.Info("peer does not announce per-resource child SAs (RFC 9611): one child SA", sa.logArgs()...)
		return
	}
	sa.peerResources = true
	sa.createResourceChild(first.localTS, first.remoteTS)
}

// liveChildren counts sa's children with selectors local and remote that
// are not on their way out (rekeyed away or being deleted).
func (sa *ikeSA) liveChildren(local, remote []TrafficSelector) int {
	n := 0
	for _, c := range sa.children {
		if (c.state == childActive || c.state == childRekeying) &&
			slices.Equal(c.localTS, local) && slices.Equal(c.remoteTS, remote) {
			n++
		}
	}
	return n
}

// createResourceChild asks for one more child with selectors local and
// remote, and for the next once it is up, until PeerConfig.Resources:
//
//	HDR, SK {SA, Ni, [KEi,] TSi, TSr, [N(USE_TRANSPORT_MODE),] N(SA_RESOURCE_INFO)}
func (sa *ikeSA) createResourceChild(local, remote []TrafficSelector) {
	if sa.state != stateEstablished || !sa.peerResources || sa.liveChildren(local, remote) >= sa.peer.Resources {
		return
	}
	g := DHNone
	if dhs := sa.peer.ESP[0].DH; len(dhs) > 0 {
		g = dhs[0]
	}
	ni := sa.e.nonce()
	nc := &childSA{inSPI: sa.childSPI(true, 0), localTS: local, remoteTS: remote, resource: true}
	var dh keyShare
	offer := sa.offerChild(nc.inSPI, g != DHNone, local, remote)
	ps := []Payload{offer[0], NoncePayload(ni)}
	if g != DHNone {
		var err error
		if dh, err = newKeyShare(g, sa.e.rand); err != nil {
			sa.releaseSPI(nc.inSPI)
			return
		}
		ps = append(ps, KE{Group: g, Data: dh.public()}.Payload())
	}
	ps = append(append(ps, offer[1:]...), resourceInfo())
	sa.request(&request{x: CreateChildSA, payloads: func() []Payload { return ps },
		onResponse: func(m *Message) { sa.resourceChildCreated(m, nc, ni, dh, g) }})
}

// resourceChildCreated takes the answer to createResourceChild.
func (sa *ikeSA) resourceChildCreated(m *Message, nc *childSA, ni []byte, dh keyShare, g DHGroup) {
	for _, stop := range []NotifyType{NotifyTSMaxQueue, NotifyNoAdditionalSAs} {
		if _, ok := m.notify(stop); ok {
			sa.releaseSPI(nc.inSPI)
			sa.e.log.Info("peer wants no more per-resource child SAs", sa.logArgs("notify", stop.String(),
				"children", sa.liveChildren(nc.localTS, nc.remoteTS))...)
			return
		}
	}
	if _, why := sa.finishChild(m, nc, ni, dh, g); why != nil {
		sa.releaseSPI(nc.inSPI)
		sa.e.log.Warn("per-resource child SA not created", sa.logArgs("err", why)...)
		return
	}
	sa.install(nc)
	sa.createResourceChild(nc.localTS, nc.remoteTS)
}

// admitResource decides a peer's request for an extra per-resource child
// (CREATE_CHILD_SA with SA_RESOURCE_INFO, no REKEY_SA): TS_MAX_QUEUE if
// we do not speak it with this peer or have Resources children with its
// selectors already.
func (sa *ikeSA) admitResource(m *Message) *NotifyError {
	if sa.peer.Resources <= 1 || !sa.peerResources {
		return notifyErr(NotifyTSMaxQueue, "per-resource child SAs are off for this peer")
	}
	ti, ok1 := m.first(PayloadTSi)
	tr, ok2 := m.first(PayloadTSr)
	if !ok1 || !ok2 {
		return nil // answerChild refuses it
	}
	tsi, err1 := ParseTS(ti.Body)
	tsr, err2 := ParseTS(tr.Body)
	if err1 != nil || err2 != nil {
		return nil
	}
	remote, local := narrow(tsi, sa.remoteSelectors()), narrow(tsr, sa.peer.LocalTS)
	if n := sa.liveChildren(local, remote); n >= sa.peer.Resources {
		sa.e.log.Info("per-resource child SA refused: enough of them (TS_MAX_QUEUE)", sa.logArgs("children", n, "resources", sa.peer.Resources)...)
		return notifyErr(NotifyTSMaxQueue, "%d per-resource child SAs already", n)
	}
	return nil
}

// childSPI reserves an inbound SPI for a new child: with per-resource
// children and several receive queues, on the queue of the child it
// replaces (a rekey), or on the least used one; else at random.
func (sa *ikeSA) childSPI(resource bool, replaces uint32) uint32 {
	n := uint32(sa.e.cfg.ReceiveQueues)
	if n <= 1 || sa.peer.Resources <= 1 || (!resource && replaces == 0) {
		return sa.newChildSPI()
	}
	want := replaces % n
	if replaces == 0 {
		use := make([]int, n)
		for _, c := range sa.children {
			if c.state == childActive || c.state == childRekeying {
				use[c.inSPI%n]++
			}
		}
		want = uint32(slices.Index(use, slices.Min(use)))
	}
	for {
		var b [4]byte
		_, _ = io.ReadFull(sa.e.rand, b[:])
		s := binary.BigEndian.Uint32(b[:])
		if _, used := sa.e.inSPIs[s]; s >= 256 && !used && s%n == want {
			sa.e.inSPIs[s] = nil // reserved until the child exists
			sa.reserved = append(sa.reserved, s)
			return s
		}
	}
}
