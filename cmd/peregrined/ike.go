package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/userspace"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// nattHook connects the userspace dataplane, which owns UDP 4500, to the
// IKE runner made after it: IKE messages the dataplane finds behind the
// non-ESP marker go to whichever runner is set.
type nattHook struct{ r atomic.Pointer[ike.Runner] }

func (h *nattHook) deliver(from netip.AddrPort, msg []byte) {
	if r := h.r.Load(); r != nil {
		r.HandleNATT(from, msg)
	}
}

// ikeService runs IKEv2 for ipsec.ike-peers and turns child SAs into FIB
// tunnels. The FIB's configuration is the static part (config's VRFs and
// manually keyed tunnels) merged with one tunnel per IKE peer; every child
// SA event and every reload pushes the merge.
//
// Make-before-break: a rekeyed child's new inbound SA becomes the tunnel's
// In at once and its outbound SA the Out after outSwitchDelay; the old
// inbound SA stays in RetiringIn, still accepted, until the engine reports
// it deleted (the rekey's initiator deletes it once the new SA is in
// place, RFC 7296 section 2.8).
type ikeService struct {
	log    *slog.Logger
	runner *ike.Runner
	fib    *fib.Reconciler // nil with backend "none"
	stats  func() userspace.Stats
	window int
	// control runs f on the engine's goroutine (runner.Do); tests record
	// instead.
	control func(ctx context.Context, f func(childControl)) error

	mu      sync.Mutex
	static  fib.Config
	remotes map[string]netip.Addr            // peer name -> remote PE address
	childs  map[netip.Addr]map[uint32]*child // remote -> inbound SPI -> child
}

type child struct {
	sa ike.ChildSA
	// softSent is set once a rekey was asked for at a soft byte or
	// packet limit.
	softSent bool
	// retired is set when the engine deleted the child, or when it
	// reached a hard limit and is being deleted: it seals nothing more,
	// and its inbound SA still opens for retireGrace after the delete,
	// for packets already on their way.
	retired bool
}

// childControl is what the lifecycle asks of the engine (*ike.Engine).
type childControl interface {
	Rekey(inSPI uint32) error
	DeleteChild(inSPI uint32) error
}

// ikeConfig translates the configuration's IKE peers for the engine.
func ikeConfig(cfg *config.Config, log *slog.Logger) ike.Config {
	ec := ike.Config{Logger: log}
	encap := cfg.IPsec.Encapsulation == "udp"
	for _, p := range cfg.IPsec.IKEPeers {
		lid, _ := config.ParseIKEIdentity(p.LocalID) // validated at load
		rid, _ := config.ParseIKEIdentity(p.RemoteID)
		ec.Peers = append(ec.Peers, ike.PeerConfig{
			Name: p.Name, LocalAddr: p.LocalAddress, RemoteAddr: p.RemoteAddress,
			LocalID: lid, RemoteID: rid, PSK: ike.NewPSK([]byte(p.PSK.Reveal())),
			IKE: p.IKEProposals, ESP: p.ESPProposals,
			IKELifetime:   ike.Lifetime{Soft: p.IKELifetime.Soft, Hard: p.IKELifetime.Hard},
			ChildLifetime: ike.Lifetime{Soft: p.ChildLifetime.Soft, Hard: p.ChildLifetime.Hard, SoftBytes: p.ChildLifetime.SoftBytes, HardBytes: p.ChildLifetime.HardBytes},
			DPDInterval:   p.DPDInterval,
			Mode:          ike.Transport, // between the PE addresses: see ipsec/ike's doc
			ForceUDPEncap: encap,
			Initiate:      p.InitiateOrDefault(),
		})
	}
	return ec
}

// nattOwner is a dataplane that owns UDP port 4500 (the userspace backend
// or the kernel backend's ESP gateway), so IKE sends from it.
type nattOwner interface {
	statser
	SendIKE(to netip.AddrPort, msg []byte) error
}

// startIKE starts the IKE runner when the configuration has IKE peers; it
// returns nil otherwise. Where a nattOwner owns UDP 4500 (the userspace
// backend, the kernel backend's ESP gateway) the runner shares it with
// ESP through hook; otherwise it binds 4500 itself.
func startIKE(ctx context.Context, cfg *config.Config, log *slog.Logger, r *fib.Reconciler, b fib.Backend, hook *nattHook) (*ikeService, error) {
	if len(cfg.IPsec.IKEPeers) == 0 {
		return nil, nil
	}
	ilog := log.With("component", "ike")
	e, err := ike.NewEngine(ikeConfig(cfg, ilog))
	if err != nil {
		return nil, err
	}
	local := cfg.IPsec.LocalAddress
	var runner *ike.Runner
	ub, shared := statserOf(b).(nattOwner)
	if shared {
		c500, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 500)))
		if err != nil {
			return nil, fmt.Errorf("ike: binding UDP 500 on %s: %w", local, err)
		}
		runner, err = ike.NewRunnerSharedNATT(e, c500, ub.SendIKE)
		if err != nil {
			c500.Close()
			return nil, err
		}
	} else if runner, err = bindRunner(e, local); err != nil {
		return nil, err
	}
	s := &ikeService{
		log: ilog, runner: runner, fib: r, window: cfg.IPsec.ReplayWindow, static: fibConfig(cfg),
		remotes: map[string]netip.Addr{}, childs: map[netip.Addr]map[uint32]*child{},
	}
	if shared {
		s.stats = ub.Stats
	}
	for _, p := range cfg.IPsec.IKEPeers {
		s.remotes[p.Name] = p.RemoteAddress
	}
	runner.OnChildSA(s.childUp)
	runner.OnChildSADeleted(s.childDown)
	runner.OnEvent(s.event)
	hook.r.Store(runner)
	go func() { _ = runner.Run(ctx) }()
	s.control = func(ctx context.Context, f func(childControl)) error {
		return runner.Do(ctx, func(e *ike.Engine) { f(e) })
	}
	if s.stats != nil {
		go s.enforceLimits(ctx, time.Second)
	}
	ilog.Info("ike started", "local", local, "peers", len(cfg.IPsec.IKEPeers), "nat-t", map[bool]string{true: "shared with the dataplane", false: "own socket"}[shared])
	return s, nil
}

// bindRunner binds UDP 500 and 4500 on local for a runner without a
// dataplane (backend "none").
func bindRunner(e *ike.Engine, local netip.Addr) (*ike.Runner, error) {
	c500, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 500)))
	if err != nil {
		return nil, fmt.Errorf("ike: binding UDP 500 on %s: %w", local, err)
	}
	c4500, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 4500)))
	if err != nil {
		c500.Close()
		return nil, fmt.Errorf("ike: binding UDP 4500 on %s: %w", local, err)
	}
	return ike.NewRunnerConns(e, c500, c4500)
}

// event logs what the engine reports. ChildSA and errors print no keys and
// PSKs never reach an event.
func (s *ikeService) event(ev ike.Event) {
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

func (s *ikeService) remoteOf(c ike.ChildSA) netip.Addr {
	if a, ok := s.remotes[c.Peer]; ok {
		return a
	}
	return c.Remote.Addr()
}

func (s *ikeService) childUp(c ike.ChildSA) {
	s.mu.Lock()
	defer s.mu.Unlock()
	remote := s.remoteOf(c)
	if s.childs[remote] == nil {
		s.childs[remote] = map[uint32]*child{}
	}
	s.childs[remote][c.InSPI] = &child{sa: c}
	s.pushLocked()
	if len(s.childs[remote]) > 1 { // a rekey: switch the outbound SA later
		time.AfterFunc(outSwitchDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.pushLocked()
		})
	}
}

// outSwitchDelay is how long a rekeyed child's new outbound SA waits
// before it seals: the peer answers a CREATE_CHILD_SA before its own
// dataplane has the new inbound SA, and packets sealed with the new SA
// in that gap would be dropped as of an unknown SPI (RFC 7296 section
// 2.8 leaves the switch to each side). The old SA stays until deleted.
const outSwitchDelay = 500 * time.Millisecond

func (s *ikeService) childDown(c ike.ChildSA) {
	s.mu.Lock()
	defer s.mu.Unlock()
	remote := s.remoteOf(c)
	ch := s.childs[remote][c.InSPI]
	if ch == nil {
		return
	}
	live := 0
	for _, x := range s.childs[remote] {
		if !x.retired && x != ch {
			live++
		}
	}
	if live == 0 { // the tunnel is going away, not being rekeyed
		s.forgetLocked(remote, c.InSPI)
		return
	}
	ch.retired = true
	s.pushLocked()
	time.AfterFunc(retireGrace, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if x := s.childs[remote][c.InSPI]; x == ch {
			s.forgetLocked(remote, c.InSPI)
		}
	})
}

// forgetLocked removes a child and pushes the FIB config.
func (s *ikeService) forgetLocked(remote netip.Addr, inSPI uint32) {
	delete(s.childs[remote], inSPI)
	if len(s.childs[remote]) == 0 {
		delete(s.childs, remote)
	}
	s.pushLocked()
}

// retireGrace is how long a rekeyed-away child's inbound SA keeps opening
// after its DELETE: the peer may have sealed packets with it that are
// still on their way (RFC 7296 section 2.8: the old SA is deleted after
// the new one is in use, but the two sides do not switch at one instant).
var retireGrace = 2 * time.Second // a variable for tests

// setStatic replaces the configuration's part of the FIB config (reload).
func (s *ikeService) setStatic(fc fib.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.static = fc
	s.pushLocked()
}

// pushLocked hands the FIB the static config plus one tunnel per IKE peer
// with a child SA: the newest child seals and opens, older ones only open.
func (s *ikeService) pushLocked() {
	if s.fib != nil {
		s.fib.SetConfig(s.fibConfigLocked())
	}
}

func (s *ikeService) fibConfigLocked() fib.Config {
	fc := s.static
	fc.Tunnels = append([]fib.Tunnel(nil), s.static.Tunnels...)
	for remote, cs := range s.childs {
		fc.Tunnels = append(fc.Tunnels, s.tunnel(remote, cs))
	}
	return fc
}

func (s *ikeService) tunnel(remote netip.Addr, cs map[uint32]*child) fib.Tunnel {
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
	live := sorted[:0:0]
	for _, c := range sorted {
		if !c.retired {
			live = append(live, c)
		}
	}
	t := fib.Tunnel{Remote: remote, UDP: sorted[0].sa.UDPEncap}
	if len(live) > 0 {
		cur := live[0].sa
		// Seal with the newest child only once the peer has had time to
		// install it (outSwitchDelay); until then the previous one, which
		// the peer still opens. The newest child's inbound SA is open at
		// once.
		seal := cur
		for _, c := range live {
			if time.Since(c.sa.Created) >= outSwitchDelay {
				seal = c.sa
				break
			}
		}
		t.UDP = cur.UDPEncap
		t.Out = &fib.SAParams{SPI: seal.OutSPI, Cipher: seal.Cipher, Key: seal.OutKey.Bytes(), ESN: seal.ESN, ReplayWindow: s.window}
		t.In = &fib.SAParams{SPI: cur.InSPI, Cipher: cur.Cipher, Key: cur.InKey.Bytes(), ESN: cur.ESN, ReplayWindow: s.window}
	}
	// With no live child (every one retired: at a hard limit, its delete
	// under way) nothing seals: traffic to the PE is dropped, never sent
	// in clear, until a new child comes up.
	for _, old := range sorted {
		if t.In != nil && old.sa.InSPI == t.In.SPI {
			continue
		}
		t.RetiringIn = append(t.RetiringIn, &fib.SAParams{SPI: old.sa.InSPI, Cipher: old.sa.Cipher, Key: old.sa.InKey.Bytes(), ESN: old.sa.ESN, ReplayWindow: s.window})
	}
	return t
}

// enforceLimits applies the limits the dataplane counts, every interval
// (see checkLimits).
func (s *ikeService) enforceLimits(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.checkLimits(ctx, s.stats().SAs, time.Now())
	}
}

// saKey names an SA in the dataplane's counters: an outbound SA by its
// remote PE and SPI (two PEs may pick the same SPI), an inbound one by
// SPI alone (we pick those, all distinct).
type saKey struct {
	remote   netip.Addr
	spi      uint32
	outbound bool
}

// checkLimits compares each live child with its SAs' counters:
//
//   - soft: soft-bytes (the larger of the outbound SA's sealed and the
//     inbound SA's opened bytes), or the outbound SA's sequence numbers
//     past esp's soft limit (NeedsRekey: 7/8 of 2^32-1 without ESN):
//     rekeyed once (Engine.Rekey).
//   - hard: hard-bytes, the hard time lifetime (the engine's own timer
//     does the same; this is the backstop), or sequence numbers
//     exhausted: the child stops sealing in the FIB at once, then is
//     deleted (Engine.DeleteChild, whose ChildDown follows at once).
//
// A child may overshoot a byte limit by what one interval carries; it
// never seals past the sequence limit (esp refuses).
func (s *ikeService) checkLimits(ctx context.Context, sas []userspace.SACounters, now time.Time) {
	counters := make(map[saKey]userspace.SACounters, len(sas))
	for _, c := range sas {
		k := saKey{spi: c.SPI, outbound: c.Outbound}
		if c.Outbound {
			k.remote = c.Remote
		}
		counters[k] = c
	}
	var rekey, del []uint32
	s.mu.Lock()
	for remote, cs := range s.childs {
		for _, c := range cs {
			if c.retired {
				continue
			}
			lt := c.sa.Lifetime
			out := counters[saKey{remote: remote, spi: c.sa.OutSPI, outbound: true}]
			in := counters[saKey{spi: c.sa.InSPI}]
			n := max(out.SealedBytes, in.OpenedBytes)
			switch {
			case lt.HardBytes != 0 && n >= lt.HardBytes,
				out.SeqExhausted != 0,
				lt.Hard != 0 && now.Sub(c.sa.Created) >= lt.Hard:
				c.retired = true // stop sealing now, not when the delete ends
				del = append(del, c.sa.InSPI)
			case c.softSent:
			case lt.SoftBytes != 0 && n >= lt.SoftBytes, out.NeedsRekey:
				c.softSent = true
				rekey = append(rekey, c.sa.InSPI)
			}
		}
	}
	if len(del) > 0 {
		s.pushLocked()
	}
	s.mu.Unlock()
	if len(rekey)+len(del) == 0 {
		return
	}
	_ = s.control(ctx, func(e childControl) {
		for _, spi := range rekey {
			if err := e.Rekey(spi); err != nil {
				s.log.Warn("child sa soft limit: rekey", "in", fmt.Sprintf("0x%08x", spi), "error", err)
			} else {
				s.log.Info("child sa reached a soft limit (bytes or sequence numbers), rekeying", "in", fmt.Sprintf("0x%08x", spi))
			}
		}
		for _, spi := range del {
			s.log.Warn("child sa reached a hard limit (bytes, sequence numbers or lifetime), deleting", "in", fmt.Sprintf("0x%08x", spi))
			_ = e.DeleteChild(spi)
		}
	})
}

// sameIKEPeers reports whether a reload leaves the IKE peers alone; the
// runner is built once, so changing them needs a restart.
func sameIKEPeers(a, b *config.Config) bool {
	return reflect.DeepEqual(a.IPsec.IKEPeers, b.IPsec.IKEPeers) &&
		(len(a.IPsec.IKEPeers) == 0 || a.IPsec.LocalAddress == b.IPsec.LocalAddress && a.IPsec.Encapsulation == b.IPsec.Encapsulation)
}
