package kernel

import (
	"fmt"
	"sync"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/ipsec/seqstore"
)

// A manually keyed outbound SA has the same key after every restart, and
// an SA that counted from 1 again would seal with nonces it used before
// (package ipsec/seqstore). In the kernel path the kernel's state owns
// the counter, so the store's reservation is enforced by the kernel
// itself:
//
//	ip xfrm state add ... replay-oseq START limit packet-hard MARK-START
//
// START is the store's mark for the key (or the number the kernel's state
// had reached, if it survived a crash of the daemon: the larger), MARK
// what the store wrote to disk before the state was made. The kernel
// deletes the state when it has sealed MARK-START packets, so it never
// seals above what is on disk, whatever becomes of the daemon; traffic
// then stops (the policy finds no state), never goes out in clear.
// While the daemon runs, watchSequences asks for the next block half way
// through this one, and once the store has written it raises the hard
// limit (`ip xfrm state update`, which changes the lifetime and leaves
// the counter as it is).

// kernelSeq is a kernel outbound state as the sequence store sees it
// (seqstore.Sequenced).
type kernelSeq struct {
	esn bool
	// last is the output sequence number of a state of the same SPI the
	// kernel still had (a restart after a crash): the store continues
	// above it.
	last uint64
	mu   struct {
		sync.Mutex
		start, ceiling, refillAt uint64
		refill                   func()
		asked                    bool // refill called for this block
	}
	// limited is the ceiling the kernel state's hard limit stands at;
	// only watchSequences reads and writes it after the install.
	limited uint64
}

var _ seqstore.Sequenced = (*kernelSeq)(nil)

func (s *kernelSeq) ESN() bool        { return s.esn }
func (s *kernelSeq) LastSeq() uint64  { return s.last }
func (s *kernelSeq) NeedsRekey() bool { return false }

// Reserve takes the store's first block: the state is made with
// sequence numbers last+1 up to ceiling.
func (s *kernelSeq) Reserve(last, ceiling, refillAt uint64, refill func()) error {
	if ceiling <= last || ceiling > 1<<32-1 {
		return fmt.Errorf("kernel ESP path: reservation %d..%d outside a 32-bit sequence space", last+1, ceiling)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.start, s.mu.ceiling, s.mu.refillAt, s.mu.refill = last, ceiling, refillAt, refill
	return nil
}

// Extend is the store's answer to refill: the new mark is on disk.
func (s *kernelSeq) Extend(ceiling, refillAt uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.ceiling, s.mu.refillAt, s.mu.asked = min(ceiling, 1<<32-1), refillAt, false
}

func (s *kernelSeq) window() (start, ceiling, refillAt uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.start, s.mu.ceiling, s.mu.refillAt
}

// sync reads the kernel state's counter, asks for more numbers past
// refillAt and raises the state's hard limit to a new ceiling.
func (s *kernelSeq) sync(h *netlink.Handle, p *kernelPeer) error {
	start, ceiling, refillAt := s.window()
	st, err := p.outState(0, 0)
	if err != nil {
		return err
	}
	have, err := h.XfrmStateGet(st)
	if err != nil {
		return fmt.Errorf("spi 0x%08x: the kernel has no such state (sealed up to its hard limit, %d, or deleted): traffic to this PE is dropped until the next apply: %w", p.out.SPI, ceiling, err)
	}
	if have.Replay != nil && uint64(have.Replay.OSeq) >= refillAt {
		s.mu.Lock()
		if !s.mu.asked {
			s.mu.asked = true
			s.mu.refill()
		}
		s.mu.Unlock()
	}
	if ceiling == s.limited {
		return nil
	}
	have.Limits.PacketHard = ceiling - start
	if err := h.XfrmStateUpdate(have); err != nil {
		return fmt.Errorf("spi 0x%08x: raising the hard packet limit to %d: %w", p.out.SPI, ceiling-start, err)
	}
	s.limited = ceiling
	return nil
}

// persistedOut is the outbound state of p, a manually keyed SA, with its
// reservation: it continues above the store's mark for the key and above
// what a state of the same SPI the kernel still has sealed. A state the
// previous install made under the same key is kept as it is.
func (k *kernelESP) persistedOut(p *kernelPeer, prev *installedPeer) (*netlink.XfrmState, *kernelSeq, *seqstore.Reservation, error) {
	if prev != nil && prev.seq != nil && sameSA(prev.plan.out, p.out) {
		st, err := p.outState(0, 0)
		if err == nil {
			if have, gerr := k.h.XfrmStateGet(st); gerr == nil {
				return have, prev.seq, prev.res, nil
			}
		}
	}
	seq := &kernelSeq{esn: p.out.ESN}
	probe, err := p.outState(0, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	have, err := k.h.XfrmStateGet(probe)
	if err == nil {
		if have.Replay != nil {
			seq.last = uint64(have.Replay.OSeq)
		}
		k.log.Info("kernel ESP path: the kernel still has the outbound state: replacing it above the store's mark",
			"remote", p.remote, "spi", fmt.Sprintf("0x%08x", p.out.SPI), "kernel-oseq", seq.last)
		// A new state continues above the store's mark: the old one
		// goes, and the policy drops what it would have sealed until
		// the new one is in.
		if err := k.h.XfrmStateDel(have); err != nil {
			return nil, nil, nil, fmt.Errorf("ip xfrm state delete spi 0x%08x: %w", p.out.SPI, err)
		}
	}
	if prev != nil {
		prev.res.Release() // the same key may come back under a new SPI
	}
	res, err := k.seqs.Attach(seq, seqstore.Tunnel{Remote: p.remote, SPI: p.out.SPI, Key: p.out.Key, Reset: p.out.ResetSequence})
	if err != nil {
		return nil, nil, nil, err
	}
	start, ceiling, _ := seq.window()
	seq.limited = ceiling
	st, err := p.outState(start, ceiling-start)
	if err != nil {
		res.Release()
		return nil, nil, nil, err
	}
	return st, seq, res, nil
}
