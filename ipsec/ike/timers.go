package ike

import (
	"errors"
	"time"
)

// tick runs the SA's due timers.
func (sa *ikeSA) tick(now time.Time) {
	if sa.state == stateDead {
		return
	}
	if r := sa.pending; r != nil && !now.Before(r.next) {
		if r.tries >= sa.e.cfg.Tries {
			sa.pending = nil
			if r.onTimeout != nil {
				r.onTimeout()
				sa.sendNext()
			} else {
				sa.fail(errPeerDead)
			}
			return
		}
		sa.e.log.Debug("retransmitting", sa.logArgs("exchange", r.x, "id", r.id, "try", r.tries+1)...)
		sa.transmit(r, now)
	}
	switch sa.state {
	case stateInitDone:
		if now.Sub(sa.created) >= sa.e.cfg.HalfOpenTimeout {
			sa.e.log.Info("half-open IKE SA timed out", sa.logArgs()...)
			sa.state = stateDead
			sa.e.remove(sa)
		}
		return
	case stateEstablished:
	default:
		return
	}
	if !now.Before(sa.expireAt) {
		sa.e.log.Info("IKE SA reached its hard lifetime", sa.logArgs()...)
		sa.deleteIKE()
		return
	}
	if !now.Before(sa.rekeyAt) && sa.rekey == nil && !sa.replaced {
		sa.rekeyIKE()
	}
	if d := sa.peer.DPDInterval; d > 0 && sa.pending == nil && len(sa.queue) == 0 && now.Sub(sa.lastHeard) >= d {
		sa.dpd()
	}
	for _, c := range append([]*childSA(nil), sa.children...) {
		switch {
		case !now.Before(c.expireAt):
			sa.e.log.Info("child SA reached its hard lifetime", sa.logArgs("in_spi", hex32(c.inSPI))...)
			sa.expireChild(c)
		case !now.Before(c.rekeyAt) && c.state == childActive:
			sa.rekeyChild(c)
		}
	}
}

// deadline is when tick next has work.
func (sa *ikeSA) deadline() time.Time {
	var d time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if sa.pending != nil {
		at(sa.pending.next)
	}
	switch sa.state {
	case stateInitDone:
		at(sa.created.Add(sa.e.cfg.HalfOpenTimeout))
	case stateEstablished:
		at(sa.expireAt)
		if sa.rekey == nil && !sa.replaced {
			at(sa.rekeyAt)
		}
		if sa.peer.DPDInterval > 0 && sa.pending == nil {
			at(sa.lastHeard.Add(sa.peer.DPDInterval))
		}
		for _, c := range sa.children {
			at(c.expireAt)
			if c.state == childActive {
				at(c.rekeyAt)
			}
		}
	}
	return d
}

var errPeerDead = errors.New("ike: peer not responding")

// fail drops the SA and its children without telling the peer.
func (sa *ikeSA) fail(err error) {
	sa.e.log.Warn("IKE SA failed", sa.logArgs("err", err)...)
	sa.drop(err)
}

// drop removes the SA and reports its children and itself down.
func (sa *ikeSA) drop(err error) {
	if sa.state == stateDead {
		return
	}
	wasUp := sa.state == stateEstablished || sa.state == stateDeleting
	sa.state = stateDead
	for _, c := range sa.children {
		sa.removeChild(c)
	}
	sa.children = nil
	for _, spi := range sa.reserved {
		if c, ok := sa.e.inSPIs[spi]; ok && c == nil {
			delete(sa.e.inSPIs, spi)
		}
	}
	sa.e.remove(sa)
	if wasUp || (sa.initiator && err != nil) {
		sa.e.emit(Event{Kind: IKEDown, Peer: sa.peer.Name, SPIi: sa.spiI, SPIr: sa.spiR, Err: err})
	}
	sa.e.maybeRestart(sa)
}

// establish finishes IKE_AUTH or an IKE rekey: keys are in place.
func (sa *ikeSA) establish() {
	now := sa.e.now()
	sa.state = stateEstablished
	sa.created, sa.lastHeard = now, now
	lt := sa.peer.IKELifetime
	soft := lt.Soft
	if !sa.initiator {
		// The responder waits a little longer, so both ends with the
		// same lifetimes rarely start a rekey at once (section 2.8.1).
		soft += (lt.Hard - lt.Soft) / 2
	}
	sa.rekeyAt, sa.expireAt = now.Add(soft), now.Add(lt.Hard)
	sa.e.log.Info("IKE SA established", sa.logArgs("suite", sa.suite.String(), "local", sa.local, "remote", sa.remote, "nat_t", sa.natt)...)
	sa.e.emit(Event{Kind: IKEUp, Peer: sa.peer.Name, SPIi: sa.spiI, SPIr: sa.spiR})
}

// maybeRestart schedules a new initiation to the peer of a dead SA when the
// peer is configured with Initiate, the SA was not deleted on purpose here
// (Engine.Delete), and no other SA with the peer lives (an IKE rekey
// leaves its successor behind).
func (e *Engine) maybeRestart(dead *ikeSA) {
	p := dead.peer
	if !p.Initiate || dead.noRestart {
		return
	}
	for _, sa := range e.sas {
		if sa.peer == p && sa != dead && sa.state != stateDead {
			return
		}
	}
	at := e.now().Add(e.cfg.RestartAfter)
	e.log.Info("will initiate again", "peer", p.Name, "at", at)
	e.restart[p] = at
}

// restartDue initiates the peers whose restart time has come.
func (e *Engine) restartDue(now time.Time) {
	for p, at := range e.restart {
		if !now.Before(at) {
			delete(e.restart, p)
			_ = e.initiate(p)
		}
	}
}
