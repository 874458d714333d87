package esp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestReserveStopsAtCeiling: a reserved SA continues after the persisted
// mark, asks for more from refillAt on, seals nothing above the ceiling
// (dropping and counting instead) and goes on once Extend raises it.
func TestReserveStopsAtCeiling(t *testing.T) {
	sa := mustSA(t, Config{SPI: 0x1000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 1)})
	var asked atomic.Int64
	if err := sa.Reserve(1000, 1010, 1005, func() { asked.Add(1) }); err != nil {
		t.Fatal(err)
	}
	for want := uint64(1001); want <= 1010; want++ {
		pkt := seal(t, sa, []byte("payload"), NextHeaderIPv4)
		if got := binary.BigEndian.Uint32(pkt[4:8]); uint64(got) != want {
			t.Fatalf("sequence %d, want %d", got, want)
		}
	}
	if n := asked.Load(); n != 6 { // 1005..1010
		t.Errorf("refill asked %d times, want 6", n)
	}
	buf := make([]byte, Headroom+64+MaxTrailer)
	if _, err := sa.Seal(buf, Headroom, 64, NextHeaderIPv4); !errors.Is(err, ErrSequenceExhausted) {
		t.Fatalf("Seal above the ceiling: %v", err)
	}
	if c, stalled, ok := sa.Reservation(); !ok || c != 1010 || stalled != 1 {
		t.Errorf("Reservation() = %d, %d, %v", c, stalled, ok)
	}
	if c := sa.Counters(); c.SeqExhausted != 1 || c.SealedPackets != 10 {
		t.Errorf("counters %+v", c)
	}
	if sa.LastSeq() != 1010 {
		t.Errorf("LastSeq %d after a refused Seal", sa.LastSeq())
	}
	sa.Extend(1005, 1000) // lower: ignored
	if c, _, _ := sa.Reservation(); c != 1010 {
		t.Errorf("Extend lowered the ceiling to %d", c)
	}
	sa.Extend(2000, 1500)
	if pkt := seal(t, sa, []byte("payload"), NextHeaderIPv4); binary.BigEndian.Uint32(pkt[4:8]) != 1011 {
		t.Errorf("after Extend: sequence %d", binary.BigEndian.Uint32(pkt[4:8]))
	}
}

// TestReserveConcurrent: sealers racing on one reserved SA never hand out a
// number twice and never pass the ceiling.
func TestReserveConcurrent(t *testing.T) {
	sa := mustSA(t, Config{SPI: 0x1000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 1)})
	const ceiling = 3000
	if err := sa.Reserve(0, ceiling, ceiling, func() {}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uint32]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, Headroom+32+MaxTrailer)
			for range 1000 {
				pkt, err := sa.Seal(buf, Headroom, 32, NextHeaderIPv4)
				if err != nil {
					continue
				}
				seq := binary.BigEndian.Uint32(pkt[4:8])
				mu.Lock()
				if seen[seq] || seq > ceiling {
					t.Errorf("sequence %d twice or above the ceiling", seq)
				}
				seen[seq] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != ceiling {
		t.Errorf("%d numbers used, want %d", len(seen), ceiling)
	}
}

// TestReserveSealAllocs: the reservation check adds no allocation to Seal.
func TestReserveSealAllocs(t *testing.T) {
	sa := mustSA(t, Config{SPI: 0x1000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 1)})
	kick := make(chan struct{}, 1)
	refill := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if err := sa.Reserve(0, 1<<20, 10, refill); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, Headroom+100+MaxTrailer)
	if n := testing.AllocsPerRun(200, func() { _, _ = sa.Seal(buf, Headroom, 100, NextHeaderIPv4) }); n != 0 {
		t.Errorf("Seal with a reservation: %v allocations", n)
	}
}

// BenchmarkSealReserved is BenchmarkESPSeal's 64-byte AES-128-GCM case
// with and without a reservation, to show what the ceiling check costs.
func BenchmarkSealReserved(b *testing.B) {
	for _, reserved := range []bool{false, true} {
		b.Run(fmt.Sprintf("reserved=%v", reserved), func(b *testing.B) {
			c, size := AES128GCM16, 64
			sa := mustSA(b, Config{SPI: 0x1000, Cipher: c, Key: testKey(c, 1)})
			if reserved {
				if err := sa.Reserve(0, 1<<32-1, 1<<32-1, func() {}); err != nil {
					b.Fatal(err)
				}
			}
			buf := make([]byte, benchOff+size+MaxTrailer)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sa.Seal(buf, benchOff, size, NextHeaderIPv4); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
