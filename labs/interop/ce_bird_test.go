package interop_test

// BIRD 2 as a CE: the CE lab of ce_e2e_test.go with ce2 running BIRD
// instead of gobgpd (ce1 keeps gobgpd), so one test has both CEs:
//
//	ce1 gobgpd AS 65101 ── pe1 ══ ESP ══ pe2 ── ce2 BIRD 2 AS 65102
//	static default via pe1                      no static route: BIRD's
//	                                            kernel protocol installs
//	                                            what it learns from pe2
//
// BIRD runs eBGP to pe2 over IPv4 (ipv4 channel) and IPv6 (ipv6
// channel), originates its loopback prefixes from static protocols and
// exports only BGP routes into ce2's kernel table, so the pings from
// ce2 go where BIRD's routes say.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// ceBIRDConf is a CE's bird.conf: device, and direct for the PE link
// only (a direct route for the loopback /32 would win over the static one
// by preference, and the BGP export filter would drop it),
// kernel protocols that install BGP routes (and nothing else) into the
// main tables, a static protocol per family for the CE's own prefixes and
// one eBGP session per family, passive as the gobgpd CEs are. eBGP
// channels need explicit filters (RFC 8212).
const ceBIRDConf = `log stderr all;
router id %[1]s;
protocol device {}
protocol direct { ipv4; ipv6; interface "eth0"; }
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol kernel { ipv6 { import none; export where source = RTS_BGP; }; }
protocol static static4 { ipv4;%[4]s }
protocol static static6 { ipv6; route %[5]s blackhole; }
protocol bgp pe4 {
  local %[6]s as %[2]d; neighbor %[7]s as %[3]d; passive on;
  hold time 9; keepalive time 3; connect retry time 1; error wait time 1, 5;
  ipv4 { import all; export where proto = "static4"; };
}
protocol bgp pe6 {
  local %[8]s as %[2]d; neighbor %[9]s as %[3]d; passive on;
  hold time 9; keepalive time 3; connect retry time 1; error wait time 1, 5;
  ipv6 { import all; export where proto = "static6"; };
}
`

// birdBlackholes is a static protocol's body that originates prefixes.
func birdBlackholes(prefixes ...string) string {
	var sb strings.Builder
	for _, p := range prefixes {
		fmt.Fprintf(&sb, " route %s blackhole;", p)
	}
	return sb.String()
}

// ceBIRD is a CE's BIRD and its control socket.
type ceBIRD struct {
	node *netns.Node
	sock string
}

func startCEBIRD(t *testing.T, ctx context.Context, node *netns.Node, conf string) *ceBIRD {
	t.Helper()
	dir := node.Lab().Dir()
	path := filepath.Join(dir, node.Name()+"-bird.conf")
	must(t, os.WriteFile(path, []byte(conf), 0o644))
	b := &ceBIRD{node: node, sock: filepath.Join(dir, node.Name()+"-bird.ctl")}
	_, err := node.StartCommand(netns.Command{Path: peers.DefaultBird, Args: []string{
		"-f", "-c", path, "-s", b.sock, "-P", filepath.Join(dir, node.Name()+"-bird.pid"),
	}})
	must(t, err)
	must(t, peers.Eventually(ctx, func(ctx context.Context) error {
		_, err := b.birdc(ctx, "show", "status")
		return err
	}))
	return b
}

// birdc runs one birdc command; the control socket is a file, so birdc
// runs on the host.
func (b *ceBIRD) birdc(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, peers.DefaultBirdc, append([]string{"-s", b.sock}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: birdc %v: %w\n%s", b.node.Name(), args, err, out)
	}
	return out, nil
}

// ceBIRDRoute is what `birdc show route PREFIX all` says of a prefix's best
// path.
type ceBIRDRoute struct {
	Proto   string // the protocol it came from ("pe4")
	Via     string // the gateway of its first "via" line
	ASPath  string // BGP.as_path, space separated
	Primary bool   // "*": the best path, the one exported to the kernel
}

// parseBIRDCERoute reads the first path of `birdc show route PREFIX all`:
//
//	BIRD 2.0.12 ready.
//	Table master4:
//	192.0.2.1/32         unicast [pe4 22:31:02.117] * (100) [AS65101i]
//		via 10.2.0.1 on eth0
//		Type: BGP univ
//		BGP.origin: IGP
//		BGP.as_path: 65000 65101
//		BGP.next_hop: 10.2.0.1
//
// ok is false when the output names no path ("Network not found").
func parseBIRDCERoute(text []byte) (r ceBIRDRoute, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case !ok && len(f) >= 3 && strings.Contains(f[0], "/") && strings.HasPrefix(f[2], "["):
			r.Proto, r.Primary, ok = strings.TrimPrefix(f[2], "["), slices.Contains(f, "*"), true
		case ok && line != "" && line[0] != '\t':
			return r, ok // the next net or path
		case ok && len(f) >= 2 && f[0] == "via" && r.Via == "":
			r.Via = f[1]
		case ok && len(f) >= 1 && f[0] == "BGP.as_path:":
			r.ASPath = strings.Join(f[1:], " ")
		}
	}
	return r, ok
}

// route returns BIRD's best path to prefix, or an error if it has none.
func (b *ceBIRD) route(ctx context.Context, prefix string) (ceBIRDRoute, error) {
	out, err := b.birdc(ctx, "show", "route", prefix, "all")
	if err != nil {
		return ceBIRDRoute{}, err
	}
	r, ok := parseBIRDCERoute(out)
	if !ok {
		return r, fmt.Errorf("%s: bird has no %s:\n%s", b.node.Name(), prefix, out)
	}
	return r, nil
}

// kernelRoute is one route of `ip -j route show PREFIX`.
type kernelRoute struct {
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
}

func kernelRoutes(ctx context.Context, n *netns.Node, prefix string) ([]kernelRoute, error) {
	fam := "-4"
	if strings.Contains(prefix, ":") {
		fam = "-6"
	}
	out, err := n.Exec(ctx, "ip", "-j", fam, "route", "show", prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: ip route show %s: %w\n%s", n.Name(), prefix, err, out)
	}
	var rs []kernelRoute
	if err := json.Unmarshal(out, &rs); err != nil {
		return nil, fmt.Errorf("%s: ip -j route json: %w\n%s", n.Name(), err, out)
	}
	return rs, nil
}

func TestE2EBIRDCE(t *testing.T) {
	peers.RequireBIRD(t)
	peers.RequireGoBGP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	lab := buildCELab(t, "ce1")
	ce1n, ce2n, pe1, pe2 := lab.ce1n, lab.ce2n, lab.pe1, lab.pe2
	ce1 := startCESpeaker(t, ctx, ce1n, 65101, "10.255.0.1", "10.1.0.1", "fd00:1::1")
	bird := startCEBIRD(t, ctx, ce2n, fmt.Sprintf(ceBIRDConf, "10.255.0.2", 65102, 65000,
		birdBlackholes("198.51.100.1/32"), "2001:db8:c2::1/128", "10.2.0.2", "10.2.0.1", "fd00:2::2", "fd00:2::1"))
	for _, a := range [][2]string{{"ipv4", "192.0.2.1/32"}, {"ipv6", "2001:db8:c1::1/128"}} {
		_, err := ce1.gobgp(ctx, "global", "rib", "-a", a[0], "add", a[1])
		must(t, err)
	}
	logs := func() string {
		return fmt.Sprintf("pe1 log:\n%s\npe2 log:\n%s", pe1.Proc.LogTail(30), pe2.Proc.LogTail(30))
	}

	t.Run("BIRD learns the far site's prefixes from its PE and installs them", func(t *testing.T) {
		for _, c := range []struct{ prefix, proto, pe string }{
			{"192.0.2.1/32", "pe4", "10.2.0.1"}, {"2001:db8:c1::1/128", "pe6", "fd00:2::1"},
		} {
			var got ceBIRDRoute
			err := peers.Eventually(ctx, func(ctx context.Context) error {
				var err error
				got, err = bird.route(ctx, c.prefix)
				return err
			})
			if err != nil {
				t.Fatalf("%v\n%s", err, logs())
			}
			if got.Proto != c.proto || !got.Primary || got.ASPath != "65000 65101" {
				t.Errorf("bird: %s from %s primary %v AS path %q; want the best path from %s, AS path \"65000 65101\"",
					c.prefix, got.Proto, got.Primary, got.ASPath, c.proto)
			}
			var krs []kernelRoute
			err = peers.Eventually(ctx, func(ctx context.Context) error {
				var err error
				if krs, err = kernelRoutes(ctx, ce2n, c.prefix); err == nil && len(krs) == 0 {
					err = fmt.Errorf("ce2's kernel has no %s", c.prefix)
				}
				return err
			})
			must(t, err)
			if k := krs[0]; k.Protocol != "bird" || k.Dev != "eth0" || (k.Gateway != c.pe && !strings.HasPrefix(k.Gateway, "fe80:")) {
				t.Errorf("ce2 kernel: %s %+v; want proto bird via %s (or its link-local) dev eth0", c.prefix, k, c.pe)
			}
		}
	})

	t.Run("the far PE learns BIRD's prefixes and gobgpd gets them", func(t *testing.T) {
		must(t, peers.Eventually(ctx, func(ctx context.Context) error {
			got, err := imported(ctx, pe1, "red")
			if err != nil {
				return err
			}
			var n int
			for _, r := range got {
				if strings.HasPrefix(r, "198.51.100.1/32 via ") || strings.HasPrefix(r, "2001:db8:c2::1/128 via ") {
					n++
				}
			}
			if n != 2 {
				return fmt.Errorf("pe1 red imported %v, want BIRD's 198.51.100.1/32 and 2001:db8:c2::1/128", got)
			}
			return nil
		}))
		for _, c := range [][2]string{{"ipv4", "198.51.100.1/32"}, {"ipv6", "2001:db8:c2::1/128"}} {
			must(t, peers.Eventually(ctx, func(ctx context.Context) error {
				rib, err := ce1.rib(ctx, c[0])
				if err != nil {
					return err
				}
				if b, ok := rib[c[1]]; !ok || !slices.Equal(b.ASPath, []uint32{65000, 65102}) {
					return fmt.Errorf("ce1: %s is %+v (present %v), want AS path [65000 65102]", c[1], b, ok)
				}
				return nil
			}))
		}
	})

	t.Run("ping between gobgpd's and BIRD's loopbacks", func(t *testing.T) {
		lab.pingLoopbacks(t, ctx, ce2n)
	})

	t.Run("BIRD disabling its static protocol withdraws the prefix at the far PE", func(t *testing.T) {
		out, err := bird.birdc(ctx, "disable", "static4")
		must(t, err)
		if !strings.Contains(string(out), "disabled") {
			t.Fatalf("birdc disable static4: %s", out)
		}
		must(t, peers.Eventually(ctx, func(ctx context.Context) error {
			got, err := imported(ctx, pe1, "red")
			if err != nil {
				return err
			}
			if slices.ContainsFunc(got, func(r string) bool { return strings.HasPrefix(r, "198.51.100.1/32 ") }) {
				return fmt.Errorf("pe1 red still has 198.51.100.1/32: %v", got)
			}
			if !slices.ContainsFunc(got, func(r string) bool { return strings.HasPrefix(r, "2001:db8:c2::1/128 ") }) {
				return fmt.Errorf("pe1 red lost BIRD's IPv6 prefix with the IPv4 one: %v", got)
			}
			return nil
		}))
		if err := pingFrom(ce1n, "192.0.2.1", "198.51.100.1", 2); err == nil {
			t.Error("ping to the withdrawn prefix still answered")
		}
		if err := pingFrom(ce1n, "2001:db8:c1::1", "2001:db8:c2::1", 2); err != nil {
			t.Errorf("the IPv6 prefix went with the IPv4 one: %v", err)
		}
	})
}
