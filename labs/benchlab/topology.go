package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// The lab's addresses: private test ranges that exist only inside the
// lab's namespaces, which have no link to the host or anywhere else.
var (
	ce1Net  = netip.MustParsePrefix("10.1.0.0/24")
	ce2Net  = netip.MustParsePrefix("10.2.0.0/24")
	coreNet = netip.MustParsePrefix("192.168.255.0/30")
	pe1Core = netip.MustParseAddr("192.168.255.1")
	pe2Core = netip.MustParseAddr("192.168.255.2")
	ce2Addr = netip.MustParseAddr("10.2.0.2") // the iperf3 server
)

// coreName is each PE's interface on the core link.
const coreName = "core"

// vethMTU is every veth's MTU, CE links and core alike, in every variant.
// It is set explicitly rather than trusted to the default so that a change
// of kernel default cannot make one run differ from another.
const vethMTU = 1500

// pe is what a variant needs to know of one provider edge.
type pe struct {
	node  *netns.Node
	ceIf  string       // the PE's interface towards its CE ("ce1")
	ceNet netip.Prefix // the CE subnet behind it
	core  netip.Addr   // its address on the core link
}

// topology is one freshly built lab: ce1 -- pe1 == core == pe2 -- ce2.
// Every run gets its own, built by the same code, so that no variant
// inherits state (routes, TUN devices, daemons) from another and all see
// the same veths, MTUs and (kernel default) offload settings.
type topology struct {
	lab      *netns.Lab
	ce1, ce2 *netns.Node
	pe1, pe2 pe
	// daemons are the variant's processes whose CPU time is measured
	// over each iperf3 run (peregrined in both PEs), if any.
	daemons []*netns.Process
	// saSocket is pe1's peregrined control socket, if any: after the
	// runs, its outbound SAs' packets go into the report (saspread.go).
	saSocket string
	// cleanups run after the lab is closed, for state outside the
	// namespaces (wireguard-go's UAPI sockets).
	cleanups []func()
}

// buildTopology creates the namespaces, links and addresses, and turns on
// IPv4 forwarding in both PEs. It installs no route between the CE
// subnets: that is each variant's job, so a CE reaches the other only
// through the variant under test.
func buildTopology(ctx context.Context, log *slog.Logger) (t *topology, err error) {
	lab, err := netns.New(log)
	if err != nil {
		return nil, err
	}
	t = &topology{lab: lab}
	defer func() {
		if err != nil {
			t.close(log)
			t = nil
		}
	}()
	nodes := map[string]*netns.Node{}
	for _, name := range []string{"ce1", "pe1", "pe2", "ce2"} {
		if nodes[name], err = lab.AddNode(name); err != nil {
			return t, err
		}
	}
	t.ce1, t.ce2 = nodes["ce1"], nodes["ce2"]
	t.pe1 = pe{node: nodes["pe1"], ceIf: "ce1", ceNet: ce1Net, core: pe1Core}
	t.pe2 = pe{node: nodes["pe2"], ceIf: "ce2", ceNet: ce2Net, core: pe2Core}

	for _, s := range []struct {
		ce *netns.Node
		pe pe
	}{{t.ce1, t.pe1}, {t.ce2, t.pe2}} {
		gw := hostAddr(s.pe.ceNet, 1)
		if err := link(ctx, lab, s.ce, "eth0", prefixOf(hostAddr(s.pe.ceNet, 2), s.pe.ceNet),
			s.pe.node, s.pe.ceIf, prefixOf(gw, s.pe.ceNet)); err != nil {
			return t, err
		}
		if _, err := s.ce.Exec(ctx, "ip", "route", "add", "default", "via", gw.String()); err != nil {
			return t, err
		}
		if _, err := s.pe.node.Exec(ctx, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return t, err
		}
	}
	err = link(ctx, lab, t.pe1.node, coreName, prefixOf(pe1Core, coreNet),
		t.pe2.node, coreName, prefixOf(pe2Core, coreNet))
	return t, err
}

// link joins a and b with a veth pair at vethMTU and addresses both ends.
func link(ctx context.Context, lab *netns.Lab, a *netns.Node, aIf string, aAddr netip.Prefix, b *netns.Node, bIf string, bAddr netip.Prefix) error {
	if err := lab.Link(a, aIf, b, bIf); err != nil {
		return err
	}
	for _, e := range []struct {
		n    *netns.Node
		ifn  string
		addr netip.Prefix
	}{{a, aIf, aAddr}, {b, bIf, bAddr}} {
		if _, err := e.n.Exec(ctx, "ip", "link", "set", "dev", e.ifn, "mtu", strconv.Itoa(vethMTU)); err != nil {
			return err
		}
		if err := e.n.AddAddr(e.ifn, e.addr); err != nil {
			return err
		}
	}
	return nil
}

// hostAddr returns the n-th address of p (n=1 is the first after the
// network address).
func hostAddr(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

func prefixOf(a netip.Addr, p netip.Prefix) netip.Prefix {
	return netip.PrefixFrom(a, p.Bits())
}

// close tears the lab down (processes, namespaces, directory), then runs
// the cleanups. Errors are logged: there is nothing else to do with them.
func (t *topology) close(log *slog.Logger) {
	if err := t.lab.Close(); err != nil {
		log.Warn("closing lab", "err", err)
	}
	for _, f := range t.cleanups {
		f()
	}
}

// ping sends one echo request from ce1 to ce2 and reports whether it was
// answered within a second.
func (t *topology) ping(ctx context.Context) error {
	_, err := t.ce1.Exec(ctx, "ping", "-n", "-q", "-c", "1", "-W", "1", ce2Addr.String())
	return err
}

// checkNoPath fails if ce1 already reaches ce2 before a variant has set up
// its path: then the figure would not be the variant's.
func (t *topology) checkNoPath(ctx context.Context) error {
	if t.ping(ctx) == nil {
		return errors.New("ce1 reaches ce2 before any variant is configured; refusing to measure")
	}
	return ctx.Err()
}

// waitReachable polls until ce1 reaches ce2 or timeout passes.
func (t *topology) waitReachable(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := peers.Eventually(ctx, t.ping)
	if err != nil {
		return fmt.Errorf("ce1 cannot reach ce2 (%s) within %v: %w", ce2Addr, timeout, err)
	}
	return nil
}

// tunDevice is a TUN interface found in a PE, for reporting its MTU.
type tunDevice struct {
	Name string
	MTU  int
}

// tunDevices lists the TUN interfaces in node (`ip -d -j link show`), so
// the report can say which MTU a userspace dataplane chose.
func tunDevices(ctx context.Context, node *netns.Node) ([]tunDevice, error) {
	out, err := node.Exec(ctx, "ip", "-d", "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	return parseTunDevices(out)
}

func parseTunDevices(out []byte) ([]tunDevice, error) {
	var links []struct {
		Name     string `json:"ifname"`
		MTU      int    `json:"mtu"`
		LinkInfo struct {
			Kind string `json:"info_kind"`
		} `json:"linkinfo"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("ip -j link show: %w", err)
	}
	var tuns []tunDevice
	for _, l := range links {
		if l.LinkInfo.Kind == "tun" {
			tuns = append(tuns, tunDevice{l.Name, l.MTU})
		}
	}
	return tuns, nil
}
