package interop_test

// Peregrine against real BGP speakers, all iBGP in AS 65000:
//
//	                 rr: FRR bgpd (route reflector)
//	          rr-pe1 10.0.1.1 |      | rr-pe2 10.0.2.1
//	                          |      |
//	          pe1-rr 10.0.1.2 |      | pe2-rr 10.0.2.2
//	  +-----------------------+-+  +-+-----------------------+
//	  | pe1: peregrined         |  | pe2: peregrined         |
//	  | red  rd 65000:1  rt :1  |  | red  rd 65000:11 rt :1  |
//	  | blue rd 65000:2  rt :2  |  | blue rd 65000:12 rt :2  |
//	  | ce1 10.11.0.1/24 (red)  |  +-------------------------+
//	  +--+-------------------+--+
//	     | pe1-g 10.0.3.1    | pe1-b 10.0.4.1
//	     |                   |
//	     | g-pe1 10.0.3.2    | b-pe1 10.0.4.2
//	  g: gobgpd            b: BIRD 2 (vpn4 mpls)
//
// red and blue on both PEs carry the same customer prefixes; only RD and
// RT keep them apart.

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }
func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const pe1Base = `
router: {id: 10.0.1.2, asn: 65000}
log: {level: debug}
bgp:
  listen-address: 0.0.0.0
  api: 127.0.0.1:50051
  neighbors:
    - {address: 10.0.1.1, asn: 65000, description: rr, local-address: 10.0.1.2, connect-retry: 1s, hold-time: 9s}
    - {address: 10.0.3.2, asn: 65000, description: gobgpd, local-address: 10.0.3.1, connect-retry: 1s, hold-time: 9s}
    - {address: 10.0.4.2, asn: 65000, description: bird, local-address: 10.0.4.1, families: [vpnv4], connect-retry: 1s, hold-time: 9s}
`

const pe1VRFs = `
vrfs:
  - name: red
    rd: 65000:1
    import-targets: [65000:1]
    export-targets: [65000:1]
    interfaces: [ce1]
    static-routes: [{prefix: 10.1.0.0/24}, {prefix: 'fd00:1::/64'}]
  - name: blue
    rd: 65000:2
    import-targets: [65000:2]
    export-targets: [65000:2]
    static-routes: [{prefix: 10.1.0.0/24}]
`

const pe2Config = `
router: {id: 10.0.2.2, asn: 65000}
mpls: {label-min: 2000, label-max: 2999}
bgp:
  api: ''
  neighbors:
    - {address: 10.0.2.1, asn: 65000, local-address: 10.0.2.2, connect-retry: 1s, hold-time: 9s}
vrfs:
  - {name: red, rd: '65000:11', import-targets: ['65000:1'], export-targets: ['65000:1'], static-routes: [{prefix: 10.2.0.0/24}]}
  - {name: blue, rd: '65000:12', import-targets: ['65000:2'], export-targets: ['65000:2'], static-routes: [{prefix: 10.2.0.0/24}]}
`

type lab struct {
	rr       *peers.FRR
	gob      *peers.GoBGP
	bird     *peers.BIRD
	pe1, pe2 *pe
	nodes    map[string]*netns.Node
}

func buildLab(t *testing.T, ctx context.Context) *lab {
	t.Helper()
	peers.RequireFRR(t)
	peers.RequireGoBGP(t)
	peers.RequireBIRD(t)
	l := netns.NewLab(t)
	nodes := map[string]*netns.Node{}
	for _, n := range []string{"rr", "pe1", "pe2", "g", "b"} {
		node, err := l.AddNode(n)
		must(t, err)
		nodes[n] = node
	}
	rr, pe1, pe2, g, b := nodes["rr"], nodes["pe1"], nodes["pe2"], nodes["g"], nodes["b"]
	pelab.Link(t, l, rr, "rr-pe1", "10.0.1.1/24", pe1, "pe1-rr", "10.0.1.2/24")
	pelab.Link(t, l, rr, "rr-pe2", "10.0.2.1/24", pe2, "pe2-rr", "10.0.2.2/24")
	pelab.Link(t, l, pe1, "pe1-g", "10.0.3.1/24", g, "g-pe1", "10.0.3.2/24")
	pelab.Link(t, l, pe1, "pe1-b", "10.0.4.1/24", b, "b-pe1", "10.0.4.2/24")
	// A CE-facing interface in vrf red whose connected prefix pe1 exports.
	ce, err := l.AddNode("ce1")
	must(t, err)
	pelab.Link(t, l, pe1, "ce1", "10.11.0.1/24", ce, "eth0", "10.11.0.2/24")

	lb := &lab{nodes: nodes}
	lb.rr, err = peers.StartFRR(ctx, rr, peers.FRRConfig{Config: peers.Config{
		RouterID: addr("10.0.0.1"), ASN: 65000,
		Neighbors: []peers.NeighborConfig{
			{Address: addr("10.0.1.2"), RemoteAS: 65000, LocalAddress: addr("10.0.1.1"), RRClient: true},
			{Address: addr("10.0.2.2"), RemoteAS: 65000, LocalAddress: addr("10.0.2.1"), RRClient: true},
		},
	}})
	must(t, err)
	lb.gob, err = peers.StartGoBGP(ctx, g, peers.GoBGPConfig{Config: peers.Config{
		RouterID: addr("10.0.3.2"), ASN: 65000,
		Neighbors: []peers.NeighborConfig{{Address: addr("10.0.3.1"), RemoteAS: 65000, LocalAddress: addr("10.0.3.2")}},
	}})
	must(t, err)
	lb.bird, err = peers.StartBIRD(ctx, b, peers.BIRDConfig{Config: peers.Config{
		RouterID: addr("10.0.4.2"), ASN: 65000,
		Neighbors: []peers.NeighborConfig{{Address: addr("10.0.4.1"), RemoteAS: 65000, LocalAddress: addr("10.0.4.2")}},
		Routes:    []peers.VPNRoute{birdRoute},
	}})
	must(t, err)
	lb.pe1 = startPE(t, pe1, pe1Base+pe1VRFs)
	lb.pe2 = startPE(t, pe2, pe2Config)

	must(t, peers.WaitEstablished(ctx, lb.rr, addr("10.0.1.2"), addr("10.0.2.2")))
	must(t, peers.WaitEstablished(ctx, lb.gob, addr("10.0.3.1")))
	must(t, peers.WaitEstablished(ctx, lb.bird, addr("10.0.4.1")))
	return lb
}

// BIRD's static VPN route, imported by red (RT 65000:1).
var birdRoute = peers.VPNRoute{RD: "65000:8", Prefix: pfx("10.8.0.0/24"), Label: 800, RTs: []string{"65000:1"}}

func waitRoutes(t *testing.T, ctx context.Context, s peers.Speaker, want ...peers.VPNRoute) {
	t.Helper()
	for _, w := range want {
		if _, err := peers.WaitRoute(ctx, s, w); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBGPInterop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	lb := buildLab(t, ctx)
	pe1, pe2 := lb.pe1, lb.pe2
	red, blue := pe1.LocalLabel(ctx, "red", "10.1.0.0/24"), pe1.LocalLabel(ctx, "blue", "10.1.0.0/24")
	if red == 0 || blue == 0 || red == blue {
		t.Fatalf("pe1 labels red %d blue %d: want two distinct labels", red, blue)
	}

	t.Run("FRR route reflector sees pe1's routes with RD, RT and label", func(t *testing.T) {
		nh := addr("10.0.1.2")
		waitRoutes(t, ctx, lb.rr,
			peers.VPNRoute{RD: "65000:1", Prefix: pfx("10.1.0.0/24"), Label: red, RTs: []string{"65000:1"}, NextHop: nh},
			peers.VPNRoute{RD: "65000:2", Prefix: pfx("10.1.0.0/24"), Label: blue, RTs: []string{"65000:2"}, NextHop: nh},
			peers.VPNRoute{RD: "65000:1", Prefix: pfx("10.11.0.0/24"), Label: red, RTs: []string{"65000:1"}, NextHop: nh}, // connected
			peers.VPNRoute{RD: "65000:1", Prefix: pfx("fd00:1::/64"), Label: red, RTs: []string{"65000:1"}, NextHop: nh},
		)
	})

	t.Run("two PEs through the reflector keep red and blue apart", func(t *testing.T) {
		pe2.WaitImported(t, ctx, "red",
			fmt.Sprintf("10.1.0.0/24 via 10.0.1.2 label %d rd 65000:1", red),
			fmt.Sprintf("10.11.0.0/24 via 10.0.1.2 label %d rd 65000:1", red),
			fmt.Sprintf("fd00:1::/64 via 10.0.1.2 label %d rd 65000:1", red))
		pe2.WaitImported(t, ctx, "blue", fmt.Sprintf("10.1.0.0/24 via 10.0.1.2 label %d rd 65000:2", blue))
		pe1.WaitImported(t, ctx, "red", "10.2.0.0/24 via 10.0.2.2 label 2000 rd 65000:11", "10.8.0.0/24 via 10.0.4.2 label 800 rd 65000:8")
		pe1.WaitImported(t, ctx, "blue", "10.2.0.0/24 via 10.0.2.2 label 2001 rd 65000:12")
	})

	t.Run("FRR announces and withdraws; only the matching VRF imports", func(t *testing.T) {
		r := peers.VPNRoute{RD: "65000:5", Prefix: pfx("10.5.0.0/24"), Label: 500, RTs: []string{"65000:2"}}
		must(t, lb.rr.AddRoute(ctx, r))
		pe1.WaitImported(t, ctx, "blue", "10.2.0.0/24 via 10.0.2.2 label 2001 rd 65000:12", "10.5.0.0/24 via 10.0.1.1 label 500 rd 65000:5")
		pe2.WaitImported(t, ctx, "blue", fmt.Sprintf("10.1.0.0/24 via 10.0.1.2 label %d rd 65000:2", blue), "10.5.0.0/24 via 10.0.2.1 label 500 rd 65000:5")
		pe1.WaitImported(t, ctx, "red", "10.2.0.0/24 via 10.0.2.2 label 2000 rd 65000:11", "10.8.0.0/24 via 10.0.4.2 label 800 rd 65000:8")
		must(t, lb.rr.DelRoute(ctx, r))
		pe1.WaitImported(t, ctx, "blue", "10.2.0.0/24 via 10.0.2.2 label 2001 rd 65000:12")
		pe2.WaitImported(t, ctx, "blue", fmt.Sprintf("10.1.0.0/24 via 10.0.1.2 label %d rd 65000:2", blue))
	})

	t.Run("gobgpd VPNv4 and VPNv6 both ways", func(t *testing.T) {
		nh := addr("10.0.3.1")
		waitRoutes(t, ctx, lb.gob,
			peers.VPNRoute{RD: "65000:1", Prefix: pfx("10.1.0.0/24"), Label: red, RTs: []string{"65000:1"}, NextHop: nh},
			peers.VPNRoute{RD: "65000:2", Prefix: pfx("10.1.0.0/24"), Label: blue, RTs: []string{"65000:2"}, NextHop: nh},
			peers.VPNRoute{RD: "65000:1", Prefix: pfx("fd00:1::/64"), Label: red, RTs: []string{"65000:1"}, NextHop: nh},
		)
		v4 := peers.VPNRoute{RD: "65000:7", Prefix: pfx("10.7.0.0/24"), Label: 700, RTs: []string{"65000:2"}}
		v6 := peers.VPNRoute{RD: "65000:7", Prefix: pfx("fd00:7::/64"), Label: 701, RTs: []string{"65000:2"}}
		must(t, lb.gob.AddRoute(ctx, v4))
		must(t, lb.gob.AddRoute(ctx, v6))
		pe1.WaitImported(t, ctx, "blue",
			"10.2.0.0/24 via 10.0.2.2 label 2001 rd 65000:12",
			"10.7.0.0/24 via 10.0.3.2 label 700 rd 65000:7",
			"fd00:7::/64 via 10.0.3.2 label 701 rd 65000:7")
		must(t, lb.gob.DelRoute(ctx, v4))
		must(t, lb.gob.DelRoute(ctx, v6))
		pe1.WaitImported(t, ctx, "blue", "10.2.0.0/24 via 10.0.2.2 label 2001 rd 65000:12")
	})

	t.Run("BIRD vpn4 mpls both ways", func(t *testing.T) {
		waitRoutes(t, ctx, lb.bird,
			peers.VPNRoute{RD: "65000:1", Prefix: pfx("10.1.0.0/24"), Label: red, RTs: []string{"65000:1"}, NextHop: addr("10.0.4.1")},
			peers.VPNRoute{RD: "65000:2", Prefix: pfx("10.1.0.0/24"), Label: blue, RTs: []string{"65000:2"}, NextHop: addr("10.0.4.1")},
		)
		// BIRD's own route was checked in pe1's red above; withdraw it.
		must(t, lb.bird.DelRoute(ctx, birdRoute))
		pe1.WaitImported(t, ctx, "red", "10.2.0.0/24 via 10.0.2.2 label 2000 rd 65000:11")
	})

	t.Run("the stock gobgp CLI reads peregrined's gRPC API and cannot write", func(t *testing.T) {
		gobgp, err := peers.Tool("gobgp")
		if err != nil {
			t.Skip(err)
		}
		out, err := lb.nodes["pe1"].Exec(ctx, gobgp, "-u", "127.0.0.1", "-p", "50051", "global", "rib", "-a", "vpnv4")
		if err != nil {
			t.Fatalf("gobgp: %v\n%s", err, out)
		}
		for _, want := range []string{"65000:1:10.1.0.0/24", "65000:2:10.1.0.0/24", "65000:11:10.2.0.0/24"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("gobgp global rib lacks %s:\n%s", want, out)
			}
		}
		// The API is read-only without bgp.api-write: the CLI cannot
		// inject a path or reset a session.
		for _, args := range [][]string{{"global", "rib", "add", "10.99.0.0/24", "-a", "ipv4"}, {"neighbor", "10.0.1.1", "reset"}} {
			out, err := lb.nodes["pe1"].Exec(ctx, append([]string{gobgp, "-u", "127.0.0.1", "-p", "50051"}, args...)...)
			if err == nil || !strings.Contains(string(out), "PermissionDenied") {
				t.Errorf("gobgp %s on the read-only API: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	})

	t.Run("reload: withdraw a static, change an RT, add a neighbor; other sessions stay up", func(t *testing.T) {
		before, err := pe1.Neighbors(ctx)
		must(t, err)
		up := map[string]time.Duration{}
		for _, n := range before {
			up[n.Address.String()] = n.Uptime
		}
		cfg := strings.Replace(pe1Base+pe1VRFs, "static-routes: [{prefix: 10.1.0.0/24}, {prefix: 'fd00:1::/64'}]", "static-routes: [{prefix: 10.1.0.0/24}]", 1)
		cfg = strings.Replace(cfg, "export-targets: [65000:2]", "export-targets: [65000:20]", 1)
		cfg = strings.Replace(cfg, "\nvrfs:", "    - {address: 10.0.9.9, asn: 65009, connect-retry: 5s}\nvrfs:", 1)
		pe1.Reload(t, cfg)

		// The IPv6 static is withdrawn everywhere.
		for _, s := range []peers.Speaker{lb.rr, lb.gob} {
			must(t, peers.WaitNoRoute(ctx, s, "65000:1", pfx("fd00:1::/64")))
		}
		pe2.WaitImported(t, ctx, "red",
			fmt.Sprintf("10.1.0.0/24 via 10.0.1.2 label %d rd 65000:1", red),
			fmt.Sprintf("10.11.0.0/24 via 10.0.1.2 label %d rd 65000:1", red))
		// blue now exports RT 65000:20, which pe2's blue does not import.
		pe2.WaitImported(t, ctx, "blue")
		waitRoutes(t, ctx, lb.rr, peers.VPNRoute{RD: "65000:2", Prefix: pfx("10.1.0.0/24"), Label: blue, RTs: []string{"65000:20"}})
		after, err := pe1.Neighbors(ctx)
		must(t, err)
		var added bool
		for _, n := range after {
			a := n.Address.String()
			if a == "10.0.9.9" {
				added = true
				continue
			}
			if n.State != "established" || n.Uptime < up[a] {
				t.Errorf("neighbor %s: %s, uptime %s after reload (was %s): the session was reset", a, n.State, n.Uptime, up[a])
			}
		}
		if !added {
			t.Error("reload did not add neighbor 10.0.9.9")
		}
	})

	t.Run("a reload with a bad file is refused and changes nothing", func(t *testing.T) {
		pe1.WriteConfig(t, pe1Base+pe1VRFs+"bogus-key: 1\n")
		must(t, signalHUP(pe1.Proc.Pid()))
		must(t, peers.Eventually(ctx, func(context.Context) error {
			if !strings.Contains(pe1.Proc.LogTail(50), "bogus-key: unknown key") {
				return fmt.Errorf("no refusal logged")
			}
			return nil
		}))
		// Still the reloaded state: the fd00:1::/64 static stays withdrawn.
		pe2.WaitImported(t, ctx, "red",
			fmt.Sprintf("10.1.0.0/24 via 10.0.1.2 label %d rd 65000:1", red),
			fmt.Sprintf("10.11.0.0/24 via 10.0.1.2 label %d rd 65000:1", red))
		pe2.WaitImported(t, ctx, "blue")
	})
}
