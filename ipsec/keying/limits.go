package keying

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/peregrine-net/peregrine/fib"
)

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
func (s *Service) checkLimits(st *state, sas []fib.SACounters, now time.Time) {
	counters := make(map[saKey]fib.SACounters, len(sas))
	for _, c := range sas {
		k := saKey{spi: c.SPI, outbound: c.Outbound}
		if c.Outbound {
			k.remote = c.Remote
		}
		counters[k] = c
	}
	var rekey, del []uint32
	for k, cs := range st.childs {
		for _, c := range cs {
			if c.retired {
				continue
			}
			remote := k.remote
			if k.att != "" {
				remote = c.sa.Remote.Addr().Unmap() // the gateway's, as the dataplane counts it
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
		s.push(st)
	}
	if len(rekey)+len(del) > 0 && s.opts.Control != nil {
		// Not on Run's goroutine: the engine's callbacks (a delete's
		// ChildDown) wait for Run while Control waits for the engine.
		go s.ask(st.ctx, rekey, del)
	}
}

// ask has the engine rekey and delete children at their limits.
func (s *Service) ask(ctx context.Context, rekey, del []uint32) {
	_ = s.opts.Control(ctx, func(e ChildControl) {
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
