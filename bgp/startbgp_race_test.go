package bgp

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// TestStartBgpBesideAPropagatingServer starts a GoBGP server after
// another has selected a best path for a route a peer sent it, as a
// reload that adds a VRF's CE server does while the core carries routes.
// GoBGP v3.37.0 then races on its package-level best-path options
// (testdata/race.supp): under the race detector this test fails unless
// the suppression is in effect, which every other test here relies on.
func TestStartBgpBesideAPropagatingServer(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a BGP session over loopback")
	}
	port := freePort(t, "127.0.0.3")
	receiver := newTestCE(t, testCEConfig{addr: "127.0.0.3", port: port, pe: "127.0.0.8", asn: 65000})
	sender := newDialingCE(t, "127.0.0.8", "127.0.0.3", port, 65000)
	ceAnnounce(t, sender, "10.1.0.0/24", false)
	// Wait on the sender only: a call into the receiver would order its
	// best-path run before what follows, and hide the race.
	deadline := time.Now().Add(20 * time.Second)
	for sessionUptime(t, sender, "127.0.0.3").IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the session never came up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // the receiver selects the route's best path

	late := server.NewBgpServer(server.LoggerOption(newSlogAdapter(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	go late.Serve()
	t.Cleanup(func() { _ = stopGoBGP(late) })
	if err := late.StartBgp(context.Background(), &api.StartBgpRequest{Global: &api.Global{Asn: 65001, RouterId: "192.0.2.9", ListenPort: -1}}); err != nil {
		t.Fatal(err)
	}
	if rib := ceRIB(t, receiver); len(rib) != 1 {
		t.Fatalf("the receiver holds %v, want the sender's 10.1.0.0/24", rib)
	}
}
