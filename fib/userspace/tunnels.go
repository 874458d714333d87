package userspace

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
)

// updateTunnels publishes each peer's outbound tunnel and brings the
// inbound SA table in line with s.Tunnels. SAs whose parameters did not
// change are kept, so sequence numbers and replay windows survive an
// update; a changed SA (new keys under the same SPI) is replaced.
func (d *dataplane) updateTunnels(s *fib.State) []error {
	var errs []error
	wantIn := map[uint32]bool{}
	wantOut := map[uint32]bool{}
	for remote, t := range s.Tunnels {
		remote = remote.Unmap()
		p := d.peer(remote)
		out := &tunnelOut{remote: remote, udp: t.UDP, dst: sockaddrOf(remote, t.UDP)}
		if t.Out != nil {
			wantOut[t.Out.SPI] = true
			h, err := d.keepSA(d.outSAs, t.Out, remote)
			if err != nil {
				errs = append(errs, fmt.Errorf("tunnel %s: outbound SA: %w", remote, err))
			} else {
				out.sa = h.sa
				out.extra = extraOverhead(h.sa.Cipher())
			}
		}
		p.out.Store(out)
		for _, in := range append([]*fib.SAParams{t.In}, t.RetiringIn...) {
			if in == nil {
				continue
			}
			wantIn[in.SPI] = true
			if err := d.keepInbound(in, remote); err != nil {
				errs = append(errs, fmt.Errorf("tunnel %s: inbound SA: %w", remote, err))
			}
		}
	}
	for remote, p := range d.peers {
		if _, ok := s.Tunnels[remote]; !ok && p.out.Load() != nil {
			p.out.Store(nil)
		}
	}
	for spi := range d.outSAs {
		if !wantOut[spi] {
			delete(d.outSAs, spi)
		}
	}
	for spi := range d.inSAs {
		if !wantIn[spi] {
			d.spis.Remove(spi)
			delete(d.inSAs, spi)
		}
	}
	return errs
}

// keepInbound holds the inbound SA p and keeps the SPI table pointing at it.
func (d *dataplane) keepInbound(p *fib.SAParams, remote netip.Addr) error {
	old := d.inSAs[p.SPI]
	h, err := d.keepSA(d.inSAs, p, remote)
	if err != nil {
		d.spis.Remove(p.SPI)
		return err
	}
	if h != old {
		d.spis.Remove(p.SPI)
		if err := d.spis.Add(h.sa); err != nil {
			return err
		}
	}
	return nil
}

// keepSA returns the SA held under p.SPI if it was made from the same
// parameters, else makes (and holds) a new one. On error the SPI is no
// longer held.
func (d *dataplane) keepSA(held map[uint32]*heldSA, p *fib.SAParams, remote netip.Addr) (*heldSA, error) {
	if h := held[p.SPI]; h != nil && sameParams(&h.params, p) {
		h.remote = remote
		return h, nil
	}
	delete(held, p.SPI)
	sa, err := esp.NewSA(esp.Config{
		SPI: p.SPI, Cipher: p.Cipher, Key: p.Key, ESN: p.ESN, ReplayWindow: p.ReplayWindow,
		NoAntiReplay: p.NoAntiReplay,
	})
	if err != nil {
		return nil, err
	}
	h := &heldSA{sa: sa, params: *p, remote: remote}
	h.params.Key = bytes.Clone(p.Key)
	held[p.SPI] = h
	return h, nil
}

func sameParams(a, b *fib.SAParams) bool {
	return a.SPI == b.SPI && a.Cipher == b.Cipher && a.ESN == b.ESN &&
		a.ReplayWindow == b.ReplayWindow && a.NoAntiReplay == b.NoAntiReplay && bytes.Equal(a.Key, b.Key)
}

// saStats returns the counters of every SA the tunnels use. Only Apply's
// goroutine may call it; Backend.Stats takes the lock that serializes
// them.
func (d *dataplane) saStats() []SACounters {
	var out []SACounters
	for spi, h := range d.outSAs {
		out = append(out, SACounters{Remote: h.remote, Outbound: true, SPI: spi, Counters: h.sa.Counters()})
	}
	for spi, h := range d.inSAs {
		out = append(out, SACounters{Remote: h.remote, SPI: spi, Counters: h.sa.Counters()})
	}
	return out
}

// stats returns the dataplane's counters (SA counters aside).
func (d *dataplane) stats() Stats {
	s := Stats{VRFs: map[string]VRFCounters{}, Inbound: dropsFrom(&d.cnt.drops)}
	for name, v := range d.vrfs {
		s.VRFs[name] = v.stats()
	}
	tc := d.spis.Counters()
	s.UnknownSPI, s.Truncated = tc.UnknownSPI, tc.Truncated
	s.IKE, s.Keepalives = d.cnt.ike.Load(), d.cnt.keepalives.Load()
	s.SAs = d.saStats()
	return s
}
