package keying

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// ChildUp installs a child SA the engine negotiated (ike.Runner.OnChildSA).
// A rekey's new outbound SA seals OutSwitchDelay after the FIB installed
// the child (installedAt), when the peer, which has had the new SA since
// before its CREATE_CHILD_SA exchange ended, has had it for as long.
func (s *Service) ChildUp(c ike.ChildSA) {
	s.do(func(st *state) {
		remote := s.keyOf(c)
		if st.childs[remote] == nil {
			st.childs[remote] = map[uint32]*child{}
		}
		ch := &child{sa: c, ready: make(chan struct{})}
		if !s.fibAcks() {
			ch.installed = c.Created
		}
		st.childs[remote][c.InSPI] = ch
		rekey := len(st.childs[remote]) > 1
		s.pushThen(st, func(st *state) {
			if ch.installed.IsZero() {
				ch.installed = time.Now()
			}
			close(ch.ready)
			if rekey { // switch the outbound SA later
				s.after(s.opts.OutSwitchDelay, s.push)
			}
		})
	})
}

// WaitInstalled returns once the FIB has installed child c, which
// ChildUp was given (with a FIB that does not say when, at once), or an
// error when ctx ends first or c is unknown (ike.Runner.AwaitInstalled:
// the IKE response that brings c up leaves only then, so that the peer
// never seals with an SA our dataplane cannot open yet).
func (s *Service) WaitInstalled(ctx context.Context, c ike.ChildSA) error {
	// Like do, but bounded by ctx while Run is busy: the IKE runner waits.
	var ready chan struct{}
	found := make(chan struct{})
	select {
	case s.in <- func(st *state) {
		if ch := st.childs[s.keyOf(c)][c.InSPI]; ch != nil {
			ready = ch.ready
		}
		close(found)
	}:
		<-found
	case <-s.done:
		return errors.New("keying: service stopped")
	case <-ctx.Done():
		return fmt.Errorf("keying: child SA 0x%08x for %s: service busy: %w", c.InSPI, c.Peer, ctx.Err())
	}
	if ready == nil {
		return fmt.Errorf("keying: no child SA with inbound SPI 0x%08x for %s", c.InSPI, c.Peer)
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("keying: child SA 0x%08x for %s not installed: %w", c.InSPI, c.Peer, ctx.Err())
	}
}

// ChildDown removes a child SA the engine deleted
// (ike.Runner.OnChildSADeleted). The last child of a peer leaves at once;
// a rekeyed-away one seals no more but opens for RetireGrace.
func (s *Service) ChildDown(c ike.ChildSA) {
	s.do(func(st *state) {
		remote := s.keyOf(c)
		ch := st.childs[remote][c.InSPI]
		if ch == nil {
			return
		}
		live := 0
		for _, x := range st.childs[remote] {
			if !x.retired && x != ch {
				live++
			}
		}
		if live == 0 { // the tunnel is going away, not being rekeyed
			s.forget(st, remote, c.InSPI)
			return
		}
		ch.retired = true
		// The grace counts from when the FIB has the tunnel without
		// this child sealing, and with the child that replaces it.
		s.pushThen(st, func(*state) {
			s.after(s.opts.RetireGrace, func(st *state) {
				if x := st.childs[remote][c.InSPI]; x == ch {
					s.forget(st, remote, c.InSPI)
				}
			})
		})
	})
}

// Event logs what the engine reports (ike.Runner.OnEvent). ChildSA and
// errors print no keys and PSKs never reach an event.
func (s *Service) Event(ev ike.Event) {
	switch ev.Kind {
	case ike.AuthFailed:
		s.log.Error("ike authentication failed", "peer", ev.Peer, "error", ev.Err)
	case ike.IKEDown:
		if ev.Err != nil {
			s.log.Warn("ike sa down", "peer", ev.Peer, "spi_i", fmt.Sprintf("%016x", ev.SPIi), "error", ev.Err)
			return
		}
		s.log.Info("ike sa down", "peer", ev.Peer, "spi_i", fmt.Sprintf("%016x", ev.SPIi))
	case ike.IKEUp:
		s.log.Info("ike sa up", "peer", ev.Peer, "spi_i", fmt.Sprintf("%016x", ev.SPIi), "spi_r", fmt.Sprintf("%016x", ev.SPIr))
	case ike.ChildUp:
		s.log.Info("child sa up", "peer", ev.Peer, "in", fmt.Sprintf("0x%08x", ev.Child.InSPI), "out", fmt.Sprintf("0x%08x", ev.Child.OutSPI),
			"replaces", fmt.Sprintf("0x%08x", ev.Child.Replaces), "cipher", ev.Child.Cipher.String(), "udp", ev.Child.UDPEncap)
	case ike.ChildDown:
		s.log.Info("child sa down", "peer", ev.Peer, "in", fmt.Sprintf("0x%08x", ev.Child.InSPI), "out", fmt.Sprintf("0x%08x", ev.Child.OutSPI))
	}
}

// keyOf is the key of c's peer in state.childs: an attachment by its
// name, a PE by its configured address (whatever address its packets
// come from).
func (s *Service) keyOf(c ike.ChildSA) peerKey {
	if _, ok := s.opts.Attachments[c.Peer]; ok {
		return peerKey{att: c.Peer, host: c.VirtualIP4}
	}
	if a, ok := s.opts.Remotes[c.Peer]; ok {
		return peerKey{remote: a}
	}
	return peerKey{remote: c.Remote.Addr()}
}

// forget removes a child and pushes the FIB config.
func (s *Service) forget(st *state, remote peerKey, inSPI uint32) {
	delete(st.childs[remote], inSPI)
	if len(st.childs[remote]) == 0 {
		delete(st.childs, remote)
	}
	s.push(st)
}

// fibConfig is the static config plus one tunnel per IKE peer with a
// child SA, as of now.
func (s *Service) fibConfig(st *state, now time.Time) fib.Config {
	fc := st.static
	fc.Tunnels = append([]fib.Tunnel(nil), st.static.Tunnels...)
	for k, cs := range st.childs {
		if k.att != "" {
			fc.Attachments = append(fc.Attachments, s.attachment(k, cs, now))
			continue
		}
		fc.Tunnels = append(fc.Tunnels, s.tunnel(k.remote, cs, now))
	}
	return fc
}

// newestFirst returns cs sorted newest first.
func newestFirst(cs map[uint32]*child) []*child {
	sorted := make([]*child, 0, len(cs))
	for _, c := range cs {
		sorted = append(sorted, c)
	}
	sort.Slice(sorted, func(i, j int) bool { // newest first
		if !sorted[i].sa.Created.Equal(sorted[j].sa.Created) {
			return sorted[i].sa.Created.After(sorted[j].sa.Created)
		}
		return sorted[i].sa.InSPI > sorted[j].sa.InSPI
	})
	return sorted
}

// tunnel is a peer's tunnel: the newest live child opens, and seals once
// it is OutSwitchDelay old (the previous live one seals until then);
// every other child only opens, in RetiringIn.
func (s *Service) tunnel(remote netip.Addr, cs map[uint32]*child, now time.Time) fib.Tunnel {
	sorted := newestFirst(cs)
	live := sorted[:0:0]
	for _, c := range sorted {
		if !c.retired {
			live = append(live, c)
		}
	}
	window := s.opts.ReplayWindow
	t := fib.Tunnel{Remote: remote, UDP: sorted[0].sa.UDPEncap}
	if len(live) > 0 {
		cur := live[0].sa
		// Seal with the newest child only once the peer has had time to
		// install it (OutSwitchDelay after our FIB installed it); until
		// then the previous one, which the peer still opens. The newest
		// child's inbound SA is open at once. With none installed that
		// long, the oldest live one, which the peer has had longest.
		seal := live[len(live)-1].sa
		for _, c := range live {
			if !c.installed.IsZero() && now.Sub(c.installed) >= s.opts.OutSwitchDelay {
				seal = c.sa
				break
			}
		}
		t.UDP = cur.UDPEncap
		t.Out = saParams(seal.OutConfig(), window)
		t.In = saParams(cur.InConfig(window), window)
	}
	// With no live child (every one retired: at a hard limit, its delete
	// under way) nothing seals: traffic to the PE is dropped, never sent
	// in clear, until a new child comes up.
	for _, old := range sorted {
		if t.In != nil && old.sa.InSPI == t.In.SPI {
			continue
		}
		t.RetiringIn = append(t.RetiringIn, saParams(old.sa.InConfig(window), window))
	}
	return t
}

// saParams is the FIB's form of an SA the engine keyed. Every SA carries
// the configured replay window, as the FIB's config does for manual ones.
func saParams(c esp.Config, window int) *fib.SAParams {
	return &fib.SAParams{SPI: c.SPI, Cipher: c.Cipher, Key: c.Key, ESN: c.ESN, ReplayWindow: window}
}
