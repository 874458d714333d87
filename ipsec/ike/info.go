package ike

import "slices"

// INFORMATIONAL exchanges: Delete (RFC 7296 section 1.4), liveness checks
// (section 2.4) and error reports.

// handleInformational answers an INFORMATIONAL request.
func (sa *ikeSA) handleInformational(m *Message) []Payload {
	var resp []Payload
	var ours []uint32
	for _, p := range m.Payloads {
		switch p.Type {
		case PayloadDelete:
			d, err := ParseDelete(p.Body)
			if err != nil {
				continue
			}
			if d.Protocol == ProtoIKE {
				sa.e.log.Info("peer deleted the IKE SA", sa.logArgs()...)
				sa.drop(nil)
				return nil
			}
			if d.Protocol != sa.peer.childProto() {
				continue
			}
			for _, spi := range d.SPIs {
				c := sa.childByOut(spi)
				if c == nil {
					continue
				}
				// A Delete crossing ours: remove without answering for it
				// (section 1.4.1).
				if c.state != childDeleting {
					ours = append(ours, c.inSPI)
				}
				sa.removeChild(c)
			}
		case PayloadNotify:
			n, err := ParseNotify(p.Body)
			if err == nil && n.Type == NotifyAuthenticationFailed {
				sa.authFailed("peer reported AUTHENTICATION_FAILED after IKE_AUTH")
				return nil
			}
		}
	}
	if len(ours) > 0 {
		resp = append(resp, sa.childDelete(ours...))
	}
	return resp
}

// dpd sends an empty INFORMATIONAL request; a response proves the peer
// alive, and its retransmissions running out kills the SA.
func (sa *ikeSA) dpd() {
	sa.e.log.Debug("liveness check", sa.logArgs()...)
	sa.request(&request{x: Informational, payloads: func() []Payload { return nil }, onResponse: func(*Message) {}})
}

// deleteIKE tells the peer the IKE SA (and so its children) is gone.
// The children go down at once, before the peer answers: nothing may seal
// with them once their IKE SA is being deleted (its hard lifetime, or
// Engine.Delete). Their inbound SPIs stay reserved until the SA is
// dropped.
func (sa *ikeSA) deleteIKE() {
	if sa.state != stateEstablished {
		return
	}
	sa.state = stateDeleting
	for _, c := range slices.Clone(sa.children) {
		spi := c.inSPI
		sa.removeChild(c)
		sa.e.inSPIs[spi] = nil
		sa.reserved = append(sa.reserved, spi)
	}
	done := func(*Message) { sa.drop(nil) }
	sa.request(&request{x: Informational,
		payloads:   func() []Payload { return []Payload{Delete{Protocol: ProtoIKE}.Payload()} },
		onResponse: done, onTimeout: func() { sa.drop(nil) }})
}

// deleteChild tells the peer to delete a child SA and removes it when
// the peer answers (the peer answers with its own SPI). A rekey's old SA
// goes this way: both ends keep it until the exchange ends.
func (sa *ikeSA) deleteChild(c *childSA) {
	if c.state == childDeleting || sa.state != stateEstablished {
		return
	}
	c.state = childDeleting
	spi := c.inSPI
	done := func(*Message) {
		sa.removeChild(c)
		sa.releaseSPI(spi)
	}
	sa.request(&request{x: Informational,
		payloads:   func() []Payload { return []Payload{sa.childDelete(spi)} },
		onResponse: done})
}

// expireChild takes c out of service at once, at its hard lifetime or
// when the dataplane's hard byte limit asks (Engine.DeleteChild): the
// ChildDown goes out now, so the dataplane stops sealing with it now, not
// when the peer answers the Delete. Its inbound SPI stays reserved until
// then, so that no new child reuses it while the peer may still send
// with it.
func (sa *ikeSA) expireChild(c *childSA) {
	if sa.e.inSPIs[c.inSPI] != c {
		return
	}
	spi, deleting := c.inSPI, c.state == childDeleting
	sa.removeChild(c)
	sa.e.inSPIs[spi] = nil
	sa.reserved = append(sa.reserved, spi)
	switch {
	case deleting:
		// Our Delete is in flight (deleteChild's): its answer releases spi.
	case sa.state == stateEstablished:
		sa.request(&request{x: Informational,
			payloads:   func() []Payload { return []Payload{sa.childDelete(spi)} },
			onResponse: func(*Message) { sa.releaseSPI(spi) }})
	default:
		sa.releaseSPI(spi) // no exchange is possible: the IKE SA is going
	}
}

// releaseSPI frees an inbound SPI reserved for a child that is gone.
func (sa *ikeSA) releaseSPI(spi uint32) {
	if c, ok := sa.e.inSPIs[spi]; ok && c == nil {
		delete(sa.e.inSPIs, spi)
	}
	sa.reserved = slices.DeleteFunc(sa.reserved, func(s uint32) bool { return s == spi })
}
