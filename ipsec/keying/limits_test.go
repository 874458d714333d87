package keying

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// recorder stands in for the engine: it records what the Service asks,
// and says on asked when a batch is done.
type recorder struct {
	mu               sync.Mutex
	rekeyed, deleted []uint32
	asked            chan struct{}
}

func (r *recorder) Rekey(spi uint32) error       { r.rekeyed = append(r.rekeyed, spi); return nil }
func (r *recorder) DeleteChild(spi uint32) error { r.deleted = append(r.deleted, spi); return nil }

func (r *recorder) control(_ context.Context, f func(ChildControl)) error {
	r.mu.Lock()
	f(r)
	r.mu.Unlock()
	r.asked <- struct{}{}
	return nil
}

func (r *recorder) take() (rekeyed, deleted []uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rekeyed, deleted = r.rekeyed, r.deleted
	r.rekeyed, r.deleted = nil, nil
	slices.Sort(rekeyed)
	slices.Sort(deleted)
	return rekeyed, deleted
}

// checkNow runs checkLimits on Run's goroutine, as the ticker does.
func (s *Service) checkNow(sas []fib.SACounters, now time.Time) {
	s.do(func(st *state) { s.checkLimits(st, sas, now) })
}

// TestChildLimitsFromCounters: the Service rekeys a child whose outbound
// SA passed esp's sequence soft limit (NeedsRekey) as it does at
// soft-bytes, once; and at a hard limit (hard-bytes, sequence numbers
// exhausted, the hard lifetime) it takes the outbound SA out of the FIB
// at once, before it asks the engine to delete the child.
func TestChildLimitsFromCounters(t *testing.T) {
	now := time.Now()
	pe := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
	peers := map[string]netip.Addr{}
	rec := &recorder{asked: make(chan struct{}, 4)}
	fibRec := &fibRecorder{}
	// One child per PE; every child sends with outbound SPI 0x500 (each PE
	// picks its own inbound SPIs, so they may repeat across PEs).
	const (
		fine = iota + 1
		needsRekey
		softBytes
		exhausted
		hardBytes
		expired
	)
	for i := fine; i <= expired; i++ {
		peers["pe"+string(rune('0'+i))] = pe(i)
	}
	s := start(t, Options{FIB: fibRec, ReplayWindow: 64, Remotes: peers, Control: rec.control, LimitInterval: time.Hour})
	lt := ike.Lifetime{Soft: 50 * time.Minute, Hard: time.Hour, SoftBytes: 900, HardBytes: 1000}
	old := now.Add(-time.Minute)
	for i := fine; i <= expired; i++ {
		created := old
		if i == expired {
			created = now.Add(-time.Hour)
		}
		c := testChild("pe"+string(rune('0'+i)), pe(i), uint32(0x100+i), 0x500, created)
		c.Lifetime = lt
		s.ChildUp(c)
	}
	out := func(i int, c esp.Counters, needs bool) fib.SACounters {
		return fib.SACounters{Remote: pe(i), Outbound: true, SPI: 0x500, Counters: c, NeedsRekey: needs}
	}
	counters := []fib.SACounters{
		out(fine, esp.Counters{SealedBytes: 10}, false),
		out(needsRekey, esp.Counters{SealedBytes: 10}, true),
		{Remote: pe(softBytes), SPI: 0x100 + softBytes, Counters: esp.Counters{OpenedBytes: 950}},
		out(exhausted, esp.Counters{SeqExhausted: 1}, true),
		out(hardBytes, esp.Counters{SealedBytes: 1000}, false),
	}
	s.checkNow(counters, now)
	// The deleted children seal nothing from the moment the limits are
	// checked, before the engine is asked; the others still do.
	fc, _ := fibRec.config()
	for _, tn := range fc.Tunnels {
		i := int(tn.Remote.As4()[3])
		dead := i == exhausted || i == hardBytes || i == expired
		if dead != (tn.Out == nil) {
			t.Errorf("PE %d: outbound SA %v (at a hard limit: %v)", i, tn.Out, dead)
		}
		if dead && (tn.In != nil || len(tn.RetiringIn) != 1) {
			t.Errorf("PE %d: inbound %v retiring %v", i, tn.In, tn.RetiringIn)
		}
	}
	select {
	case <-rec.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the engine was never asked")
	}
	rekeyed, deleted := rec.take()
	if want := []uint32{0x100 + needsRekey, 0x100 + softBytes}; !slices.Equal(rekeyed, want) {
		t.Errorf("rekeyed %x, want %x", rekeyed, want)
	}
	if want := []uint32{0x100 + exhausted, 0x100 + hardBytes, 0x100 + expired}; !slices.Equal(deleted, want) {
		t.Errorf("deleted %x, want %x", deleted, want)
	}
	// Soft limits ask once; a retired child is not asked about again.
	s.checkNow(counters, now.Add(time.Second))
	select {
	case <-rec.asked:
		rekeyed, deleted := rec.take()
		t.Errorf("asked again: rekey %x delete %x", rekeyed, deleted)
	case <-time.After(100 * time.Millisecond):
	}
}

// engineLoop is an engine that, like ike.Runner, reports a delete's
// ChildDown on its own goroutine before Do returns.
type engineLoop struct {
	s    *Service
	cmds chan func()
}

func (e *engineLoop) Rekey(uint32) error { return nil }
func (e *engineLoop) DeleteChild(spi uint32) error {
	e.s.ChildDown(ike.ChildSA{Peer: "pe2", InSPI: spi})
	return nil
}

// TestLimitDeleteDoesNotDeadlock: a delete at a hard limit makes the
// engine call ChildDown while the Service waits on the engine; the
// Service must not be the one waiting.
func TestLimitDeleteDoesNotDeadlock(t *testing.T) {
	pe2 := netip.MustParseAddr("192.0.2.2")
	e := &engineLoop{cmds: make(chan func())}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the engine's goroutine
		for {
			select {
			case f := <-e.cmds:
				f()
			case <-ctx.Done():
				return
			}
		}
	}()
	control := func(ctx context.Context, f func(ChildControl)) error {
		done := make(chan struct{})
		e.cmds <- func() { f(e); close(done) }
		<-done
		return nil
	}
	rec := &fibRecorder{}
	e.s = start(t, Options{FIB: rec, Remotes: map[string]netip.Addr{"pe2": pe2}, Control: control,
		Counters: counterer{}, LimitInterval: 10 * time.Millisecond})
	c := testChild("pe2", pe2, 0xa1, 0xb1, time.Now())
	c.Lifetime = ike.Lifetime{HardBytes: 1}
	e.s.ChildUp(c)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if fc := e.s.config(); len(fc.Tunnels) == 0 {
			return // deleted: the ChildDown got through
		}
		if time.Now().After(deadline) {
			t.Fatal("the child at its hard limit was never deleted (deadlock?)")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counterer reports 2 bytes sealed by every outbound SA 0xb1 to 192.0.2.2.
type counterer struct{}

func (counterer) Stats() fib.Stats {
	return fib.Stats{SAs: []fib.SACounters{{Remote: netip.MustParseAddr("192.0.2.2"), Outbound: true, SPI: 0xb1, Counters: esp.Counters{SealedBytes: 2}}}}
}
