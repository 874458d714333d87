package interop_test

// A CE's gobgpd, as the CE tests run it (ce_e2e, ce_passive, ce_bird):
// one IPv4 or IPv6 unicast session per PE address, each either passive
// (the PE opens CE sessions) or dialing the PE from the CE's own address
// (the PE's neighbor is passive), and the gobgp CLI to add routes and
// read the CE's best paths.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// ceGoBGPSession is one session of a CE's gobgpd with its PE (AS 65000):
// the PE's address, the one family it carries (ipv4, ipv6) and, when the
// CE dials, the CE's address it dials from; empty dialFrom makes the
// session passive.
type ceGoBGPSession struct {
	pe, family, dialFrom string
}

// ceGoBGPGlobal is a CE's gobgpd's global section: AS, router ID, and the
// port it listens on (-1: none).
const ceGoBGPGlobal = `[global.config]
  as = %d
  router-id = "%s"
  port = %d
`

// ceGoBGPNeighbor is one ceGoBGPSession: the PE's address, the transport
// line (passive-mode or local-address) and the family.
const ceGoBGPNeighbor = `[[neighbors]]
  [neighbors.config]
    neighbor-address = "%s"
    peer-as = 65000
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
  [neighbors.transport.config]
    %s
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "%s-unicast"
`

// ceGoBGPConf is a CE's gobgpd configuration with sessions. It listens on
// port 179 if any session is passive and not at all if every one dials.
func ceGoBGPConf(asn int, routerID string, sessions ...ceGoBGPSession) string {
	port := -1
	var b strings.Builder
	for _, s := range sessions {
		transport := `local-address = "` + s.dialFrom + `"`
		if s.dialFrom == "" {
			transport, port = "passive-mode = true", 179
		}
		fmt.Fprintf(&b, ceGoBGPNeighbor, s.pe, transport, s.family)
	}
	return fmt.Sprintf(ceGoBGPGlobal, asn, routerID, port) + b.String()
}

// ceSpeaker is a CE's gobgpd and its CLI.
type ceSpeaker struct {
	node *netns.Node
	cli  string
}

// startGoBGPCE starts a CE's gobgpd in node with sessions and waits until
// its API answers.
func startGoBGPCE(t *testing.T, ctx context.Context, node *netns.Node, asn int, routerID string, sessions ...ceGoBGPSession) *ceSpeaker {
	t.Helper()
	gobgpd, err := peers.Tool("gobgpd")
	must(t, err)
	cli, err := peers.Tool("gobgp")
	must(t, err)
	conf := filepath.Join(node.Lab().Dir(), node.Name()+"-gobgpd.toml")
	must(t, os.WriteFile(conf, []byte(ceGoBGPConf(asn, routerID, sessions...)), 0o644))
	_, err = node.StartCommand(netns.Command{Path: gobgpd, Args: []string{
		"-f", conf, "--config-strict", "-p", "--pprof-disable", "--api-hosts", "127.0.0.1:50051",
	}})
	must(t, err)
	c := &ceSpeaker{node: node, cli: cli}
	must(t, peers.Eventually(ctx, func(ctx context.Context) error {
		_, err := c.gobgp(ctx, "global")
		return err
	}))
	return c
}

// startCESpeaker starts a passive CE: IPv4 unicast with its PE's IPv4
// address pe and IPv6 unicast with its IPv6 one pe6, both opened by the
// PE.
func startCESpeaker(t *testing.T, ctx context.Context, node *netns.Node, asn int, routerID, pe, pe6 string) *ceSpeaker {
	t.Helper()
	return startGoBGPCE(t, ctx, node, asn, routerID, ceGoBGPSession{pe: pe, family: "ipv4"}, ceGoBGPSession{pe: pe6, family: "ipv6"})
}

func (c *ceSpeaker) gobgp(ctx context.Context, args ...string) ([]byte, error) {
	out, err := c.node.Exec(ctx, append([]string{c.cli, "-u", "127.0.0.1", "-p", "50051"}, args...)...)
	if err != nil {
		return out, fmt.Errorf("%s: gobgp %v: %w\n%s", c.node.Name(), args, err, out)
	}
	return out, nil
}

// ceBest is a CE's best IPv4 unicast path to a prefix.
type ceBest struct {
	NextHop netip.Addr
	ASPath  []uint32
}

// rib reads the CE's best unicast paths of family (ipv4, ipv6) from
// `gobgp -j global rib -a FAMILY`:
//
//	{"198.51.100.1/32": [{"nlri": {"prefix": "198.51.100.1/32"}, "best": true,
//	   "attrs": [{"type": 1, "value": 0},
//	             {"type": 2, "as_paths": [{"segment_type": 2, "num": 2, "asns": [65000, 65102]}]},
//	             {"type": 3, "nexthop": "10.1.0.1"}]}]}
//
// An IPv6 path's next hop is in its MP_REACH_NLRI (type 14) instead.
func (c *ceSpeaker) rib(ctx context.Context, family string) (map[string]ceBest, error) {
	out, err := c.gobgp(ctx, "-j", "global", "rib", "-a", family)
	if err != nil {
		return nil, err
	}
	var rib map[string][]struct {
		Best  bool `json:"best"`
		Attrs []struct {
			Type    int    `json:"type"`
			Nexthop string `json:"nexthop"`
			ASPaths []struct {
				ASNs []uint32 `json:"asns"`
			} `json:"as_paths"`
		} `json:"attrs"`
	}
	if err := json.Unmarshal(out, &rib); err != nil {
		return nil, fmt.Errorf("%s: gobgp rib json: %w\n%s", c.node.Name(), err, out)
	}
	res := map[string]ceBest{}
	for prefix, paths := range rib {
		for _, p := range paths {
			if !p.Best {
				continue
			}
			var b ceBest
			for _, a := range p.Attrs {
				switch a.Type {
				case 2:
					for _, seg := range a.ASPaths {
						b.ASPath = append(b.ASPath, seg.ASNs...)
					}
				case 3, 14:
					b.NextHop, _ = netip.ParseAddr(a.Nexthop)
				}
			}
			res[prefix] = b
		}
	}
	return res, nil
}
