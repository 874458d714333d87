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
			"replaces", fmt.Sprintf("0x%08x", ev.Child.Replaces), "cipher", ev.Child.Transform(), "udp", ev.Child.UDPEncap,
			"resource", ev.Child.Resource)
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

// tunnel is a peer's tunnel. Its children fall into lanes (lanes): the
// first child and every child that replaces it in one, and each extra
// per-resource child (RFC 9611, ike.ChildSA.Resource) with its rekeys in
// one of its own. In each lane the newest live child opens, and seals
// once it is OutSwitchDelay old (the previous live one seals until
// then); every other child only opens, in RetiringIn. The first lane
// with a live child gives Out and In, the others fib.Tunnel.Resources.
// Without per-resource children there is one lane: one SA pair.
func (s *Service) tunnel(remote netip.Addr, cs map[uint32]*child, now time.Time) fib.Tunnel {
	sorted := newestFirst(cs)
	window := s.opts.ReplayWindow
	t := fib.Tunnel{Remote: remote, UDP: sorted[0].sa.UDPEncap}
	opened := map[uint32]bool{}
	for _, lane := range lanes(cs, sorted) {
		pair, udp, ok := s.lanePair(lane, now, t.In == nil)
		if !ok {
			continue
		}
		opened[pair.In.SPI] = true
		if t.In == nil {
			t.UDP, t.Out, t.In = udp, pair.Out, pair.In
			continue
		}
		t.Resources = append(t.Resources, pair)
	}
	// With no live child (every one retired: at a hard limit, its delete
	// under way) nothing seals: traffic to the PE is dropped, never sent
	// in clear, until a new child comes up.
	for _, old := range sorted {
		if opened[old.sa.InSPI] {
			continue
		}
		t.RetiringIn = append(t.RetiringIn, ahParams(saParams(old.sa.InConfig(window), window), old.sa))
	}
	return t
}

// lanePair is the SA pair of one lane (its children newest first): the
// newest live child opens; the newest live one OutSwitchDelay old seals
// (the peer has had time to install it), or, with none that old, the
// oldest live one, which the peer has had longest. An extra lane's only
// child seals only once OutSwitchDelay old (first is false): until then
// its flows stay on the other lanes' SAs. ok is false for a lane with no
// live child.
func (s *Service) lanePair(lane []*child, now time.Time, first bool) (p fib.SAPair, udp bool, ok bool) {
	var live []*child
	for _, c := range lane {
		if !c.retired {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return p, false, false
	}
	window := s.opts.ReplayWindow
	cur := live[0].sa
	var seal *ike.ChildSA
	for _, c := range live {
		if !c.installed.IsZero() && now.Sub(c.installed) >= s.opts.OutSwitchDelay {
			seal = &c.sa
			break
		}
	}
	if seal == nil && (first || len(live) > 1) {
		seal = &live[len(live)-1].sa
	}
	p.In = ahParams(saParams(cur.InConfig(window), window), cur)
	if seal != nil {
		p.Out = ahParams(saParams(seal.OutConfig(), window), *seal)
	}
	return p, cur.UDPEncap, true
}

// lanes groups cs's children (sorted, newest first) by lane, each lane
// newest first: the children that are not per-resource ones in the
// first, each per-resource child with those that replace it in another.
// The extra lanes are in the order their oldest child was created, so
// that a lane keeps its place in fib.Tunnel.Resources across rekeys.
func lanes(cs map[uint32]*child, sorted []*child) [][]*child {
	root := func(c *child) uint32 {
		for c.sa.Resource {
			prev := cs[c.sa.Replaces]
			if c.sa.Replaces == 0 || prev == nil || !prev.sa.Resource {
				return c.sa.InSPI
			}
			c = prev
		}
		return 0 // the first lane
	}
	byRoot := map[uint32][]*child{}
	var order []uint32
	for i := len(sorted) - 1; i >= 0; i-- { // oldest first: roots in creation order
		r := root(sorted[i])
		if _, ok := byRoot[r]; !ok && r != 0 {
			order = append(order, r)
		}
		byRoot[r] = append([]*child{sorted[i]}, byRoot[r]...)
	}
	out := [][]*child{byRoot[0]}
	for _, r := range order {
		out = append(out, byRoot[r])
	}
	return out
}

// saParams is the FIB's form of an SA the engine keyed. Every SA carries
// the configured replay window, as the FIB's config does for manual ones.
func saParams(c esp.Config, window int) *fib.SAParams {
	return &fib.SAParams{SPI: c.SPI, Cipher: c.Cipher, Key: c.Key, ESN: c.ESN, ReplayWindow: window}
}

// ahParams makes p an AH SA when c, the child it came from, is AH
// (ike.PeerConfig.AH): the FIB then seals and opens it in the AH
// dataplane the manual AH tunnels use, IP protocol 51 whatever the
// tunnel's UDP says.
func ahParams(p *fib.SAParams, c ike.ChildSA) *fib.SAParams {
	if c.AH.IsValid() {
		p.Cipher, p.AH = 0, c.AH
	}
	return p
}
