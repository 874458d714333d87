package interop

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// TestStrongSwanRekeysWhilePeregrineInstallsSlowly: strongSwan rekeys the
// child every 2 s and Peregrine answers, with a dataplane that takes
// 300 ms to install each child SA. strongSwan seals with the new SA as
// soon as it has Peregrine's CREATE_CHILD_SA response, so the response
// must leave only once the new inbound SA is installed: pinging through
// the tunnel every 50 ms for 10 s, not one echo may be lost. (When the
// response left first, each rekey lost the echoes of those 300 ms.)
func TestStrongSwanRekeysWhilePeregrineInstallsSlowly(t *testing.T) {
	_, s, pe := setup(t)
	s.loadExtra(t, goodPSK, "aes256gcm16-prfsha256-x25519", "aes256gcm16-x25519",
		"    rekey_time = 0\n    over_time = 1h\n", "        rekey_time = 2s\n        rand_time = 0\n        life_time = 1h\n")
	echoerInstallDelay, echoerOutSwitchDelay = 300*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() { echoerInstallDelay, echoerOutSwitchDelay = 0, 0 })
	_, ech, events := peregrineWith(t, pe, goodPSK, true, 2*time.Second,
		ike.IKEProposal{Encr: []ike.Encr{ike.AES256GCM16}, PRF: []ike.PRF{ike.PRFHMACSHA256}, DH: []ike.DHGroup{ike.DHCurve25519}},
		ike.ESPProposal{Encr: []ike.Encr{ike.AES256GCM16}, DH: []ike.DHGroup{ike.DHCurve25519}},
		func(p *ike.PeerConfig) { p.ChildLifetime = ike.Lifetime{Soft: time.Hour, Hard: 2 * time.Hour} })
	wait(t, events, ike.ChildUp)
	pingThrough(t, s, ech)

	var rekeys atomic.Int64
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() { // the runner blocks on a full events channel: keep draining
		defer close(drained)
		for {
			select {
			case ev := <-events:
				if ev.Kind == ike.ChildUp && ev.Child.Replaces != 0 {
					rekeys.Add(1)
				}
			case <-stop:
				return
			}
		}
	}()
	const count = 200
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	out, err := s.node.Exec(ctx, "ping", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "1", "-I", "10.1.0.1", "10.2.0.1")
	close(stop)
	<-drained
	summary := string(out)
	if i := strings.Index(summary, "---"); i >= 0 {
		summary = summary[i:]
	}
	t.Logf("ping -c %d -i 0.05: %s; strongSwan rekeyed the child %d times", count, strings.ReplaceAll(summary, "\n", " | "), rekeys.Load())
	if rekeys.Load() < 3 {
		t.Errorf("strongSwan rekeyed the child %d times, want at least 3", rekeys.Load())
	}
	if err != nil || !strings.Contains(summary, fmt.Sprintf("%d packets transmitted, %d received", count, count)) {
		t.Errorf("echoes lost across strongSwan's rekeys: %v (echoer failed to open %d)", err, ech.failed.Load())
	}
}
