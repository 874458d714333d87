package main

import (
	"context"
	"fmt"
	"time"
)

// pollPolicy paces the completion polls. Every count walks the whole table
// on the measured speaker's own goroutine (GoBGP's GetTable walks its RIB;
// peregrined's /v1/vrfs even lists and sorts the VRF), so a fixed fast poll
// would slow what it measures, more the bigger the table. After a poll that
// took d, the next waits max(interval, factor*d): the speaker spends at most
// 1/(factor+1) of its time answering polls, and in practice far less, as d
// is mostly the wait for the speaker's busy goroutine, not the walk.
type pollPolicy struct {
	interval time.Duration
	factor   float64
	stall    time.Duration // fail if the count stops moving this long
}

func (pp pollPolicy) next(lat time.Duration) time.Duration {
	return max(pp.interval, time.Duration(pp.factor*float64(lat)))
}

// waited is one speaker's convergence; all times are from the start.
type waited struct {
	// elapsed is when the count reached the target, estimated (see
	// estimate) between below, the last answer short of it, and seen, the
	// first answer that showed it.
	elapsed, below, seen time.Duration
	// rib is, for P, when its GoBGP RIB reached the target (estimated):
	// the VRF cannot be complete earlier.
	rib     time.Duration
	polls   int
	pollMax time.Duration // slowest poll's round trip
	use     usage         // when the target was seen; zero if pid is 0
}

// sample is one answer: the count, and when it arrived after the start.
type sample struct {
	at time.Duration
	n  int
}

// estimate returns when the count reached target, given the two last
// answers short of it (a before b) and the time seen of the first answer
// that showed it. The count is extrapolated from a and b at their rate,
// which is steady during a bulk transfer, and the result is kept within
// [b.at, seen]. Without a usable rate it is seen, an upper bound. A
// negative count is unknown.
func estimate(a, b sample, target int, seen time.Duration) time.Duration {
	if a.n < 0 || b.n < 0 {
		return seen
	}
	dn, dt := b.n-a.n, b.at-a.at
	rest := target - b.n
	if dn == 0 || dt <= 0 || (dn > 0) != (rest > 0) {
		return seen
	}
	t := b.at + time.Duration(float64(dt)*float64(rest)/float64(dn))
	return min(max(t, b.at), seen)
}

// pollUntil polls c until it reports target. init is what is known before
// the first poll: the count at the start, or, after an earlier stage, only
// the time (count -1) before which c cannot have reached target. p, if not
// nil, is watched for an early death.
func pollUntil(ctx context.Context, c counter, init sample, target int, start time.Time, pp pollPolicy, p *proc) (waited, error) {
	var w waited
	a, b := init, init // the last two answers short of target
	lastChange := time.Now()
	for {
		if p != nil {
			if err := exited(p); err != nil {
				return w, err
			}
		}
		t0 := time.Now()
		n, err := c.count(ctx)
		now := time.Now()
		if err != nil {
			return w, err
		}
		lat := now.Sub(t0)
		w.polls++
		w.pollMax = max(w.pollMax, lat)
		if n == target {
			w.seen, w.below = now.Sub(start), b.at
			w.elapsed = estimate(a, b, target, w.seen)
			return w, nil
		}
		if n != b.n {
			lastChange = now
		} else if now.Sub(lastChange) > pp.stall {
			return w, fmt.Errorf("stuck at %d routes (want %d) for %v", n, target, pp.stall)
		}
		a, b = b, sample{at: now.Sub(start), n: n}
		select {
		case <-ctx.Done():
			return w, fmt.Errorf("at %d of %d routes: %w", n, target, ctx.Err())
		case <-time.After(pp.next(lat)):
		}
	}
}

// waitCount waits until a speaker holds target routes, having held from
// at the start. With two counters (P: its GoBGP RIB, then its VRF), the
// first, cheap one is polled until it shows target, and only then the
// second: the VRF cannot be complete before the RIB is, and polling the
// RIB costs P what polling B costs B. pid, if not 0, is the process whose
// usage to read the moment the target is seen; p, if not nil, is watched.
func waitCount(ctx context.Context, stages []counter, from, target int, start time.Time, pp pollPolicy, p *proc, pid int) (waited, error) {
	var w waited
	init := sample{n: from}
	for i, c := range stages {
		s, err := pollUntil(ctx, c, init, target, start, pp, p)
		w.polls += s.polls
		w.pollMax = max(w.pollMax, s.pollMax)
		if err != nil {
			return w, err
		}
		if i < len(stages)-1 {
			w.rib = s.elapsed
			init = sample{at: s.elapsed, n: -1}
			continue
		}
		w.elapsed, w.below, w.seen = s.elapsed, s.below, s.seen
	}
	if pid != 0 {
		var err error
		if w.use, err = readUsage(pid); err != nil {
			return w, err
		}
	}
	return w, nil
}

// receiver is one speaker the import is timed on: how to count what it
// holds (P: its GoBGP RIB, then its VRF; see waitCount), the process to
// watch and the pid whose usage to read.
type receiver struct {
	name   string
	stages []counter
	proc   *proc
	pid    int
}

// receivers are P, B and the field's daemons, in that order.
func (t *topology) receivers() []receiver {
	rs := []receiver{
		{name: "peregrine", stages: []counter{t.peRIB, t.pe}, proc: t.p, pid: t.pePID},
		{name: "gobgpd B", stages: []counter{gobgpCounter{t.b.api}}, proc: t.b.proc, pid: t.b.proc.Pid()},
	}
	for _, f := range t.field {
		rs = append(rs, receiver{name: f.name, stages: []counter{f.counter}, proc: f.proc, pid: f.proc.Pid()})
	}
	return rs
}

// race waits for every receiver at once, from the same start, and returns
// their waits in the same order. If one fails the others are abandoned.
func race(ctx context.Context, rs []receiver, from, target int, start time.Time, pp pollPolicy) ([]waited, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type res struct {
		i   int
		w   waited
		err error
	}
	done := make(chan res, len(rs))
	for i, r := range rs {
		go func() {
			w, err := waitCount(ctx, r.stages, from, target, start, pp, r.proc, r.pid)
			done <- res{i, w, err}
		}()
	}
	ws := make([]waited, len(rs))
	var first error
	for range rs {
		r := <-done
		ws[r.i] = r.w
		if r.err != nil && first == nil {
			first = fmt.Errorf("%s: %w", rs[r.i].name, r.err)
			cancel()
		}
	}
	return ws, first
}
