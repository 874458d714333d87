package userspace

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
)

// SA lifetimes. An SA's sequence number is its IV (see package esp), so an
// outbound SA made again under the same key would send IVs it already
// sent. Hence:
//
//   - Outbound SAs are held per tunnel (remote PE and SPI), never by SPI
//     alone: the remote PE picks the SPI it receives on, so two tunnels may
//     share one, and holding them by SPI would make each tunnel's SA again
//     on every update.
//   - An SA is made again only when its key changes. Settings that do not
//     touch the sealing (the replay window, anti-replay on or off) keep
//     the SA: an outbound SA never reads them, and an inbound SA made
//     again would forget which numbers it has seen and accept replays of
//     them. A new window applies with the SA's next key.
//   - If the same key comes back with another cipher or ESN setting, the
//     new SA continues the old one's sequence.
//   - No copy of a key is held here: an SA is compared by a digest of its
//     key, so a dropped SA leaves no key material behind in this package
//     (the esp.SA's cipher holds its own schedule until it is collected).

// outKey names an outbound SA: the tunnel (remote PE) and the SPI.
type outKey struct {
	remote netip.Addr
	spi    uint32
	att    string // an IPsec attachment's (attach.go); "" for a PE tunnel
}

// installTunnels installs s's tunnels and attachments, unless newer ones
// are installed (fib.TunnelApplier: the tunnel lane may have overtaken
// the Apply that brings s).
func (d *dataplane) installTunnels(s *fib.State) []error {
	if s.TunnelsVersion < d.tunnelsVersion {
		return nil
	}
	d.tunnelsVersion = s.TunnelsVersion
	d.tunnelRemotes = make(map[netip.Addr]bool, len(s.Tunnels))
	for remote := range s.Tunnels {
		d.tunnelRemotes[remote.Unmap()] = true
	}
	return append(d.updateTunnels(s), d.updateAttachments(s)...)
}

// updateTunnels publishes each peer's outbound tunnel and brings the
// inbound SA table in line with s.Tunnels.
func (d *dataplane) updateTunnels(s *fib.State) []error {
	var errs []error
	tunnels := make(map[netip.Addr]*fib.Tunnel, len(s.Tunnels)) // by unmapped address, as peers are
	for remote, t := range s.Tunnels {
		tunnels[remote.Unmap()] = t
	}
	// Let go of outbound SAs the State dropped first, so that a key that
	// moved to another tunnel or SPI is free for its new SA (a sequence
	// store refuses one key on two live SAs).
	for k, h := range d.outSAs {
		if k.att != "" {
			continue // updateAttachments'
		}
		if t := tunnels[k.remote]; t == nil || !sealsWith(t, k.spi) {
			h.release()
			delete(d.outSAs, k)
		}
	}
	d.releaseAHOut(tunnels)
	wantIn, wantAHIn := map[uint32]bool{}, map[uint32]bool{}
	lanes := map[uint32]int{}
	for remote, t := range tunnels {
		p := d.peer(remote)
		out := &tunnelOut{remote: remote, udp: t.UDP, dst: esptransport.DestOf(remote, t.UDP)}
		if t.Out.IsAH() {
			// AH is IP protocol 51 whatever t.UDP says (ah.go).
			out.udp, out.dst, out.src = false, esptransport.DestOf(remote, false), s.LocalAddress.Unmap()
			h, err := d.keepOutboundAH(outKey{remote: remote, spi: t.Out.SPI}, t.Out)
			if err != nil {
				errs = append(errs, fmt.Errorf("tunnel %s: outbound AH SA: %w", remote, err))
			} else {
				out.ah = h.sa
			}
		} else if t.Out != nil {
			h, err := d.keepOutbound(outKey{remote: remote, spi: t.Out.SPI}, t.Out)
			if err != nil {
				errs = append(errs, fmt.Errorf("tunnel %s: outbound SA: %w", remote, err))
			} else {
				out.sa = h.sa
				out.extra = extraOverhead(h.sa.Cipher())
			}
			errs = append(errs, d.keepResourcesOut(out, t, lanes)...)
		}
		p.out.Store(out)
		for _, in := range inboundOf(t) {
			if in == nil {
				continue
			}
			if in.IsAH() {
				wantAHIn[in.SPI] = true
				if err := d.keepInboundAH(in, remote); err != nil {
					errs = append(errs, fmt.Errorf("tunnel %s: inbound AH SA: %w", remote, err))
				}
				continue
			}
			wantIn[in.SPI] = true
			if err := d.keepInbound(in, remote); err != nil {
				errs = append(errs, fmt.Errorf("tunnel %s: inbound SA: %w", remote, err))
			}
		}
	}
	for remote, p := range d.peers {
		if _, ok := tunnels[remote]; ok {
			continue
		}
		switch cur := p.out.Load(); {
		case s.IsUnprotected(remote):
			tl, hasTL := s.TransportLabels[remote]
			if cur == nil || cur.plain == nil || cur.transport != tl || cur.hasTransport != hasTL {
				p.out.Store(&tunnelOut{remote: remote, plain: d.plainOf(remote), transport: tl, hasTransport: hasTL})
			}
		case cur != nil:
			p.out.Store(nil) // fail closed: no tunnel, not unprotected
		}
	}
	for spi := range d.inSAs {
		if !wantIn[spi] {
			d.spis.Remove(spi)
			delete(d.inSAs, spi)
		}
	}
	d.publishAHIn(wantAHIn)
	d.publishLanes(tunnels, lanes)
	return errs
}

// publishLanes publishes lanes, the inbound SAs' lanes keepResourcesOut
// found, as inLanes, adding those of the retiring inbound SAs: a
// resource's SA being replaced keeps its lane while it drains.
func (d *dataplane) publishLanes(tunnels map[netip.Addr]*fib.Tunnel, lanes map[uint32]int) {
	old := *d.inLanes.Load()
	for _, t := range tunnels {
		for _, in := range t.RetiringIn {
			if in == nil {
				continue
			}
			if l, ok := old[in.SPI]; ok {
				if _, taken := lanes[in.SPI]; !taken {
					lanes[in.SPI] = l
				}
			}
		}
	}
	d.inLanes.Store(&lanes)
}

// sealsWith reports whether t has an outbound ESP SA with SPI spi, of
// resource 0 or another (fib.Tunnel.Resources).
func sealsWith(t *fib.Tunnel, spi uint32) bool {
	if t.Out == nil || t.Out.IsAH() {
		return false
	}
	if t.Out.SPI == spi {
		return true
	}
	for _, r := range t.Resources {
		if r.Out != nil && !r.Out.IsAH() && r.Out.SPI == spi {
			return true
		}
	}
	return false
}

// keepResourcesOut holds the outbound SAs of t's other resources (RFC
// 9611) and lists them in out.more, beside out.sa, which must be set: a
// tunnel whose first SA is missing seals nothing. One that cannot be
// made is left out (its lane's flows go to another SA) and reported.
// Each has its own key and sequence space, persisted on its own for a
// manually keyed one: two SAs never share a nonce. The inbound SA of
// each resource held goes into lanes with its outbound SA's lane, its
// place in [sa, more...]: the peer seals a flow with one SA of a pair,
// and the replies go back with the other (device.queue).
func (d *dataplane) keepResourcesOut(out *tunnelOut, t *fib.Tunnel, lanes map[uint32]int) []error {
	if out.sa == nil {
		return nil
	}
	var errs []error
	for i, r := range t.Resources {
		if r.Out == nil || r.Out.IsAH() || r.Out.SPI == t.Out.SPI {
			continue
		}
		h, err := d.keepOutbound(outKey{remote: out.remote, spi: r.Out.SPI}, r.Out)
		if err != nil {
			errs = append(errs, fmt.Errorf("tunnel %s: resource %d: outbound SA: %w", out.remote, i+1, err))
			continue
		}
		out.more = append(out.more, h.sa)
		out.extra = max(out.extra, extraOverhead(h.sa.Cipher()))
		if r.In != nil && !r.In.IsAH() && (t.In == nil || r.In.SPI != t.In.SPI) {
			lanes[r.In.SPI] = len(out.more)
		}
	}
	return errs
}

// inboundOf lists every inbound SA of t: resource 0's, the other
// resources', and the retiring ones.
func inboundOf(t *fib.Tunnel) []*fib.SAParams {
	in := make([]*fib.SAParams, 0, 1+len(t.Resources)+len(t.RetiringIn))
	in = append(in, t.In)
	for _, r := range t.Resources {
		in = append(in, r.In)
	}
	return append(in, t.RetiringIn...)
}

// keepOutbound returns the outbound SA held for k if p has its key, else
// makes (and holds) a new one: for a manually keyed SA, above its
// persisted sequence (PersistSequence). On error k holds nothing, and the
// tunnel drops what it would have sealed.
func (d *dataplane) keepOutbound(k outKey, p *fib.SAParams) (*heldSA, error) {
	old := d.outSAs[k]
	sum := keySum(p.Key)
	if old != nil && old.sameSealing(p, &sum) && old.persisted() == p.PersistSequence {
		return old, nil
	}
	delete(d.outSAs, k)
	var last uint64
	if old != nil {
		old.release()
		if subtle.ConstantTimeCompare(old.keySum[:], sum[:]) == 1 {
			last = old.sa.LastSeq() // same key, new cipher or ESN: go on
		}
	}
	sa, err := esp.NewSA(esp.Config{SPI: p.SPI, Cipher: p.Cipher, Key: p.Key, ESN: p.ESN, InitialSeq: last})
	if err != nil {
		return nil, err
	}
	h := &heldSA{sa: sa, remote: k.remote, cipher: p.Cipher, esn: p.ESN, keySum: sum}
	if h.res, err = d.persistSequence(sa, k.remote, p); err != nil {
		return nil, err
	}
	d.outSAs[k] = h
	return h, nil
}

// persistSequence attaches a manually keyed outbound SA, ESP or AH, to
// the sequence store, so that after a restart it continues above every
// number it may have used; nil for an SA whose sequence is not persisted
// (IKE-keyed).
func (d *dataplane) persistSequence(sa seqstore.Sequenced, remote netip.Addr, p *fib.SAParams) (*seqstore.Reservation, error) {
	if !p.PersistSequence {
		return nil, nil
	}
	if d.seqs == nil {
		return nil, errors.New("manually keyed SA and no sequence store to continue its sequence after a restart")
	}
	return d.seqs.Attach(sa, seqstore.Tunnel{Remote: remote, SPI: p.SPI, Key: p.Key, Reset: p.ResetSequence})
}

// keepInbound holds the inbound SA p and keeps the SPI table pointing at it.
func (d *dataplane) keepInbound(p *fib.SAParams, remote netip.Addr) error {
	old := d.inSAs[p.SPI]
	sum := keySum(p.Key)
	if old != nil && old.sameSealing(p, &sum) {
		old.remote = remote
		return nil
	}
	delete(d.inSAs, p.SPI)
	d.spis.Remove(p.SPI)
	sa, err := esp.NewSA(esp.Config{
		SPI: p.SPI, Cipher: p.Cipher, Key: p.Key, ESN: p.ESN, ReplayWindow: p.ReplayWindow,
		NoAntiReplay: p.NoAntiReplay,
	})
	if err != nil {
		return err
	}
	d.inSAs[p.SPI] = &heldSA{sa: sa, remote: remote, cipher: p.Cipher, esn: p.ESN, keySum: sum}
	return d.spis.Add(sa)
}

// keySum is what an SA's key is compared by.
func keySum(key []byte) [sha256.Size]byte { return sha256.Sum256(key) }

// sameSealing reports whether p, whose key digests to sum, seals and opens
// exactly as h does (see the lifetimes above for what is left out).
func (h *heldSA) sameSealing(p *fib.SAParams, sum *[sha256.Size]byte) bool {
	return h.sa.SPI() == p.SPI && h.cipher == p.Cipher && h.esn == p.ESN &&
		subtle.ConstantTimeCompare(h.keySum[:], sum[:]) == 1
}

// release is called when h is no longer held: its sequence reservation,
// if any, ends (the mark stays on disk).
func (h *heldSA) release() { h.res.Release() }

// persisted reports whether h's sequence is reserved in the store.
func (h *heldSA) persisted() bool { return h.res != nil }

// saStats returns the counters of every SA the tunnels use. Only Apply's
// goroutine may call it; Backend.Stats takes the lock that serializes
// them.
func (d *dataplane) saStats() []fib.SACounters {
	var out []fib.SACounters
	for k, h := range d.outSAs {
		out = append(out, fib.SACounters{Remote: h.remote, Outbound: true, SPI: k.spi, Counters: h.sa.Counters(),
			LastSeq: h.sa.LastSeq(), NeedsRekey: h.sa.NeedsRekey()})
	}
	for spi, h := range d.inSAs {
		out = append(out, fib.SACounters{Remote: h.remote, SPI: spi, Counters: h.sa.Counters()})
	}
	return out
}

// stats returns the dataplane's counters (SA counters aside).
func (d *dataplane) stats() fib.Stats {
	s := fib.Stats{VRFs: map[string]fib.VRFCounters{}, Inbound: dropsFrom(&d.cnt.drops)}
	for name, v := range d.vrfs {
		s.VRFs[name] = v.stats()
	}
	tc := d.spis.Counters()
	s.UnknownSPI, s.Truncated = tc.UnknownSPI+d.cnt.ahUnknownSPI.Load(), tc.Truncated
	s.IKE, s.Keepalives = d.cnt.ike.Load(), d.cnt.keepalives.Load()
	s.PlainIn = d.cnt.plainIn.Load()
	s.SAs = append(d.saStats(), d.ahStats()...)
	var attSAs []fib.SACounters
	s.Attachments, attSAs = d.attachStats()
	s.SAs = append(s.SAs, attSAs...)
	return s
}
