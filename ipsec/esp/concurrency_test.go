package esp

import (
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentSealOpen seals from many goroutines on one SA, then opens
// every packet twice from many goroutines on one receiver. Every sequence
// number must be used exactly once, every packet accepted exactly once and
// its duplicate rejected as a replay. Run with -race.
// The ESN cases start 1200 numbers below 2^32, so that the receiver's
// window moves across 2^32 while the openers race.
func TestConcurrentSealOpen(t *testing.T) {
	for _, c := range []Cipher{AES128GCM16, AES256CBCSHA256, ChaCha20Poly1305} {
		t.Run(c.String(), func(t *testing.T) { testConcurrentSealOpen(t, c, 0) })
		t.Run(c.String()+"/across-2^32", func(t *testing.T) { testConcurrentSealOpen(t, c, 1<<32-1200) })
	}
}

func testConcurrentSealOpen(t *testing.T, c Cipher, initial uint64) {
	// The receiver's window holds every packet, so however the openers
	// are scheduled none can fall below it.
	cfg := Config{SPI: 0x1000, Cipher: c, Key: testKey(c, 1), ESN: true, ReplayWindow: 4096, InitialSeq: initial}
	tx, rx := mustSA(t, cfg), mustSA(t, cfg)
	primed := uint64(0)
	if initial != 0 {
		// Test only: the receiver has seen the sender's last number
		// (recorded, so counted as one packet of 0 bytes).
		if err := rx.window.Update(initial); err != nil {
			t.Fatal(err)
		}
		primed = 1
	}
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
	if len(seen) != workers*each || tx.LastSeq() != initial+workers*each {
		t.Fatalf("%d distinct numbers, last %d; want %d", len(seen), tx.LastSeq(), initial+workers*each)
	}
	// The packet count is derived from the sequence counter (Counters).
	if c := tx.Counters(); c.SealedPackets != workers*each || c.SealedBytes != payloadBytes {
		t.Fatalf("sealed %d packets, %d bytes; want %d, %d", c.SealedPackets, c.SealedBytes, workers*each, payloadBytes)
	}

	// Open in sequence order (the sealers interleaved arbitrarily, which
	// could exceed the window), each packet handed to two goroutines.
	// (The low 32 bits, counted from the first number: across 2^32
	// they wrap.)
	slices.SortFunc(pkts, func(a, b []byte) int {
		return cmp.Compare(binary.BigEndian.Uint32(a[4:8])-uint32(initial), binary.BigEndian.Uint32(b[4:8])-uint32(initial))
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
	if c := rx.Counters(); c.OpenedPackets != uint64(len(pkts))+primed || c.OpenedBytes != payloadBytes || c.Replayed != uint64(len(pkts)) {
		t.Fatalf("counters %+v", c)
	}
	if top, want := rx.window.Top(), initial+workers*each; top != want {
		t.Fatalf("receiver's top %#x, want %#x", top, want)
	}
}

// TestConcurrentOpenExactlyOnce hands every packet to every one of several
// goroutines, in chunks they start together (a barrier) and each in its own
// shuffled order, so that openers of neighbouring numbers and of the same
// number collide in the replay window while its top moves across 2^32:
// every packet must be accepted exactly once, and the counters must agree.
func TestConcurrentOpenExactlyOnce(t *testing.T) {
	const n, workers, chunk = 6000, 4, 128
	const initial = 1<<32 - n/2
	cfg := Config{SPI: 0x1000, Cipher: AES128GCM16, Key: testKey(AES128GCM16, 1), ESN: true, InitialSeq: initial}
	tx, rx := mustSA(t, cfg), mustSA(t, cfg)
	if err := rx.window.Update(initial); err != nil { // test only: primed, counted as 1 packet
		t.Fatal(err)
	}
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = seal(t, tx, payloadFor(NextHeaderIPv4, 40+i%100), NextHeaderIPv4)
	}
	accepted := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	arrived, round := 0, 0
	wait := func() { // a barrier for the workers, round after round
		mu.Lock()
		r := round
		if arrived++; arrived == workers {
			arrived, round = 0, round+1
			cond.Broadcast()
		}
		for r == round {
			cond.Wait()
		}
		mu.Unlock()
	}
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			buf := make([]byte, ScratchLen+256)
			order := make([]int, chunk)
			for first := 0; first < n; first += chunk {
				for i := range order {
					order[i] = first + i
				}
				r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
				wait()
				for _, i := range order {
					if i >= n {
						continue
					}
					copy(buf[ScratchLen:], pkts[i])
					switch _, _, err := rx.Open(buf, ScratchLen, len(pkts[i])); err {
					case nil:
						accepted[i].Add(1)
					case ErrReplayed:
					default:
						t.Errorf("packet %d: %v", i, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	var bytes uint64
	for i := range accepted {
		if k := accepted[i].Load(); k != 1 {
			t.Fatalf("packet %d (seq %#x) accepted %d times", i, uint64(initial)+uint64(i)+1, k)
		}
		bytes += uint64(40 + i%100)
	}
	if c := rx.Counters(); c.OpenedPackets != n+1 || c.OpenedBytes != bytes || c.Replayed != n*(workers-1) {
		t.Fatalf("counters %+v; want %d packets, %d bytes, %d replayed", c, n+1, bytes, n*(workers-1))
	}
}
