package bgp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/peregrine-net/peregrine/config"
)

// TestStopWhileReceivingUpdates stops the speaker while a peer streams
// UPDATEs. GoBGP's StopBgp clears its global config while the sessions it
// is closing may still be reading UPDATEs that consult it; under -race the
// speaker must close its sessions first (a clean-clone CI run caught the
// race in TestTwoSpeakersExchangeVPNRoutes).
func TestStopWhileReceivingUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("opens BGP sessions over loopback")
	}
	for round := range 5 {
		port := freePort(t, "127.0.0.1")
		cfg, err := config.Parse(fmt.Appendf(nil, `
router: {id: 1.1.1.1, asn: 65000}
bgp:
  listen-address: 127.0.0.1
  listen-port: %d
  api: ""
  neighbors: [{address: 127.0.0.3, asn: 65000, passive: true}]
`, port))
		if err != nil {
			t.Fatal(err)
		}
		events := make(chan Event, 16)
		s, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), events)
		if err != nil {
			t.Fatal(err)
		}
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
		go func() { _, _ = io.Copy(io.Discard, c) }()
		s.Stop()
		c.Close()
		<-flood
		t.Logf("round %d stopped", round)
	}
}
