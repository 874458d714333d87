package interop_test

// Peregrine against gobgpd and BIRD over IPv6 sessions: no
// IPv4 address on either link, no listen-address in pe1's config.
//
//	g: gobgpd fd00:c3::2 ── pe1-g fd00:c3::1 ┐
//	                                          pe1: peregrined (dataplane none)
//	b: BIRD 2 fd00:c4::2 ── pe1-b fd00:c4::1 ┘   red rd 65000:1 rt 65000:1: 10.1.0.0/24, fd00:1::/64
//
//	f: FRR     fd00:c5::2 ── pe1-f fd00:c5::1 ┘   (FRR without capability extended-nexthop)
//
// VPNv6 both ways with both; VPNv4 with IPv6 next hops (RFC 8950) both
// ways with gobgpd, and with BIRD where its `extended next hop` carries
// vpn4 (checked below, not assumed). FRR, told nothing of RFC 8950, shows
// what GoBGP does with a peer that did not negotiate it, and that pe1
// says so.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const v6peersConfig = `
router: {id: 10.0.0.21, asn: 65000}
dataplane: {backend: none}
bgp:
  api: ''
  neighbors:
    - {address: 'fd00:c3::2', asn: 65000, description: gobgpd, local-address: 'fd00:c3::1', connect-retry: 1s, hold-time: 9s}
    - {address: 'fd00:c4::2', asn: 65000, description: bird, local-address: 'fd00:c4::1', connect-retry: 1s, hold-time: 9s}
    - {address: 'fd00:c5::2', asn: 65000, description: frr-without-rfc8950, local-address: 'fd00:c5::1', connect-retry: 1s, hold-time: 9s}
vrfs:
  - name: red
    rd: 65000:1
    import-targets: [65000:1]
    export-targets: [65000:1]
    static-routes: [{prefix: 10.1.0.0/24}, {prefix: 'fd00:1::/64'}]
`

func TestIPv6CorePeers(t *testing.T) {
	peers.RequireGoBGP(t)
	peers.RequireBIRD(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l := netns.NewLab(t)
	node := func(name string) *netns.Node {
		n, err := l.AddNode(name)
		must(t, err)
		return n
	}
	pe1, g, b, f := node("pe1"), node("g"), node("b"), node("f")
	pelab.Link(t, l, pe1, "pe1-g", "fd00:c3::1/64", g, "g-pe1", "fd00:c3::2/64")
	pelab.Link(t, l, pe1, "pe1-b", "fd00:c4::1/64", b, "b-pe1", "fd00:c4::2/64")
	pelab.Link(t, l, pe1, "pe1-f", "fd00:c5::1/64", f, "f-pe1", "fd00:c5::2/64")

	gob, err := peers.StartGoBGP(ctx, g, peers.GoBGPConfig{Config: peers.Config{
		RouterID: addr("10.0.0.22"), ASN: 65000,
		Neighbors: []peers.NeighborConfig{{Address: addr("fd00:c3::1"), RemoteAS: 65000, LocalAddress: addr("fd00:c3::2")}},
	}})
	must(t, err)
	birdV6 := peers.VPNRoute{RD: "65000:8", Prefix: pfx("fd00:8::/64"), Label: 801, RTs: []string{"65000:1"}}
	birdV4 := peers.VPNRoute{RD: "65000:8", Prefix: pfx("10.8.0.0/24"), Label: 800, RTs: []string{"65000:1"}, NextHop: addr("fd00:c4::2")}
	bird, err := peers.StartBIRD(ctx, b, peers.BIRDConfig{Config: peers.Config{
		RouterID: addr("10.0.0.23"), ASN: 65000,
		Neighbors: []peers.NeighborConfig{{Address: addr("fd00:c4::1"), RemoteAS: 65000, LocalAddress: addr("fd00:c4::2"), ExtendedNextHop: true}},
		Routes:    []peers.VPNRoute{birdV6},
	}})
	must(t, err)
	frr, err := peers.StartFRR(ctx, f, peers.FRRConfig{Config: peers.Config{
		RouterID: addr("10.0.0.24"), ASN: 65000,
		Neighbors: []peers.NeighborConfig{{Address: addr("fd00:c5::1"), RemoteAS: 65000, LocalAddress: addr("fd00:c5::2")}},
	}})
	must(t, err)
	p1 := startPE(t, pe1, v6peersConfig)
	must(t, peers.WaitEstablished(ctx, gob, addr("fd00:c3::1")))
	must(t, peers.WaitEstablished(ctx, bird, addr("fd00:c4::1")))
	red := p1.LocalLabel(ctx, "red", "10.1.0.0/24")

	t.Run("gobgpd: VPNv4 and VPNv6 with IPv6 next hops, both ways", func(t *testing.T) {
		nh := addr("fd00:c3::1")
		waitRoutes(t, ctx, gob,
			peers.VPNRoute{RD: "65000:1", Prefix: pfx("10.1.0.0/24"), Label: red, RTs: []string{"65000:1"}, NextHop: nh},
			peers.VPNRoute{RD: "65000:1", Prefix: pfx("fd00:1::/64"), Label: red, RTs: []string{"65000:1"}, NextHop: nh},
		)
		v4 := peers.VPNRoute{RD: "65000:7", Prefix: pfx("10.7.0.0/24"), Label: 700, RTs: []string{"65000:1"}, NextHop: addr("fd00:c3::2")}
		v6 := peers.VPNRoute{RD: "65000:7", Prefix: pfx("fd00:7::/64"), Label: 701, RTs: []string{"65000:1"}, NextHop: addr("fd00:c3::2")}
		must(t, gob.AddRoute(ctx, v4))
		must(t, gob.AddRoute(ctx, v6))
		p1.WaitImported(t, ctx, "red",
			"10.7.0.0/24 via fd00:c3::2 label 700 rd 65000:7",
			"fd00:7::/64 via fd00:c3::2 label 701 rd 65000:7",
			"fd00:8::/64 via fd00:c4::2 label 801 rd 65000:8")
		must(t, gob.DelRoute(ctx, v4))
		must(t, gob.DelRoute(ctx, v6))
		p1.WaitImported(t, ctx, "red", "fd00:8::/64 via fd00:c4::2 label 801 rd 65000:8")
	})

	t.Run("BIRD: VPNv6 both ways", func(t *testing.T) {
		waitRoutes(t, ctx, bird, peers.VPNRoute{RD: "65000:1", Prefix: pfx("fd00:1::/64"), Label: red, RTs: []string{"65000:1"}, NextHop: addr("fd00:c4::1")})
	})

	t.Run("BIRD: VPNv4 over the IPv6 session with extended next hop", func(t *testing.T) {
		waitRoutes(t, ctx, bird, peers.VPNRoute{RD: "65000:1", Prefix: pfx("10.1.0.0/24"), Label: red, RTs: []string{"65000:1"}, NextHop: addr("fd00:c4::1")})
		must(t, bird.AddRoute(ctx, birdV4))
		p1.WaitImported(t, ctx, "red",
			"10.8.0.0/24 via fd00:c4::2 label 800 rd 65000:8",
			"fd00:8::/64 via fd00:c4::2 label 801 rd 65000:8")
	})

	t.Run("show bgp summary: a peer without RFC 8950 is named, the others are clean", func(t *testing.T) {
		// FRR here offers no extended next hop (no capability
		// extended-nexthop); GoBGP sends it pe1's VPNv4 routes with IPv6
		// next hops all the same, and FRR 8.4 happens to accept them. pe1
		// says the negotiation is missing rather than leave it unseen.
		waitRoutes(t, ctx, frr, peers.VPNRoute{RD: "65000:1", Prefix: pfx("10.1.0.0/24"), Label: red, RTs: []string{"65000:1"}, NextHop: addr("fd00:c5::1")})
		must(t, peers.Eventually(ctx, func(ctx context.Context) error {
			ns, err := p1.Neighbors(ctx)
			if err != nil {
				return err
			}
			if len(ns) != 3 {
				return fmt.Errorf("%d neighbors, want 3: %+v", len(ns), ns)
			}
			for _, n := range ns {
				want := ""
				if n.Address == addr("fd00:c5::2") {
					want = "the neighbor did not offer RFC 8950 extended next hop for VPNv4"
				}
				if n.State != "established" || (want == "") != (n.Reason == "") || !strings.Contains(n.Reason, want) {
					return fmt.Errorf("neighbor %s: %s, reason %q; want established, reason %q", n.Address, n.State, n.Reason, want)
				}
			}
			return nil
		}))
	})
}
