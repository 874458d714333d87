package bgp

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
)

// TestStopWhileReceivingUpdates stops the speaker while a peer streams
// UPDATEs. GoBGP's StopBgp clears its global config while the sessions it
// is closing may still be reading UPDATEs that consult it; under -race the
// speaker must close its sessions first (a clean-clone CI run caught the
// race in TestTwoSpeakersExchangeVPNRoutes). The peer must still be told
// why with a Cease.
func TestStopWhileReceivingUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	for round := range 5 {
		s, port := startWithPassivePeer(t, slog.New(slog.NewTextHandler(io.Discard, nil)))
		c := rawSession(t, s, "127.0.0.3", fmt.Sprintf("127.0.0.1:%d", port))
		waitEstablished(t, s, "127.0.0.3")
		endOfRIB := bgpMessage(2, []byte{0, 0, 0, 0}) // an empty UPDATE
		flood := make(chan struct{})
		go func() {
			defer close(flood)
			for {
				if _, err := c.Write(endOfRIB); err != nil {
					return
				}
			}
		}()
		notification := make(chan []byte, 1)
		go func() {
			for {
				typ, body, err := readMessage(c)
				if err != nil || typ == 3 {
					notification <- body
					return
				}
			}
		}()
		s.Stop()
		if body := <-notification; len(body) < 1 || body[0] != 6 {
			t.Errorf("round %d: NOTIFICATION % x, want error code 6 (Cease)", round, body)
		}
		c.Close()
		<-flood
	}
}
