package main

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/fib/userspace"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// recorder stands in for the engine: it records what the lifecycle asks.
type recorder struct{ rekeyed, deleted []uint32 }

func (r *recorder) Rekey(spi uint32) error       { r.rekeyed = append(r.rekeyed, spi); return nil }
func (r *recorder) DeleteChild(spi uint32) error { r.deleted = append(r.deleted, spi); return nil }

// TestChildLimitsFromCounters: the lifecycle rekeys a child whose
// outbound SA passed esp's sequence soft limit (NeedsRekey) as it does at
// soft-bytes, once; and at a hard limit (hard-bytes, sequence numbers
// exhausted, the hard lifetime) it takes the outbound SA out of the FIB
// state at once, before it asks the engine to delete the child.
func TestChildLimitsFromCounters(t *testing.T) {
	now := time.Now()
	pe := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
	peers := map[string]netip.Addr{}
	s := &ikeService{log: slog.New(slog.DiscardHandler), window: 64, remotes: peers, childs: map[netip.Addr]map[uint32]*child{}}
	rec := &recorder{}
	s.control = func(_ context.Context, f func(childControl)) error { f(rec); return nil }
	// One child per PE; every child sends with outbound SPI 0x500 (each PE
	// picks its own inbound SPIs, so they may repeat across PEs).
	lt := ike.Lifetime{Soft: 50 * time.Minute, Hard: time.Hour, SoftBytes: 900, HardBytes: 1000}
	add := func(i int, created time.Time) uint32 {
		name := "pe" + string(rune('0'+i))
		peers[name] = pe(i)
		c := ike.ChildSA{Peer: name, InSPI: uint32(0x100 + i), OutSPI: 0x500, Cipher: esp.AES128GCM16,
			InKey: ike.NewKeyMaterial(make([]byte, 20)), OutKey: ike.NewKeyMaterial(make([]byte, 20)),
			Remote: netip.AddrPortFrom(pe(i), 4500), Lifetime: lt, Created: created}
		s.childUp(c)
		return c.InSPI
	}
	const (
		fine = iota + 1
		needsRekey
		softBytes
		exhausted
		hardBytes
		expired
	)
	old := now.Add(-time.Minute)
	for i := fine; i <= expired; i++ {
		created := old
		if i == expired {
			created = now.Add(-time.Hour)
		}
		add(i, created)
	}
	out := func(i int, c esp.Counters, needs bool) userspace.SACounters {
		return userspace.SACounters{Remote: pe(i), Outbound: true, SPI: 0x500, Counters: c, NeedsRekey: needs}
	}
	counters := []userspace.SACounters{
		out(fine, esp.Counters{SealedBytes: 10}, false),
		out(needsRekey, esp.Counters{SealedBytes: 10}, true),
		{Remote: pe(softBytes), SPI: 0x100 + softBytes, Counters: esp.Counters{OpenedBytes: 950}},
		out(exhausted, esp.Counters{SeqExhausted: 1}, true),
		out(hardBytes, esp.Counters{SealedBytes: 1000}, false),
	}
	s.checkLimits(context.Background(), counters, now)
	slices.Sort(rec.rekeyed)
	slices.Sort(rec.deleted)
	if want := []uint32{0x100 + needsRekey, 0x100 + softBytes}; !slices.Equal(rec.rekeyed, want) {
		t.Errorf("rekeyed %x, want %x", rec.rekeyed, want)
	}
	if want := []uint32{0x100 + exhausted, 0x100 + hardBytes, 0x100 + expired}; !slices.Equal(rec.deleted, want) {
		t.Errorf("deleted %x, want %x", rec.deleted, want)
	}
	// The deleted children seal nothing from now on, before the engine's
	// ChildDown arrives; the others still do.
	s.mu.Lock()
	fc := s.fibConfigLocked()
	s.mu.Unlock()
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
	// Soft limits ask once; a retired child is not asked about again.
	rec.rekeyed, rec.deleted = nil, nil
	s.checkLimits(context.Background(), counters, now.Add(time.Second))
	if len(rec.rekeyed)+len(rec.deleted) != 0 {
		t.Errorf("asked again: rekey %x delete %x", rec.rekeyed, rec.deleted)
	}
}
