package ah

import (
	"encoding/binary"
	"sync"
	"testing"
)

// TestConcurrentSealOpen: goroutines seal on one SA and open on another
// at once (run with -race). Every sequence number is used exactly once,
// and every packet opens.
func TestConcurrentSealOpen(t *testing.T) {
	for _, i := range allIntegs {
		t.Run(i.String(), func(t *testing.T) {
			tx, rx := pair(t, i, true)
			const workers, each = 4, 200
			seen := make([]bool, workers*each+1)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					buf := make([]byte, Headroom+64+ESNTailroom)
					for range each {
						pkt, err := tx.SealTunnel(buf, Headroom, 64, NextHeaderMPLS, src6, dst6)
						if err != nil {
							t.Error(err)
							return
						}
						seq := binary.BigEndian.Uint32(pkt[IPv6HeaderLen+8:])
						mu.Lock()
						if seen[seq] {
							t.Errorf("sequence number %d used twice", seq)
						}
						seen[seq] = true
						mu.Unlock()
						if _, _, err := rx.Open(buf, Headroom-(len(pkt)-64), len(pkt)); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if c := rx.Counters(); c.OpenedPackets != workers*each {
				t.Errorf("opened %d of %d", c.OpenedPackets, workers*each)
			}
		})
	}
}
