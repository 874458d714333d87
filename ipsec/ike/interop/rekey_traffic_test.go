package interop

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// TestRekeyUnderTrafficWithStrongSwan gives Peregrine's child SA a 2 s and
// its IKE SA an 8 s soft lifetime and pings through the tunnel every 50 ms
// for 25 s: at least 10 child rekeys and 2 IKE rekeys must happen, and not
// one echo may be lost. strongSwan's own rekeying is off so that every
// rekey is Peregrine's; strongSwan's log counts them independently.
func TestRekeyUnderTrafficWithStrongSwan(t *testing.T) {
	_, s, pe := setup(t)
	s.loadExtra(t, goodPSK, "aes256gcm16-prfsha256-x25519", "aes256gcm16-x25519",
		"    rekey_time = 0\n    over_time = 1h\n", "        rekey_time = 0\n        life_time = 1h\n")
	_, ech, events := peregrineWith(t, pe, goodPSK, true, 2*time.Second,
		ike.IKEProposal{Encr: []ike.Encr{ike.AES256GCM16}, PRF: []ike.PRF{ike.PRFHMACSHA256}, DH: []ike.DHGroup{ike.DHCurve25519}},
		ike.ESPProposal{Encr: []ike.Encr{ike.AES256GCM16}, DH: []ike.DHGroup{ike.DHCurve25519}},
		func(p *ike.PeerConfig) {
			p.ChildLifetime = ike.Lifetime{Soft: 2 * time.Second, Hard: 30 * time.Second}
			p.IKELifetime = ike.Lifetime{Soft: 8 * time.Second, Hard: 60 * time.Second}
		})
	wait(t, events, ike.ChildUp)
	pingThrough(t, s, ech)

	var childRekeys, ikeUps, ikeDownErrs atomic.Int64
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() { // the runner blocks on a full events channel: keep draining
		defer close(drained)
		for {
			select {
			case ev := <-events:
				switch {
				case ev.Kind == ike.ChildUp && ev.Child.Replaces != 0:
					childRekeys.Add(1)
				case ev.Kind == ike.IKEUp:
					ikeUps.Add(1)
				case ev.Kind == ike.IKEDown && ev.Err != nil:
					ikeDownErrs.Add(1)
				}
			case <-stop:
				return
			}
		}
	}()
	swanBefore := swanRekeys(s.log())

	const count = 500
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := s.node.Exec(ctx, "ping", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "1", "-I", "10.1.0.1", "10.2.0.1")
	close(stop)
	<-drained
	summary := string(out)
	if i := strings.Index(summary, "---"); i >= 0 {
		summary = summary[i:]
	}
	t.Logf("ping -c %d -i 0.05: %s", count, strings.ReplaceAll(summary, "\n", " | "))
	if err != nil || !strings.Contains(summary, fmt.Sprintf("%d packets transmitted, %d received", count, count)) {
		t.Errorf("echoes lost across rekeys: %v (echoer failed to open %d)", err, ech.failed.Load())
	}
	swanAfter := swanRekeys(s.log())
	t.Logf("Peregrine events: %d child rekeys, %d IKE SAs up (rekeys), %d IKE failures; strongSwan log: %d child SAs and %d IKE SAs rekeyed",
		childRekeys.Load(), ikeUps.Load(), ikeDownErrs.Load(), swanAfter.child-swanBefore.child, swanAfter.ike-swanBefore.ike)
	if childRekeys.Load() < 10 || ikeUps.Load() < 2 {
		t.Errorf("want at least 10 child and 2 IKE rekeys, got %d and %d", childRekeys.Load(), ikeUps.Load())
	}
	if d := swanAfter.child - swanBefore.child; int64(d) < childRekeys.Load()-1 {
		t.Errorf("strongSwan logged %d child rekeys, Peregrine %d", d, childRekeys.Load())
	}
	if d := swanAfter.ike - swanBefore.ike; d < 2 {
		t.Errorf("strongSwan logged %d IKE rekeys", d)
	}
	if ikeDownErrs.Load() != 0 {
		t.Errorf("%d IKE SAs failed during the test", ikeDownErrs.Load())
	}
}

type swanCount struct{ child, ike int }

var (
	swanChildRekeyRE = regexp.MustCompile(`CHILD_SA net\{(\d+)\} established`)
	swanIKERekeyRE   = regexp.MustCompile(`IKE_SA pe\[\d+\] rekeyed between`)
)

// swanRekeys counts child SAs established (distinct unique ids: charon
// may log one more than once) and IKE SAs rekeyed in charon's log.
func swanRekeys(log string) swanCount {
	ids := map[string]bool{}
	for _, m := range swanChildRekeyRE.FindAllStringSubmatch(log, -1) {
		ids[m[1]] = true
	}
	return swanCount{child: len(ids), ike: len(swanIKERekeyRE.FindAllString(log, -1))}
}
