package interop_test

// max-prefixes against BIRD: one PE, two VRFs, a CE in each.
//
//	ce1 gobgpd AS 65101 ──ceg── pe1 ──ceb── ce2 BIRD 2 AS 65102
//	10.1.0.2   vrf blue  10.1.0.1   10.2.0.1  vrf red (max-prefixes 3)   10.2.0.2
//
// BIRD announces four IPv4 prefixes, one over red's max-prefixes: pe1
// closes the session with a Cease, subcode 1 (RFC 4486), which BIRD must
// report as received; blue's session and routes must not notice.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const ceMaxPrefixConfig = `
router: {id: 10.255.255.1, asn: 65000}
log: {level: debug}
bgp: {api: ''}
vrfs:
  - name: red
    rd: '65000:1'
    import-targets: ['65000:1']
    export-targets: ['65000:1']
    interfaces: [ceb]
    neighbors: [{address: 10.2.0.2, asn: 65102, hold-time: 9s, keepalive: 3s, max-prefixes: 3}]
  - name: blue
    rd: '65000:2'
    import-targets: ['65000:2']
    export-targets: ['65000:2']
    interfaces: [ceg]
    neighbors: [{address: 10.1.0.2, asn: 65101, hold-time: 9s, keepalive: 3s}]
`

func TestE2EBIRDCEMaxPrefixes(t *testing.T) {
	peers.RequireBIRD(t)
	peers.RequireGoBGP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, ns := newLabNodes(t, "pe1", "ce1", "ce2")
	pe1n, ce1n, ce2n := ns[0], ns[1], ns[2]
	pelab.Link(t, l, pe1n, "ceg", "10.1.0.1/24", ce1n, "eth0", "10.1.0.2/24")
	pelab.Link(t, l, pe1n, "ceb", "10.2.0.1/24", ce2n, "eth0", "10.2.0.2/24")
	must(t, ce2n.AddAddr("eth0", pfx("fd00:2::2/64")))
	pe1 := startPE(t, pe1n, ceMaxPrefixConfig)
	ce1 := startCESpeaker(t, ctx, ce1n, 65101, "10.255.0.1", "10.1.0.1", "fd00:1::1")
	_, err := ce1.gobgp(ctx, "global", "rib", "-a", "ipv4", "add", "192.0.2.1/32")
	must(t, err)
	waitBlue := func() {
		t.Helper()
		err := peers.Eventually(ctx, func(ctx context.Context) error {
			rs, err := pe1.Routes(ctx, "blue")
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(rs, func(r apiRoute) bool { return r.Prefix == pfx("192.0.2.1/32") }) {
				return fmt.Errorf("pe1 blue has no 192.0.2.1/32 via ce1: %+v", rs)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v\npe1 log:\n%s", err, pe1.Proc.LogTail(30))
		}
	}
	waitBlue()
	blueBefore := ceNeighbors(t, ctx, pe1, "blue")

	bird := startCEBIRD(t, ctx, ce2n, fmt.Sprintf(ceBIRDConf, "10.255.0.2", 65102, 65000,
		birdBlackholes("198.51.100.1/32", "198.51.100.2/32", "198.51.100.3/32", "198.51.100.4/32"),
		"2001:db8:c2::1/128", "10.2.0.2", "10.2.0.1", "fd00:2::2", "fd00:2::1"))

	var last string
	err = peers.Eventually(ctx, func(ctx context.Context) error {
		out, err := bird.birdc(ctx, "show", "protocols", "all", "pe4")
		if err != nil {
			return err
		}
		last = string(out)
		if !strings.Contains(last, "Received: Maximum number of prefixes reached") {
			return fmt.Errorf("bird pe4 reports no Cease subcode 1 received")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v:\n%s\npe1 log:\n%s", err, last, pe1.Proc.LogTail(30))
	}
	rs, err := pe1.Routes(ctx, "red")
	must(t, err)
	for _, r := range rs {
		if strings.HasPrefix(r.Prefix.String(), "198.51.100.") {
			t.Errorf("pe1 red kept %s from the closed session", r.Prefix)
		}
	}
	waitBlue()
	rib, err := ce1.rib(ctx, "ipv4")
	must(t, err)
	for p := range rib {
		if strings.HasPrefix(p, "198.51.100.") {
			t.Errorf("ce1 in blue got red's %s", p)
		}
	}
	blueAfter := ceNeighbors(t, ctx, pe1, "blue")
	if len(blueBefore) != 1 || len(blueAfter) != 1 || blueAfter[0].State != blueBefore[0].State || blueAfter[0].Uptime < blueBefore[0].Uptime {
		t.Errorf("blue's CE session before red's Cease %+v, after %+v: want it unchanged and its uptime not reset", blueBefore, blueAfter)
	}
	red := ceNeighbors(t, ctx, pe1, "red")
	if len(red) != 1 || !strings.Contains(red[0].Reason, "max-prefixes 3") {
		t.Errorf("red's CE session %+v: want its reason to name max-prefixes 3", red)
	}
}

// ceNeighbors reads a VRF's CE sessions from the PE's local API.
func ceNeighbors(t *testing.T, ctx context.Context, p *pe, vrf string) []apiNeighbor {
	t.Helper()
	var ns []apiNeighbor
	must(t, p.Get(ctx, "/v1/bgp/vrfs/"+vrf+"/neighbors", &ns))
	return ns
}
