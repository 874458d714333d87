package bgp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// holdRig feeds an importer best-path changes through a grHold, as the
// speaker's run goroutine does (Speaker.holdBack, flushHeld).
type holdRig struct {
	t   *testing.T
	h   *grHold
	im  *importer
	rec *recorder
}

var (
	grPeer    = netip.MustParseAddr("10.0.0.2") // graceful restart, restart-time 120s, stale-time 60s
	plainPeer = netip.MustParseAddr("10.0.0.3") // no graceful restart
	t0        = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func holdNeighbors() []Neighbor {
	return []Neighbor{
		{Address: grPeer, GracefulRestart: GracefulRestart{Enabled: true, RestartTime: 120 * time.Second, StaleTime: 60 * time.Second}},
		{Address: plainPeer},
	}
}

func newHoldRig(t *testing.T) *holdRig {
	r := &holdRig{t: t, h: newGRHold(), rec: &recorder{}}
	r.im, _ = newTestImporter(r.rec)
	r.im.setVRF("red", rts("65000:1"))
	r.flush(r.h.configure(nil, holdNeighbors()))
	return r
}

// best is a best-path change from peer at now.
func (r *holdRig) best(peer netip.Addr, p vpnPath, now time.Time) {
	if !r.h.keeps(peer, p, now) {
		r.im.update(p)
	}
}

func (r *holdRig) withdraw(peer netip.Addr, now time.Time, prefixes ...string) {
	for _, pfx := range prefixes {
		r.best(peer, vpnPath{key: key("65000:9", pfx), withdraw: true}, now)
	}
}

func (r *holdRig) flush(keys []pathKey) {
	for _, k := range keys {
		r.im.update(vpnPath{key: k, withdraw: true})
	}
}

// endOfRIB is grPeer's End-of-RIB for VPNv6 (v6) or VPNv4.
func (r *holdRig) endOfRIB(v6 bool) {
	flush, _ := r.h.endOfRIB(grPeer, v6)
	r.flush(flush)
}

// red is red's routes: "prefix label; ...".
func (r *holdRig) red(want string) {
	r.t.Helper()
	routes, _ := r.im.routes("red")
	var b []string
	for _, rt := range routes {
		b = append(b, rt.Prefix.String()+" "+rt.Label.String())
	}
	if got := strings.Join(b, "; "); got != want {
		r.t.Errorf("red holds %q, want %q", got, want)
	}
}

func key(rd, prefix string) pathKey { return path(rd, prefix, "10.0.0.2", 16).key }

// announce installs grPeer's 10.9.1.0/24 (label 101), 10.9.2.0/24 (102),
// fd00:9::/64 (103) and plainPeer's 10.8.0.0/24 (201).
func (r *holdRig) announce() {
	r.best(grPeer, path("65000:9", "10.9.1.0/24", "192.0.2.9", 101, "65000:1"), t0)
	r.best(grPeer, path("65000:9", "10.9.2.0/24", "192.0.2.9", 102, "65000:1"), t0)
	r.best(grPeer, path("65000:9", "fd00:9::/64", "192.0.2.9", 103, "65000:1"), t0)
	r.best(plainPeer, path("65000:9", "10.8.0.0/24", "192.0.2.8", 201, "65000:1"), t0)
	r.red("10.8.0.0/24 201; 10.9.1.0/24 101; 10.9.2.0/24 102; fd00:9::/64 103")
}

// TestGRHoldEarlyDropUntilEndOfRIB is issue 20's sequence: the neighbor
// falls gracefully, GoBGP withdraws its paths when the new session falls
// to Idle before Established, the session comes back, re-announces one
// prefix (with a new label) and sends End-of-RIB per family: only what it
// did not re-announce goes, and only at its family's End-of-RIB.
func TestGRHoldEarlyDropUntilEndOfRIB(t *testing.T) {
	r := newHoldRig(t)
	r.announce()
	r.flush(r.h.down(grPeer, true, 30*time.Second, t0))
	// The new session falls to Idle in OpenSent: GoBGP's early drop.
	r.withdraw(grPeer, t0.Add(6*time.Second), "10.9.1.0/24", "10.9.2.0/24", "fd00:9::/64")
	r.red("10.8.0.0/24 201; 10.9.1.0/24 101; 10.9.2.0/24 102; fd00:9::/64 103")
	r.flush(r.h.expire(t0.Add(29 * time.Second)))
	r.red("10.8.0.0/24 201; 10.9.1.0/24 101; 10.9.2.0/24 102; fd00:9::/64 103")

	r.flush(r.h.established(grPeer, t0.Add(20*time.Second)))
	r.best(grPeer, path("65000:9", "10.9.1.0/24", "192.0.2.9", 111, "65000:1"), t0.Add(21*time.Second))
	r.red("10.8.0.0/24 201; 10.9.1.0/24 111; 10.9.2.0/24 102; fd00:9::/64 103")
	// Past the restart time but the session is back: stale-time runs.
	r.flush(r.h.expire(t0.Add(31 * time.Second)))
	r.red("10.8.0.0/24 201; 10.9.1.0/24 111; 10.9.2.0/24 102; fd00:9::/64 103")

	r.endOfRIB(false)
	r.red("10.8.0.0/24 201; 10.9.1.0/24 111; fd00:9::/64 103")
	r.endOfRIB(false) // polled again: nothing more
	r.red("10.8.0.0/24 201; 10.9.1.0/24 111; fd00:9::/64 103")
	r.endOfRIB(true)
	r.red("10.8.0.0/24 201; 10.9.1.0/24 111")
	if r.h.holding(grPeer) {
		t.Error("the hold outlived both End-of-RIBs")
	}
	// A withdrawal of the new session is the neighbor's own.
	r.withdraw(grPeer, t0.Add(40*time.Second), "10.9.1.0/24")
	r.red("10.8.0.0/24 201")
}

// TestGRHoldExpires: a neighbor that does not come back within the
// restart time it advertised loses everything held at that moment; one
// that advertises more than the configured restart-time gets the latter.
func TestGRHoldExpires(t *testing.T) {
	for _, tc := range []struct {
		name      string
		advertise time.Duration
		deadline  time.Duration
	}{
		{"advertised", 30 * time.Second, 30 * time.Second},
		{"capped", 4095 * time.Second, 120 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newHoldRig(t)
			r.announce()
			r.flush(r.h.down(grPeer, true, tc.advertise, t0))
			r.withdraw(grPeer, t0.Add(6*time.Second), "10.9.1.0/24", "10.9.2.0/24", "fd00:9::/64")
			if at, ok := r.h.next(); !ok || !at.Equal(t0.Add(tc.deadline)) {
				t.Errorf("next deadline %v %v, want %v", at, ok, t0.Add(tc.deadline))
			}
			r.flush(r.h.expire(t0.Add(tc.deadline - time.Millisecond)))
			r.red("10.8.0.0/24 201; 10.9.1.0/24 101; 10.9.2.0/24 102; fd00:9::/64 103")
			r.flush(r.h.expire(t0.Add(tc.deadline)))
			r.red("10.8.0.0/24 201")
			// GoBGP's own drop at its restart timer, after ours, passes.
			r.withdraw(grPeer, t0.Add(tc.deadline+time.Millisecond), "10.9.1.0/24")
			r.red("10.8.0.0/24 201")
		})
	}
}

// TestGRHoldFlapsDoNotExtend: falls after the session is back, before
// End-of-RIB, keep the hold's deadline: the first fall's restart time,
// then once the stale-time from the first return.
func TestGRHoldFlapsDoNotExtend(t *testing.T) {
	r := newHoldRig(t)
	r.announce()
	r.flush(r.h.down(grPeer, true, 30*time.Second, t0))
	r.withdraw(grPeer, t0.Add(6*time.Second), "10.9.1.0/24", "10.9.2.0/24")
	r.flush(r.h.established(grPeer, t0.Add(10*time.Second))) // deadline t0+10s+60s
	for i := range 5 {
		at := t0.Add(time.Duration(11+2*i) * time.Second)
		r.flush(r.h.down(grPeer, true, 30*time.Second, at))
		r.withdraw(grPeer, at.Add(time.Second), "fd00:9::/64")
		r.flush(r.h.established(grPeer, at.Add(time.Second)))
	}
	if at, ok := r.h.next(); !ok || !at.Equal(t0.Add(70*time.Second)) {
		t.Errorf("next deadline %v %v, want %v", at, ok, t0.Add(70*time.Second))
	}
	r.flush(r.h.expire(t0.Add(70 * time.Second)))
	r.red("10.8.0.0/24 201")
}

// TestGRHoldNone: no hold without graceful restart on either side, after
// a fall that was not graceful, or for a neighbor removed by a reload.
func TestGRHoldNone(t *testing.T) {
	t.Run("neighbor without graceful restart", func(t *testing.T) {
		r := newHoldRig(t)
		r.announce()
		r.flush(r.h.down(plainPeer, true, 30*time.Second, t0))
		r.withdraw(plainPeer, t0.Add(time.Second), "10.8.0.0/24")
		r.red("10.9.1.0/24 101; 10.9.2.0/24 102; fd00:9::/64 103")
	})
	t.Run("not graceful", func(t *testing.T) {
		r := newHoldRig(t)
		r.announce()
		r.flush(r.h.down(grPeer, false, 30*time.Second, t0))
		r.withdraw(grPeer, t0.Add(time.Second), "10.9.1.0/24")
		r.red("10.8.0.0/24 201; 10.9.2.0/24 102; fd00:9::/64 103")
	})
	t.Run("no restart time from the neighbor", func(t *testing.T) {
		r := newHoldRig(t)
		r.announce()
		r.flush(r.h.down(grPeer, true, 0, t0))
		r.withdraw(grPeer, t0.Add(time.Second), "10.9.1.0/24")
		r.red("10.8.0.0/24 201; 10.9.2.0/24 102; fd00:9::/64 103")
	})
	t.Run("removed by reload", func(t *testing.T) {
		r := newHoldRig(t)
		r.announce()
		r.flush(r.h.down(grPeer, true, 30*time.Second, t0))
		r.withdraw(grPeer, t0.Add(time.Second), "10.9.1.0/24")
		r.red("10.8.0.0/24 201; 10.9.1.0/24 101; 10.9.2.0/24 102; fd00:9::/64 103")
		r.flush(r.h.configure(holdNeighbors(), holdNeighbors()[1:]))
		r.red("10.8.0.0/24 201; 10.9.2.0/24 102; fd00:9::/64 103")
		r.withdraw(grPeer, t0.Add(2*time.Second), "10.9.2.0/24")
		r.red("10.8.0.0/24 201; fd00:9::/64 103")
	})
	t.Run("changed by reload", func(t *testing.T) {
		r := newHoldRig(t)
		r.announce()
		r.flush(r.h.down(grPeer, true, 30*time.Second, t0))
		r.withdraw(grPeer, t0.Add(time.Second), "10.9.1.0/24")
		changed := holdNeighbors()
		changed[0].GracefulRestart.StaleTime = 90 * time.Second
		r.flush(r.h.configure(holdNeighbors(), changed))
		r.red("10.8.0.0/24 201; 10.9.2.0/24 102; fd00:9::/64 103")
	})
}

// TestGRHoldEndOfRIBPerSession: an End-of-RIB counts once per session; a
// session that falls again after it sends its own.
func TestGRHoldEndOfRIBPerSession(t *testing.T) {
	r := newHoldRig(t)
	r.announce()
	r.flush(r.h.down(grPeer, true, 30*time.Second, t0))
	r.withdraw(grPeer, t0.Add(6*time.Second), "10.9.1.0/24", "fd00:9::/64")
	r.flush(r.h.established(grPeer, t0.Add(10*time.Second)))
	r.endOfRIB(false)
	r.red("10.8.0.0/24 201; 10.9.2.0/24 102; fd00:9::/64 103")
	// Falls again before its VPNv6 End-of-RIB; the next session drops
	// 10.9.2.0/24 early too and sends both End-of-RIBs.
	r.flush(r.h.down(grPeer, true, 30*time.Second, t0.Add(12*time.Second)))
	r.withdraw(grPeer, t0.Add(18*time.Second), "10.9.2.0/24")
	r.red("10.8.0.0/24 201; 10.9.2.0/24 102; fd00:9::/64 103")
	r.flush(r.h.established(grPeer, t0.Add(20*time.Second)))
	r.endOfRIB(false)
	r.red("10.8.0.0/24 201; fd00:9::/64 103")
	r.endOfRIB(true)
	r.red("10.8.0.0/24 201")
}

// TestGracefulFallsFromGoBGPLog: GoBGP's "peer graceful restart" marks
// its neighbor once; other lines mark nothing.
func TestGracefulFallsFromGoBGPLog(t *testing.T) {
	var g gracefulFalls
	g.gobgpInfo("Peer Down", gobgplog.Fields{"Key": "10.0.0.2"})
	if g.take(grPeer) {
		t.Error("marked by another line")
	}
	g.gobgpInfo("peer graceful restart", gobgplog.Fields{"Topic": "Peer", "Key": "10.0.0.2", "State": "BGP_FSM_ESTABLISHED"})
	if !g.take(grPeer) {
		t.Error("not marked by GoBGP's graceful restart line")
	}
	if g.take(grPeer) {
		t.Error("marked twice")
	}
	g.gobgpInfo("peer graceful restart", gobgplog.Fields{"Key": "::ffff:10.0.0.2"})
	if !g.take(grPeer) {
		t.Error("an IPv4-mapped key did not mark the IPv4 neighbor")
	}
}
