package esp

import (
	"cmp"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentSealOpen seals from many goroutines on one SA, then opens
// every packet twice from many goroutines on one receiver. Every sequence
// number must be used exactly once, every packet accepted exactly once and
// its duplicate rejected as a replay. Run with -race.
func TestConcurrentSealOpen(t *testing.T) {
	for _, c := range []Cipher{AES128GCM16, AES256CBCSHA256} {
		t.Run(c.String(), func(t *testing.T) { testConcurrentSealOpen(t, c) })
	}
}

func testConcurrentSealOpen(t *testing.T, c Cipher) {
	// The receiver's window holds every packet, so however the openers
	// are scheduled none can fall below it.
	cfg := Config{SPI: 0x1000, Cipher: c, Key: testKey(c, 1), ESN: true, ReplayWindow: 4096}
	tx, rx := mustSA(t, cfg), mustSA(t, cfg)
	const workers, each = 8, 300
	pkts := make([][]byte, workers*each)
	var payloadBytes uint64
	for i := range each {
		payloadBytes += uint64(workers * (20 + i%150))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, Headroom+200+MaxTrailer) // one buffer per goroutine
			for i := range each {
				n := 20 + i%150
				copy(buf[Headroom:], payloadFor(NextHeaderIPv4, n))
				pkt, err := tx.Seal(buf, Headroom, n, NextHeaderIPv4)
				if err != nil {
					t.Error(err)
					return
				}
				pkts[w*each+i] = append([]byte(nil), pkt...)
			}
		}()
	}
	wg.Wait()
	seen := make(map[uint32]bool, len(pkts))
	ivs := make(map[[16]byte]bool, len(pkts)) // the AEAD nonce's IV, the CBC IV
	for _, p := range pkts {
		seq := binary.BigEndian.Uint32(p[4:8])
		if seen[seq] {
			t.Fatalf("sequence number %d used twice", seq)
		}
		seen[seq] = true
		var iv [16]byte
		copy(iv[:], p[HeaderLen:HeaderLen+c.IVLen()])
		if ivs[iv] {
			t.Fatalf("IV %x used twice", iv[:c.IVLen()])
		}
		ivs[iv] = true
	}
	if len(seen) != workers*each || tx.LastSeq() != workers*each {
		t.Fatalf("%d distinct numbers, last %d; want %d", len(seen), tx.LastSeq(), workers*each)
	}
	// The packet count is derived from the sequence counter (Counters).
	if c := tx.Counters(); c.SealedPackets != workers*each || c.SealedBytes != payloadBytes {
		t.Fatalf("sealed %d packets, %d bytes; want %d, %d", c.SealedPackets, c.SealedBytes, workers*each, payloadBytes)
	}

	// Open in sequence order (the sealers interleaved arbitrarily, which
	// could exceed the window), each packet handed to two goroutines.
	slices.SortFunc(pkts, func(a, b []byte) int {
		return cmp.Compare(binary.BigEndian.Uint32(a[4:8]), binary.BigEndian.Uint32(b[4:8]))
	})
	var accepted, rejected atomic.Int64
	next := atomic.Int64{}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, ScratchLen+256)
			for {
				i := int(next.Add(1) - 1)
				if i >= 2*len(pkts) {
					return
				}
				p := pkts[i/2]
				copy(buf[ScratchLen:], p)
				_, nh, err := rx.Open(buf, ScratchLen, len(p))
				switch {
				case err == nil && nh == NextHeaderIPv4:
					accepted.Add(1)
				case err == ErrReplayed:
					rejected.Add(1)
				default:
					t.Errorf("packet %d: %v", i/2, err)
				}
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != int64(len(pkts)) || rejected.Load() != int64(len(pkts)) {
		t.Fatalf("accepted %d, rejected %d; want %d each", accepted.Load(), rejected.Load(), len(pkts))
	}
	if c := rx.Counters(); c.OpenedPackets != uint64(len(pkts)) || c.OpenedBytes != payloadBytes || c.Replayed != uint64(len(pkts)) {
		t.Fatalf("counters %+v", c)
	}
}
