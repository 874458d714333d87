package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgp "github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// ceBatchRig drives a CE batch the way the CE server's watcher hands it
// over (Speaker.ceUpdates): a speaker with VRF "red", whose CE server
// record knows CEs 10.1.0.2 and 10.1.0.3 (ceTake reads nothing else of
// it), and an
// originator on an embedded GoBGP server, whose RIB is the oracle for
// what is advertised. It records the events the originator emits.
type ceBatchRig struct {
	s      *Speaker
	srv    *server.BgpServer
	ce     netip.Addr
	events []string
}

// newCEBatchRig builds the rig; with own, red has static route
// 10.9.0.0/24 and connected prefix 10.1.0.0/24, else no prefix of its
// own.
func newCEBatchRig(tb testing.TB, labelMode string, own bool) *ceBatchRig {
	tb.Helper()
	ctx := context.Background()
	srv := server.NewBgpServer(server.LoggerOption(newSlogAdapter(slog.New(slog.DiscardHandler))))
	go srv.Serve()
	tb.Cleanup(func() { _ = stopGoBGP(srv) })
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: 65000, RouterId: "192.0.2.1", ListenPort: -1}}); err != nil {
		tb.Fatal(err)
	}
	alloc, err := mpls.NewAllocator(mpls.Range{First: 16, Last: 1 << 19})
	if err != nil {
		tb.Fatal(err)
	}
	r := &ceBatchRig{srv: srv, ce: netip.MustParseAddr("10.1.0.2")}
	red := VRF{Name: "red", RD: vpn.MustParseRD("65000:1"), ExportTargets: []vpn.RT{vpn.MustParseRT("65000:1")},
		LabelMode: labelMode, Neighbors: []CENeighbor{{Address: r.ce, ASN: 65101, Families: []string{"ipv4"}}}}
	r.s = &Speaker{
		log:       slog.New(slog.DiscardHandler),
		cfg:       &Config{ASN: 65000, VRFs: []VRF{red}},
		connected: map[string][]netip.Prefix{},
		ces: map[string]*ceServer{"red": {peers: map[netip.Addr]CENeighbor{
			r.ce:                            red.Neighbors[0],
			netip.MustParseAddr("10.1.0.3"): {Address: netip.MustParseAddr("10.1.0.3"), ASN: 65102, Families: []string{"ipv4"}},
		}}},
	}
	if own {
		r.s.cfg.VRFs[0].StaticRoutes = []netip.Prefix{netip.MustParsePrefix("10.9.0.0/24")}
		r.s.connected["red"] = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24")}
	}
	r.s.org = newOriginator(srv, alloc, func(e Event) { r.events = append(r.events, e.String()) })
	if err := r.s.org.sync(ctx, "red", &r.s.cfg.VRFs[0], r.s.connected["red"]); err != nil {
		tb.Fatal(err)
	}
	r.events = nil
	return r
}

// cePrefix is the i-th /24 of 20.0.0.0/8 and up.
func cePrefix(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(20 + i>>16), byte(i >> 8), byte(i), 0}), 24)
}

// path is the CE's best path to p as the CE server's watcher reports
// it, or its withdrawal.
func (r *ceBatchRig) path(tb testing.TB, p netip.Prefix, med uint32, withdraw bool) *api.Path {
	tb.Helper()
	return r.pathFrom(tb, r.ce, p, med, withdraw)
}

// pathFrom is path from CE ce.
func (r *ceBatchRig) pathFrom(tb testing.TB, ce netip.Addr, p netip.Prefix, med uint32, withdraw bool) *api.Path {
	tb.Helper()
	nlri := gobgp.NewIPAddrPrefix(uint8(p.Bits()), p.Addr().String())
	ap, err := apiutil.NewPath(nlri, withdraw, cePathAttrs(med), time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	ap.NeighborIp = ce.String()
	return ap
}

// take hands the speaker one batch of CE paths and returns the events
// it caused, sorted.
func (r *ceBatchRig) take(paths []*api.Path) []string {
	r.events = nil
	r.s.ceUpdates(context.Background(), ceBatch{vrf: "red", paths: paths})
	slices.Sort(r.events)
	return r.events
}

// load announces CE prefixes 0..n-1 in batches of 500.
func (r *ceBatchRig) load(tb testing.TB, n int) {
	tb.Helper()
	for start := 0; start < n; start += 500 {
		var paths []*api.Path
		for i := start; i < min(start+500, n); i++ {
			paths = append(paths, r.path(tb, cePrefix(i), 50, false))
		}
		r.take(paths)
	}
}

// TestCEBatchTouchesOnlyItsPrefixes shows that a batch of CE paths is
// reconciled prefix by prefix, not by a pass over the whole VRF: the
// records of a prefix the batch does not name are not read. To see that
// from outside, one such prefix's records are made stale (the FIB is
// recorded as holding another next hop, the advertisement as carrying
// another label), which a whole-VRF pass would find and repair with a
// FIB event and a new advertisement. The batch's own changes (a
// withdrawal, a new prefix, a changed MED) must still reach the FIB, the
// label book and GoBGP's RIB.
func TestCEBatchTouchesOnlyItsPrefixes(t *testing.T) {
	r := newCEBatchRig(t, "per-prefix", true)
	r.load(t, 1000)
	if got := len(vpnRIB(t, r.srv)); got != 1002 {
		t.Fatalf("RIB holds %d VPN paths after loading 1000 CE routes: want 1002 (with the static and the connected)", got)
	}
	o := r.s.org
	stale := cePrefix(0)
	o.ceFIB["red"][stale] = netip.MustParseAddr("192.0.2.99")
	a := o.adverts["red"][stale]
	realLabel := a.label
	a.label = 1 << 19
	o.adverts["red"][stale] = a
	gone, added, changed := cePrefix(1), cePrefix(1000), cePrefix(2)
	goneLabel := o.adverts["red"][gone].label

	events := r.take([]*api.Path{
		r.path(t, gone, 50, true),
		r.path(t, added, 50, false),
		r.path(t, changed, 60, false),
	})
	addedLabel := o.adverts["red"][added].label
	want := []string{
		"ce-route-add vrf red " + added.String() + " via 10.1.0.2",
		"ce-route-del vrf red " + gone.String(),
		fmt.Sprintf("label-add %d vrf red prefix %s", addedLabel, added),
		fmt.Sprintf("label-del %d vrf red prefix %s", goneLabel, gone),
	}
	slices.Sort(want)
	if !slices.Equal(events, want) {
		t.Errorf("events of the batch:\n  %q\nwant\n  %q", events, want)
	}
	rib := vpnRIB(t, r.srv)
	if _, ok := rib["65000:1 "+gone.String()]; ok {
		t.Errorf("withdrawn %s still advertised", gone)
	}
	if !strings.Contains(rib["65000:1 "+added.String()], fmt.Sprintf("label [%d]", addedLabel)) {
		t.Errorf("new %s advertised as %q", added, rib["65000:1 "+added.String()])
	}
	if !strings.Contains(rib["65000:1 "+changed.String()], "{Med: 60}") {
		t.Errorf("%s after its MED changed: %q", changed, rib["65000:1 "+changed.String()])
	}
	if got := rib["65000:1 "+stale.String()]; !strings.Contains(got, fmt.Sprintf("label [%d]", realLabel)) {
		t.Errorf("%s, not in the batch, re-advertised as %q", stale, got)
	}
	if got := o.ceFIB["red"][stale]; got != netip.MustParseAddr("192.0.2.99") {
		t.Errorf("%s, not in the batch, given to the FIB again (via %s)", stale, got)
	}
}

// TestCEBatchBestPathMovesToAnotherCE: when a prefix's best path moves
// to another CE with the same attributes, the VPN path stays as it is
// (nothing a remote PE sees changed), the FIB gets the new next hop and
// show route vrf names the new CE.
func TestCEBatchBestPathMovesToAnotherCE(t *testing.T) {
	r := newCEBatchRig(t, "per-prefix", false)
	p, other := cePrefix(7), netip.MustParseAddr("10.1.0.3")
	r.take([]*api.Path{r.path(t, p, 50, false)})
	before := vpnRIB(t, r.srv)
	events := r.take([]*api.Path{r.pathFrom(t, other, p, 50, false)})
	if want := []string{"ce-route-add vrf red " + p.String() + " via 10.1.0.3"}; !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
	if after := vpnRIB(t, r.srv); !maps.Equal(before, after) {
		t.Errorf("VPN path changed: %v, then %v", before, after)
	}
	routes := r.s.org.routes("red")
	if len(routes) != 1 || routes[0].NextHop != other {
		t.Errorf("show route vrf red: %+v, want %s via %s", routes, p, other)
	}
}

// TestCEBatchesLeaveNothingForAWholeSync plays random batches of CE
// paths (announcements, changed attributes, withdrawals, the VRF's own
// static and connected prefixes among them) through the per-batch
// reconciliation, and after each batch runs the whole-VRF one (sync):
// it must find nothing to change, no event to emit and no path to
// advertise or withdraw, in either label mode, with and without prefixes
// of the VRF's own (the per-VRF label then comes with the first CE route
// and goes with the last).
func TestCEBatchesLeaveNothingForAWholeSync(t *testing.T) {
	for _, mode := range []string{"per-prefix", "per-vrf"} {
		for _, own := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/own=%v", mode, own), func(t *testing.T) {
				r := newCEBatchRig(t, mode, own)
				rnd := rand.New(rand.NewPCG(1, uint64(len(mode))))
				pick := func() netip.Prefix {
					switch rnd.IntN(20) {
					case 0:
						return netip.MustParsePrefix("10.9.0.0/24") // red's static
					case 1:
						return netip.MustParsePrefix("10.1.0.0/24") // red's connected
					}
					return cePrefix(rnd.IntN(40))
				}
				var labelEvents int
				for step := range 60 {
					var paths []*api.Path
					for range 1 + rnd.IntN(12) {
						paths = append(paths, r.path(t, pick(), uint32(rnd.IntN(3)), rnd.IntN(3) == 0))
					}
					if step%10 == 9 { // now and then a CE withdraws all
						paths = nil
						for i := range 40 {
							paths = append(paths, r.path(t, cePrefix(i), 0, true))
						}
					}
					for _, e := range r.take(paths) {
						if strings.HasPrefix(e, "label-") {
							labelEvents++
						}
					}
					rib := vpnRIB(t, r.srv)
					labels := maps.Clone(r.s.org.labels["red"])
					r.events = nil
					v := &r.s.cfg.VRFs[0]
					if err := r.s.org.sync(context.Background(), "red", v, r.s.connected["red"]); err != nil {
						t.Fatal(err)
					}
					if len(r.events) > 0 {
						t.Fatalf("step %d: the whole-VRF sync after the batch emitted %q", step, r.events)
					}
					if after := vpnRIB(t, r.srv); !maps.Equal(rib, after) {
						t.Fatalf("step %d: the whole-VRF sync changed the RIB\nbefore %v\nafter  %v", step, rib, after)
					}
					if !maps.Equal(labels, r.s.org.labels["red"]) {
						t.Fatalf("step %d: labels %v after the batch, %v after the whole sync", step, labels, r.s.org.labels["red"])
					}
				}
				if labelEvents == 0 && (mode == "per-prefix" || !own) { // else the per-VRF label stays with the static route
					t.Error("no label was bound or released: the batches did not exercise the label book")
				}
			})
		}
	}
}

// TestCEBatchAllocsIndependentOfVRFSize counts the allocations of a
// batch that withdraws one CE prefix and announces it again, in a VRF of
// 500 CE routes and in one of 8000: a batch costs what its prefixes
// cost, whatever the VRF holds. (GoBGP's own work for the two paths is
// in both counts.)
func TestCEBatchAllocsIndependentOfVRFSize(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	if testing.Short() {
		t.Skip("loads 8500 routes into GoBGP")
	}
	allocs := func(n int) float64 {
		r := newCEBatchRig(t, "per-vrf", true)
		r.load(t, n)
		p := cePrefix(n / 2)
		withdraw := []*api.Path{r.path(t, p, 50, true)}
		announce := []*api.Path{r.path(t, p, 50, false)}
		return testing.AllocsPerRun(20, func() {
			r.take(withdraw)
			r.take(announce)
		})
	}
	small, large := allocs(500), allocs(8000)
	t.Logf("allocations per withdraw and announce: %.0f in a VRF of 500 CE routes, %.0f in one of 8000", small, large)
	if large > small*1.2+20 {
		t.Errorf("a batch of one prefix allocates %.0f times in a VRF of 8000 routes, %.0f in one of 500: its cost grows with the VRF", large, small)
	}
}

// BenchmarkCESyncBatch is the cost of one batch of 100 CE prefixes (50
// withdrawn, 50 announced, alternating) in VRFs of 1,000 and 100,000 CE
// routes: with an incremental reconciliation the two are close.
func BenchmarkCESyncBatch(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("vrf=%d", n), func(b *testing.B) {
			r := newCEBatchRig(b, "per-prefix", true)
			r.load(b, n)
			var flip [2][]*api.Path
			for i := range 100 {
				p := cePrefix(i * (n / 100))
				flip[0] = append(flip[0], r.path(b, p, 50, i%2 == 0))
				flip[1] = append(flip[1], r.path(b, p, 50, i%2 != 0))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				r.take(flip[i%2])
			}
		})
	}
}
