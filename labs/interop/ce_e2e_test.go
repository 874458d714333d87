package interop_test

// CE sessions end to end: two Peregrine PEs (userspace dataplane, manual
// ESP keys as in TestE2E), one VRF, and behind each PE a gobgpd CE with
// eBGP to it, an IPv4 session announcing a /32 and an IPv6 session a
// /128 it holds on its loopback.
//
//	ce1 AS 65101                                             ce2 AS 65102
//	192.0.2.1/32, 2001:db8:c1::1/128 on lo                   198.51.100.1/32, 2001:db8:c2::1/128 on lo
//	10.1.0.2 ──eth0───ce1── pe1 ══ core (ESP) ══ pe2 ──ce3───eth0── 10.2.0.2
//	fd00:1::2        10.1.0.1   192.168.0.1  .2     10.2.0.1        fd00:2::2
//	                 fd00:1::1                      fd00:2::1
//
// pe1 allocates one label per VRF, pe2 one per prefix: traffic to ce2's
// prefixes leaves pe2's label table straight for the CE route (PopForward),
// traffic to ce1's is looked up in pe1's VRF table.
//
// gobgpd installs nothing in the kernel, so for the data plane each CE
// has a static default route via its PE: the routes under test are the
// PEs' (the CE's prefix in the near PE's VRF via the CE, and in the far
// PE's as a VPN route), not the CEs'.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const ceE2EConfig = `
router: {id: %[1]s, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  neighbors: [{address: %[2]s, asn: 65000, local-address: %[1]s, connect-retry: 1s, hold-time: 9s}]
vrfs:
  - name: red
    rd: '65000:%[3]d1'
    import-targets: ['65000:1']
    export-targets: ['65000:1']
    interfaces: [%[4]s]
    label-mode: %[10]s
    neighbors:
      - {address: %[5]s, asn: %[6]d, hold-time: 9s, keepalive: 3s}
      - {address: '%[9]s', asn: %[6]d, hold-time: 9s, keepalive: 3s}
ipsec:
  local-address: %[1]s
  tunnels:
    - remote: %[2]s
      out: {spi: %[7]d, cipher: aes128gcm16, key-file: out.key}
      in: {spi: %[8]d, cipher: aes128gcm16, key-file: in.key}
`

// pingFrom sends count echoes from src to dst and reports whether every
// one was answered.
func pingFrom(n *netns.Node, src, dst string, count int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count+5)*time.Second)
	defer cancel()
	out, err := n.Exec(ctx, "ping", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "1", "-I", src, dst)
	if err != nil {
		return fmt.Errorf("%s: ping -I %s %s: %v\n%s", n.Name(), src, dst, err, out)
	}
	return nil
}

// imported lists the non-local routes of a PE's VRF as "PREFIX via NH".
func imported(ctx context.Context, p *pe, vrf string) ([]string, error) {
	rs, err := p.Routes(ctx, vrf)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rs {
		if !r.Local {
			out = append(out, r.Prefix.String()+" via "+r.NextHop.String())
		}
	}
	slices.Sort(out)
	return out, nil
}

// newLabNodes makes a lab with a node per name, in order.
func newLabNodes(t *testing.T, names ...string) (*netns.Lab, []*netns.Node) {
	t.Helper()
	l := netns.NewLab(t)
	var ns []*netns.Node
	for _, name := range names {
		n, err := l.AddNode(name)
		must(t, err)
		ns = append(ns, n)
	}
	return l, ns
}

// ceLab is the CE lab drawn at the top of this file: both PEs running,
// the CEs' namespaces addressed, no CE speaker started yet.
type ceLab struct {
	pe1n, pe2n, ce1n, ce2n *netns.Node
	pe1, pe2               *pe
}

// buildCELab builds the CE lab. Each CE in staticDefault gets a default
// route via its PE for the data-plane checks: one whose speaker installs
// nothing in the kernel (gobgpd) needs it; one whose speaker does (BIRD's
// kernel protocol) must not have it, or the ping would not test its routes.
func buildCELab(t *testing.T, staticDefault ...string) *ceLab {
	t.Helper()
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun: the userspace dataplane needs TUN devices")
	}
	l, ns := newLabNodes(t, "pe1", "pe2", "ce1", "ce2")
	pe1n, pe2n, ce1n, ce2n := ns[0], ns[1], ns[2], ns[3]
	pelab.Link(t, l, pe1n, "core", "192.168.0.1/30", pe2n, "core", "192.168.0.2/30")
	pelab.Link(t, l, pe1n, "ce1", "10.1.0.1/24", ce1n, "eth0", "10.1.0.2/24")
	pelab.Link(t, l, pe2n, "ce3", "10.2.0.1/24", ce2n, "eth0", "10.2.0.2/24")
	must(t, pe1n.AddAddr("ce1", pfx("fd00:1::1/64")))
	must(t, ce1n.AddAddr("eth0", pfx("fd00:1::2/64")))
	must(t, pe2n.AddAddr("ce3", pfx("fd00:2::1/64")))
	must(t, ce2n.AddAddr("eth0", pfx("fd00:2::2/64")))
	for _, a := range []struct {
		n *netns.Node
		p string
	}{{ce1n, "192.0.2.1/32"}, {ce1n, "2001:db8:c1::1/128"}, {ce2n, "198.51.100.1/32"}, {ce2n, "2001:db8:c2::1/128"}} {
		must(t, a.n.AddAddr("lo", pfx(a.p)))
	}
	gateways := map[string][2]string{"ce1": {"10.1.0.1", "fd00:1::1"}, "ce2": {"10.2.0.1", "fd00:2::1"}}
	for _, ce := range []*netns.Node{ce1n, ce2n} {
		if gw := gateways[ce.Name()]; slices.Contains(staticDefault, ce.Name()) {
			pelab.MustExec(t, ce, "ip", "route", "add", "default", "via", gw[0])
			pelab.MustExec(t, ce, "ip", "-6", "route", "add", "default", "via", gw[1])
		}
	}

	pelab.WriteKeys(t, pe1n, pelab.KeyAB, pelab.KeyBA)
	pelab.WriteKeys(t, pe2n, pelab.KeyBA, pelab.KeyAB)
	return &ceLab{
		pe1n: pe1n, pe2n: pe2n, ce1n: ce1n, ce2n: ce2n,
		pe1: startPE(t, pe1n, fmt.Sprintf(ceE2EConfig, "192.168.0.1", "192.168.0.2", 1, "ce1", "10.1.0.2", 65101, 0x1001, 0x2001, "fd00:1::2", "per-vrf")),
		pe2: startPE(t, pe2n, fmt.Sprintf(ceE2EConfig, "192.168.0.2", "192.168.0.1", 2, "ce3", "10.2.0.2", 65102, 0x2001, 0x1001, "fd00:2::2", "per-prefix")),
	}
}

// pingLoopbacks pings between the CEs' loopbacks over IPv4 and IPv6,
// both ways, first from first (waiting for its routes to be ready).
func (l *ceLab) pingLoopbacks(t *testing.T, ctx context.Context, first *netns.Node) {
	t.Helper()
	lo := map[*netns.Node][2]string{l.ce1n: {"192.0.2.1", "2001:db8:c1::1"}, l.ce2n: {"198.51.100.1", "2001:db8:c2::1"}}
	other := l.ce2n
	if first == l.ce2n {
		other = l.ce1n
	}
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for fam := range 2 {
		src, dst := lo[first][fam], lo[other][fam]
		must(t, peers.Eventually(wait, func(context.Context) error { return pingFrom(first, src, dst, 1) }))
		must(t, pingFrom(first, src, dst, 5))
		must(t, pingFrom(other, dst, src, 5))
	}
}

func TestE2ECESessions(t *testing.T) {
	peers.RequireGoBGP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	lab := buildCELab(t, "ce1", "ce2")
	ce1n, ce2n, pe1, pe2 := lab.ce1n, lab.ce2n, lab.pe1, lab.pe2
	ce1 := startCESpeaker(t, ctx, ce1n, 65101, "10.255.0.1", "10.1.0.1", "fd00:1::1")
	ce2 := startCESpeaker(t, ctx, ce2n, 65102, "10.255.0.2", "10.2.0.1", "fd00:2::1")
	for _, a := range []struct {
		ce          *ceSpeaker
		fam, prefix string
	}{{ce1, "ipv4", "192.0.2.1/32"}, {ce1, "ipv6", "2001:db8:c1::1/128"}, {ce2, "ipv4", "198.51.100.1/32"}, {ce2, "ipv6", "2001:db8:c2::1/128"}} {
		_, err := a.ce.gobgp(ctx, "global", "rib", "-a", a.fam, "add", a.prefix)
		must(t, err)
	}

	t.Run("each CE learns the other site's prefix from its PE", func(t *testing.T) {
		for _, c := range []struct {
			ce          *ceSpeaker
			fam, prefix string
			pe          string
			origin      uint32
		}{
			{ce1, "ipv4", "198.51.100.1/32", "10.1.0.1", 65102}, {ce2, "ipv4", "192.0.2.1/32", "10.2.0.1", 65101},
			{ce1, "ipv6", "2001:db8:c2::1/128", "fd00:1::1", 65102}, {ce2, "ipv6", "2001:db8:c1::1/128", "fd00:2::1", 65101},
		} {
			var got ceBest
			err := peers.Eventually(ctx, func(ctx context.Context) error {
				rib, err := c.ce.rib(ctx, c.fam)
				if err != nil {
					return err
				}
				var ok bool
				if got, ok = rib[c.prefix]; !ok {
					return fmt.Errorf("%s: no %s in its RIB (%v)", c.ce.node.Name(), c.prefix, rib)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%v\npe1 log:\n%s\npe2 log:\n%s", err, pe1.Proc.LogTail(40), pe2.Proc.LogTail(40))
			}
			if got.NextHop != addr(c.pe) || !slices.Equal(got.ASPath, []uint32{65000, c.origin}) {
				t.Errorf("%s: %s via %s AS path %v; want via its PE %s, AS path [65000 %d]",
					c.ce.node.Name(), c.prefix, got.NextHop, got.ASPath, c.pe, c.origin)
			}
		}
	})

	t.Run("pe2 labels each CE prefix of its own", func(t *testing.T) {
		labels := map[string]uint32{}
		must(t, peers.Eventually(ctx, func(ctx context.Context) error {
			rs, err := pe1.Routes(ctx, "red")
			if err != nil {
				return err
			}
			for _, r := range rs {
				if !r.Local {
					labels[r.Prefix.String()] = r.Label
				}
			}
			if len(labels) < 3 {
				return fmt.Errorf("pe1 red imported %v, want pe2's connected and ce2's two prefixes", labels)
			}
			return nil
		}))
		a, b, c := labels["198.51.100.1/32"], labels["2001:db8:c2::1/128"], labels["10.2.0.0/24"]
		if a == 0 || b == 0 || a == b || a == c || b == c {
			t.Errorf("pe2's labels %v: want one per prefix (label-mode per-prefix)", labels)
		}
	})

	t.Run("ping between the CEs' loopbacks through both PEs", func(t *testing.T) {
		lab.pingLoopbacks(t, ctx, ce1n)
	})

	t.Run("a CE's withdrawal leaves the far PE and the ping fails", func(t *testing.T) {
		if got, err := imported(ctx, pe1, "red"); err != nil || !slices.Contains(got, "198.51.100.1/32 via 192.168.0.2") {
			t.Fatalf("pe1 red before the withdrawal: %v, %v", got, err)
		}
		_, err := ce2.gobgp(ctx, "global", "rib", "-a", "ipv4", "del", "198.51.100.1/32")
		must(t, err)
		must(t, peers.Eventually(ctx, func(ctx context.Context) error {
			got, err := imported(ctx, pe1, "red")
			if err != nil {
				return err
			}
			if slices.Contains(got, "198.51.100.1/32 via 192.168.0.2") {
				return fmt.Errorf("pe1 red still has 198.51.100.1/32: %v", got)
			}
			return nil
		}))
		must(t, peers.Eventually(ctx, func(ctx context.Context) error {
			rib, err := ce1.rib(ctx, "ipv4")
			if err != nil {
				return err
			}
			if _, ok := rib["198.51.100.1/32"]; ok {
				return fmt.Errorf("ce1 still has 198.51.100.1/32")
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
