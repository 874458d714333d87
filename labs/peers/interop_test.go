package peers_test

// The harness's own oracle: three real BGP speakers, no Peregrine. FRR
// reflects VPN routes between gobgpd and BIRD; each originates routes with
// its own RD, RT and label, and every other speaker must read them back with
// the same values through its driver.
//
//	                    AS 65000, all iBGP
//	               +------------------------+
//	               |  rr: FRR bgpd          |  route reflector
//	               |  router-id 10.0.0.1    |
//	               +---+----------------+---+
//	        rr-g 10.0.12.1/24     rr-b 10.0.13.1/24, fd00:13::1/64
//	                   |                |
//	        g-rr 10.0.12.2/24     b-rr 10.0.13.3/24, fd00:13::3/64
//	        +----------+---+      +-----+------------+
//	        | g: gobgpd     |      | b: BIRD 2       |
//	        | vpnv4 + vpnv6 |      | vpn4 over IPv4, |
//	        | over IPv4     |      | vpn6 over IPv6  |
//	        +---------------+      +-----------------+

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

var (
	rrG, gRR = addr("10.0.12.1"), addr("10.0.12.2")
	rrB, bRR = addr("10.0.13.1"), addr("10.0.13.3")
	rrB6     = addr("fd00:13::1")
	bRR6     = addr("fd00:13::3")
)

func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }
func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func rts(s ...string) []string  { return s }
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Routes each speaker originates. The FRR and BIRD ones are in their
// configs; gobgp's are added at run time.
var (
	frrV4  = peers.VPNRoute{RD: "65000:1", Prefix: pfx("10.1.0.0/24"), Label: 100, RTs: rts("65000:1")}
	frrV6  = peers.VPNRoute{RD: "65000:1", Prefix: pfx("2001:db8:1::/48"), Label: 101, RTs: rts("65000:1")}
	gobV4  = peers.VPNRoute{RD: "65000:2", Prefix: pfx("10.2.0.0/24"), Label: 200, RTs: rts("65000:2")}
	gobV6  = peers.VPNRoute{RD: "65000:2", Prefix: pfx("2001:db8:2::/48"), Label: 201, RTs: rts("65000:2", "65000:99")}
	gobOdd = peers.VPNRoute{RD: "192.0.2.2:3", Prefix: pfx("10.3.0.0/24"), Label: 300, RTs: rts("4200000000:3")}
	birdV4 = peers.VPNRoute{RD: "65000:4", Prefix: pfx("10.4.0.0/24"), Label: 400, RTs: rts("65000:4", "65000:44")}
	birdV6 = peers.VPNRoute{RD: "65000:4", Prefix: pfx("2001:db8:4::/48"), Label: 401, RTs: rts("65000:4")}
)

// withNH returns r as a receiver should see it: with next hop nh.
func withNH(r peers.VPNRoute, nh netip.Addr) peers.VPNRoute {
	r.NextHop = nh
	return r
}

type topology struct {
	frr   *peers.FRR
	gobgp *peers.GoBGP
	bird  *peers.BIRD
}

func buildTopology(t *testing.T, ctx context.Context) topology {
	t.Helper()
	peers.RequireFRR(t)
	peers.RequireGoBGP(t)
	peers.RequireBIRD(t)
	lab := netns.NewLab(t)
	rr, g, b := mustNode(t, lab, "rr"), mustNode(t, lab, "g"), mustNode(t, lab, "b")
	must(t, lab.Link(rr, "rr-g", g, "g-rr"))
	must(t, lab.Link(rr, "rr-b", b, "b-rr"))
	must(t, rr.AddAddr("rr-g", netip.PrefixFrom(rrG, 24)))
	must(t, g.AddAddr("g-rr", netip.PrefixFrom(gRR, 24)))
	must(t, rr.AddAddr("rr-b", netip.PrefixFrom(rrB, 24)))
	must(t, rr.AddAddr("rr-b", netip.PrefixFrom(rrB6, 64)))
	must(t, b.AddAddr("b-rr", netip.PrefixFrom(bRR, 24)))
	must(t, b.AddAddr("b-rr", netip.PrefixFrom(bRR6, 64)))

	var top topology
	var err error
	top.frr, err = peers.StartFRR(ctx, rr, peers.FRRConfig{Config: peers.Config{
		RouterID: addr("10.0.0.1"), ASN: 65000,
		Neighbors: []peers.NeighborConfig{
			{Address: gRR, RemoteAS: 65000, LocalAddress: rrG, RRClient: true},
			{Address: bRR, RemoteAS: 65000, LocalAddress: rrB, RRClient: true},
			{Address: bRR6, RemoteAS: 65000, LocalAddress: rrB6, RRClient: true},
		},
		Routes: []peers.VPNRoute{frrV4, frrV6},
	}})
	must(t, err)
	top.gobgp, err = peers.StartGoBGP(ctx, g, peers.GoBGPConfig{Config: peers.Config{
		RouterID: gRR, ASN: 65000,
		Neighbors: []peers.NeighborConfig{{Address: rrG, RemoteAS: 65000, LocalAddress: gRR}},
	}})
	must(t, err)
	top.bird, err = peers.StartBIRD(ctx, b, peers.BIRDConfig{Config: peers.Config{
		RouterID: bRR, ASN: 65000,
		Neighbors: []peers.NeighborConfig{
			{Address: rrB, RemoteAS: 65000, LocalAddress: bRR},
			{Address: rrB6, RemoteAS: 65000, LocalAddress: bRR6},
		},
		Routes: []peers.VPNRoute{birdV4, birdV6},
	}})
	must(t, err)

	must(t, peers.WaitEstablished(ctx, top.frr, gRR, bRR, bRR6))
	must(t, peers.WaitEstablished(ctx, top.gobgp, rrG))
	must(t, peers.WaitEstablished(ctx, top.bird, rrB, rrB6))
	return top
}

func mustNode(t *testing.T, lab *netns.Lab, name string) *netns.Node {
	t.Helper()
	n, err := lab.AddNode(name)
	must(t, err)
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seen is one expectation: speaker s has route r.
type seen struct {
	s peers.Speaker
	r peers.VPNRoute
}

func waitAll(t *testing.T, ctx context.Context, want ...seen) {
	t.Helper()
	for _, w := range want {
		got, err := peers.WaitRoute(ctx, w.s, w.r)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s has %v", w.s.Name(), got)
	}
}

// withdraw has origin withdraw r and waits until every receiver, which
// must have had r, has lost it.
func withdraw(t *testing.T, ctx context.Context, origin peers.Speaker, r peers.VPNRoute, receivers ...peers.Speaker) {
	t.Helper()
	for _, s := range receivers {
		if _, err := peers.WaitRoute(ctx, s, peers.VPNRoute{RD: r.RD, Prefix: r.Prefix}); err != nil {
			t.Fatalf("before the withdrawal: %v", err)
		}
	}
	if err := origin.DelRoute(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range receivers {
		if err := peers.WaitNoRoute(ctx, s, r.RD, r.Prefix); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInterop(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	top := buildTopology(t, ctx)
	frr, gob, bird := top.frr, top.gobgp, top.bird

	// Sessions are up before gobgp originates, so these also prove
	// updates after Established, not only the initial table dump.
	must(t, gob.AddRoute(ctx, gobV4))
	must(t, gob.AddRoute(ctx, gobV6))
	must(t, gob.AddRoute(ctx, gobOdd))

	t.Run("vpnv4", func(t *testing.T) {
		ctx := ctxFor(t, 30*time.Second)
		waitAll(t, ctx,
			seen{gob, withNH(frrV4, rrG)}, seen{bird, withNH(frrV4, rrB)},
			seen{frr, withNH(gobV4, gRR)}, seen{bird, withNH(gobV4, gRR)},
			seen{frr, withNH(birdV4, bRR)}, seen{gob, withNH(birdV4, bRR)},
			// An IPv4-address RD and a four-octet-AS RT (gobgp prints
			// asdot; every driver must report asplain).
			seen{frr, withNH(gobOdd, gRR)}, seen{bird, withNH(gobOdd, gRR)},
		)
	})
	t.Run("vpnv6", func(t *testing.T) {
		ctx := ctxFor(t, 30*time.Second)
		waitAll(t, ctx,
			// Over IPv4 sessions the next hop is ::ffff:10.0.12.x.
			seen{gob, withNH(frrV6, rrG)}, seen{frr, withNH(gobV6, gRR)},
			seen{bird, withNH(frrV6, rrB6)},
			seen{frr, withNH(birdV6, bRR6)},
			// FRR reflects an IPv6 next hop to an IPv4-only session
			// as its own address there (::ffff:10.0.12.1).
			seen{gob, withNH(birdV6, rrG)},
		)
		if *capture {
			captureOutputs(t, ctx, top)
		}
	})
	t.Run("own routes", func(t *testing.T) {
		ctx := ctxFor(t, 30*time.Second)
		// Each speaker lists what it originates as Local and best.
		for _, w := range []seen{{frr, frrV4}, {gob, gobV4}, {bird, birdV4}} {
			want := w.r
			if w.s == peers.Speaker(frr) {
				want.Label = 0 // FRR's JSON omits a local path's label
			}
			got, err := peers.WaitRoute(ctx, w.s, want)
			must(t, err)
			if !got.Local || !got.Best {
				t.Errorf("%s: own route %v: want local and best", w.s.Name(), got)
			}
		}
	})
	t.Run("runtime add and withdraw", func(t *testing.T) {
		ctx := ctxFor(t, 30*time.Second)
		extra := peers.VPNRoute{RD: "65000:11", Prefix: pfx("10.11.0.0/24"), Label: 1100, RTs: rts("65000:11", "65000:12")}
		must(t, frr.AddRoute(ctx, extra))
		waitAll(t, ctx, seen{gob, withNH(extra, rrG)}, seen{bird, withNH(extra, rrB)})
		withdraw(t, ctx, frr, extra, gob, bird)

		withdraw(t, ctx, frr, frrV4, gob, bird)
		withdraw(t, ctx, frr, frrV6, gob, bird)
		withdraw(t, ctx, gob, gobV4, frr, bird)
		withdraw(t, ctx, gob, gobV6, frr)
		withdraw(t, ctx, bird, birdV4, frr, gob)
		withdraw(t, ctx, bird, birdV6, frr, gob)

		// And back: BIRD re-announces after a reconfigure.
		must(t, bird.AddRoute(ctx, birdV4))
		waitAll(t, ctx, seen{frr, withNH(birdV4, bRR)}, seen{gob, withNH(birdV4, bRR)})
	})
	t.Run("neighbors", func(t *testing.T) {
		ctx := ctxFor(t, 30*time.Second)
		ns, err := frr.Neighbors(ctx)
		must(t, err)
		if len(ns) != 3 {
			t.Fatalf("frr neighbors = %v, want 3", ns)
		}
		for _, n := range ns {
			if n.RemoteAS != 65000 || n.State != peers.Established {
				t.Errorf("frr neighbor %v: want AS 65000, Established", n)
			}
		}
	})
}
