package seqspace

import (
	"fmt"
	"sync/atomic"
)

// Counter hands out an SA's outbound sequence numbers. Init it before
// use; the zero value hands out nothing. After Init and Reserve, Next,
// Extend, Reservation and Last are safe for concurrent use.
//
// The SA embeds it by value: limit and reserved are read-only on the
// packet path, and next, written by every Next, sits on its own cache
// line after them.
type Counter struct {
	limit uint64 // highest number Next may hand out
	// reserved, if set, bounds Next further (Reserve).
	reserved *reservation

	_    [64]byte
	last atomic.Uint64 // the last number Next handed out
}

// reservation bounds Next by sequence numbers a caller has made safe to
// use (Reserve). Next reads it with atomic loads only.
type reservation struct {
	ceiling  atomic.Uint64 // the highest number Next may use
	refillAt atomic.Uint64 // from this number on, each Next calls refill
	refill   func()
	stalled  atomic.Uint64 // Nexts refused at the ceiling
}

// Init sets the counter to continue after last (0: the first number is
// 1) and never to pass limit. It must be called before the counter is
// shared; the caller checks last <= limit.
func (c *Counter) Init(last, limit uint64) {
	c.limit = limit
	c.last.Store(last)
}

// Next hands out the next sequence number, or false once the space up to
// limit is used up, or the reservation (Reserve) is. It never returns a
// number twice, even to concurrent callers, and never wraps: a
// compare-and-swap loop (rather than an atomic add) keeps the counter
// from ever passing the limit, which with ESN is the top of the uint64
// range.
func (c *Counter) Next() (uint64, bool) {
	r := c.reserved
	for {
		cur := c.last.Load()
		if cur >= c.limit {
			return 0, false
		}
		if r != nil && cur >= r.ceiling.Load() {
			r.stalled.Add(1)
			r.refill()
			return 0, false
		}
		if c.last.CompareAndSwap(cur, cur+1) {
			if r != nil && cur+1 >= r.refillAt.Load() {
				r.refill()
			}
			return cur + 1, true
		}
	}
}

// Last returns the last number Next handed out (or Init's or Reserve's
// last before the first).
func (c *Counter) Last() uint64 { return c.last.Load() }

// Reserve makes the counter continue after last (taken as already used,
// so the next Next returns last+1) and hand out no number above ceiling
// until Extend raises it: past that, Next returns false (counted in
// Reservation's stalled count).
//
// It is for manually keyed SAs, whose sequence must survive a restart of
// the sender: the caller persists ceiling before handing it over, so a
// restarted sender continues above every number it may have used (RFC
// 4106 section 9: under a manual key a restart that counts from 1 again
// reuses nonces).
//
// From refillAt on, and at every Next refused at the ceiling, Next calls
// refill, on the packet path: refill must return at once, without
// blocking or allocating (a non-blocking channel send, say). The caller
// answers it by persisting a higher ceiling and calling Extend.
//
// Reserve must be called before the counter is shared. Its errors carry
// no package prefix: the SA's Reserve adds its own.
func (c *Counter) Reserve(last, ceiling, refillAt uint64, refill func()) error {
	switch {
	case refill == nil:
		return fmt.Errorf("no refill function")
	case last > c.limit:
		return fmt.Errorf("sequence %d exceeds the sequence space (%d)", last, c.limit)
	case ceiling < last:
		return fmt.Errorf("ceiling %d is below the last sequence number %d", ceiling, last)
	case last < c.last.Load():
		return fmt.Errorf("sequence %d is below the SA's %d", last, c.last.Load())
	}
	r := &reservation{refill: refill}
	r.ceiling.Store(ceiling)
	r.refillAt.Store(refillAt)
	c.last.Store(last)
	c.reserved = r
	return nil
}

// Reserved reports whether Reserve has bounded the counter.
func (c *Counter) Reserved() bool { return c.reserved != nil }

// Extend raises the reserved ceiling (never lowers it) and moves the point
// from which Next asks for more. It is safe alongside Next. Without a
// reservation it does nothing.
func (c *Counter) Extend(ceiling, refillAt uint64) {
	r := c.reserved
	if r == nil {
		return
	}
	for {
		cur := r.ceiling.Load()
		if ceiling <= cur {
			return
		}
		if r.ceiling.CompareAndSwap(cur, ceiling) {
			r.refillAt.Store(refillAt)
			return
		}
	}
}

// Reservation returns the reserved ceiling and how many Nexts it refused;
// ok is false without a reservation.
func (c *Counter) Reservation() (ceiling, stalled uint64, ok bool) {
	r := c.reserved
	if r == nil {
		return 0, 0, false
	}
	return r.ceiling.Load(), r.stalled.Load(), true
}
