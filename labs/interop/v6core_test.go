package interop_test

// Two Peregrine PEs and an FRR route reflector on an IPv6-only core.
// Nothing on the core has an IPv4 address; the PEs' configs
// leave bgp.listen-address out, as a new user's would.
//
//	ce-red-1  10.1.0.2 ─ce1┐                                                  ┌ce3─ 10.2.0.2 ce-red-2
//	          fd00:1::2    │ pe1 fd00:c1::1 ── rr-pe1 fd00:c1::2               │     fd00:2::2
//	ce-blue-1 10.1.0.2 ─ce2┘                    rr: FRR route reflector,       └ce4─ 10.2.0.2 ce-blue-2
//	          fd00:1::2            pe2 fd00:c2::1 ── rr-pe2 fd00:c2::2, routes IPv6 fd00:2::2
//
// The RR forwards the core's IPv6 between its two links. VPNv4 and VPNv6
// routes carry the PEs' IPv6 addresses as next hops (VPNv4: RFC 8950's
// extended next hop); CE traffic of both families crosses in ESP over
// IPv6 (UDP 4500).

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/pcap"
	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const v6coreConfig = `
router: {id: %[1]s, asn: 65000}
bgp:
  api: ''
  neighbors: [{address: '%[3]s', asn: 65000, local-address: '%[2]s', connect-retry: 1s, hold-time: 9s}]
vrfs:
  - {name: red, rd: '65000:%[4]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [%[5]s]}
  - {name: blue, rd: '65000:%[4]d2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [%[6]s]}
ipsec:
  local-address: '%[2]s'
  tunnels:
    - remote: '%[7]s'
      out: {spi: %[8]d, cipher: aes128gcm16, key-file: out.key}
      in: {spi: %[9]d, cipher: aes128gcm16, key-file: in.key}
`

func TestIPv6Core(t *testing.T) {
	peers.RequireFRR(t)
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun: the userspace dataplane needs TUN devices")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	l := netns.NewLab(t)
	node := func(name string) *netns.Node {
		n, err := l.AddNode(name)
		must(t, err)
		return n
	}
	rr, pe1, pe2 := node("rr"), node("pe1"), node("pe2")
	pelab.Link(t, l, pe1, "core", "fd00:c1::1/64", rr, "rr-pe1", "fd00:c1::2/64")
	pelab.Link(t, l, pe2, "core", "fd00:c2::1/64", rr, "rr-pe2", "fd00:c2::2/64")
	pelab.MustExec(t, rr, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	pelab.MustExec(t, pe1, "ip", "-6", "route", "add", "fd00:c2::/64", "via", "fd00:c1::2")
	pelab.MustExec(t, pe2, "ip", "-6", "route", "add", "fd00:c1::/64", "via", "fd00:c2::2")
	ce := map[string]*netns.Node{}
	for _, c := range []struct {
		name, peIf, subnet string
		pe                 *netns.Node
	}{
		{"ce-red-1", "ce1", "1", pe1}, {"ce-blue-1", "ce2", "1", pe1},
		{"ce-red-2", "ce3", "2", pe2}, {"ce-blue-2", "ce4", "2", pe2},
	} {
		n := node(c.name)
		ce[c.name] = n
		pelab.Link(t, l, c.pe, c.peIf, "10."+c.subnet+".0.1/24", n, "eth0", "10."+c.subnet+".0.2/24")
		must(t, c.pe.AddAddr(c.peIf, pfx("fd00:"+c.subnet+"::1/64")))
		must(t, n.AddAddr("eth0", pfx("fd00:"+c.subnet+"::2/64")))
		pelab.MustExec(t, n, "ip", "route", "add", "default", "via", "10."+c.subnet+".0.1")
		pelab.MustExec(t, n, "ip", "-6", "route", "add", "default", "via", "fd00:"+c.subnet+"::1")
	}
	capture := filepath.Join(l.Dir(), "core.pcap")
	if _, err := pe1.Start("tcpdump", "-i", "core", "-U", "-w", capture); err != nil {
		t.Skipf("tcpdump: %v", err)
	}

	pelab.WriteKeys(t, pe1, pelab.KeyAB, pelab.KeyBA)
	pelab.WriteKeys(t, pe2, pelab.KeyBA, pelab.KeyAB)
	cfg1 := fmt.Sprintf(v6coreConfig, "10.0.0.11", "fd00:c1::1", "fd00:c1::2", 1, "ce1", "ce2", "fd00:c2::1", 0x1001, 0x2001)
	cfg2 := fmt.Sprintf(v6coreConfig, "10.0.0.12", "fd00:c2::1", "fd00:c2::2", 2, "ce3", "ce4", "fd00:c1::1", 0x2001, 0x1001)
	if strings.Contains(cfg1, "listen-address") {
		t.Fatal("the point is a config without listen-address")
	}
	p1, p2 := startPE(t, pe1, cfg1), startPE(t, pe2, cfg2)

	t.Run("before the RR runs, show bgp summary says why the session is down", func(t *testing.T) {
		want := "connection refused"
		must(t, peers.Eventually(ctx, func(ctx context.Context) error {
			ns, err := p1.Neighbors(ctx)
			if err != nil {
				return err
			}
			if len(ns) != 1 || ns[0].State == "established" || !strings.Contains(ns[0].Reason, want) {
				return fmt.Errorf("pe1 neighbors %+v: want one, down, reason containing %q", ns, want)
			}
			return nil
		}))
		if log := p1.Proc.LogTail(200); !strings.Contains(log, `msg="neighbor cannot connect"`) || !strings.Contains(log, `neighbor=fd00:c1::2 reason="connection refused`) {
			t.Errorf("pe1's log does not say why:\n%s", p1.Proc.LogTail(40))
		}
	})

	frr, err := peers.StartFRR(ctx, rr, peers.FRRConfig{Config: peers.Config{
		RouterID: addr("10.0.0.1"), ASN: 65000,
		Neighbors: []peers.NeighborConfig{
			{Address: addr("fd00:c1::1"), RemoteAS: 65000, LocalAddress: addr("fd00:c1::2"), RRClient: true, ExtendedNextHop: true},
			{Address: addr("fd00:c2::1"), RemoteAS: 65000, LocalAddress: addr("fd00:c2::2"), RRClient: true, ExtendedNextHop: true},
		},
	}})
	must(t, err)

	t.Run("sessions up over IPv6 with no listen-address configured", func(t *testing.T) {
		must(t, peers.WaitEstablished(ctx, frr, addr("fd00:c1::1"), addr("fd00:c2::1")))
		for _, p := range []*pe{p1, p2} {
			must(t, peers.Eventually(ctx, func(ctx context.Context) error {
				ns, err := p.Neighbors(ctx)
				if err != nil {
					return err
				}
				if len(ns) != 1 || ns[0].State != "established" || ns[0].Reason != "" {
					return fmt.Errorf("%s neighbors %+v: want one, established, no reason", p.Name, ns)
				}
				return nil
			}))
		}
	})

	t.Run("VPNv4 and VPNv6 routes carry IPv6 next hops", func(t *testing.T) {
		p1.WaitImported(t, ctx, "red", "10.2.0.0/24 via fd00:c2::1 label * rd 65000:21", "fd00:2::/64 via fd00:c2::1 label * rd 65000:21")
		p1.WaitImported(t, ctx, "blue", "10.2.0.0/24 via fd00:c2::1 label * rd 65000:22", "fd00:2::/64 via fd00:c2::1 label * rd 65000:22")
		p2.WaitImported(t, ctx, "red", "10.1.0.0/24 via fd00:c1::1 label * rd 65000:11", "fd00:1::/64 via fd00:c1::1 label * rd 65000:11")
		p2.WaitImported(t, ctx, "blue", "10.1.0.0/24 via fd00:c1::1 label * rd 65000:12", "fd00:1::/64 via fd00:c1::1 label * rd 65000:12")
		// The reflector, an independent decoder, read the VPNv4 next hop as IPv6.
		waitRoutes(t, ctx, frr, peers.VPNRoute{RD: "65000:11", Prefix: pfx("10.1.0.0/24"), NextHop: addr("fd00:c1::1"), RTs: []string{"65000:1"}})
	})

	t.Run("CEs ping in both VRFs, IPv4 and IPv6", func(t *testing.T) {
		pelab.PingAcross(t, ctx, ce, 5)
	})

	t.Run("nothing in clear on the core: only ESP over IPv6, BGP and ND", func(t *testing.T) {
		checkCoreCapture(t, capture, 0x1001, 0x2001)
		checkIPv6OnlyCore(t, capture)
	})
}

// checkIPv6OnlyCore reads the core link's capture: every frame must be
// IPv6 carrying ESP (raw or in UDP 4500), BGP (TCP port 179) or ICMPv6
// (neighbour discovery and MLD, behind a hop-by-hop header, and the errors
// a router may send). Anything else,
// IPv4 above all, means something left the tunnels or the core is not the
// IPv6-only one the test built.
func checkIPv6OnlyCore(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	r, err := pcap.NewReader(f)
	must(t, err)
	counts := map[string]int{}
	for {
		_, data, err := r.ReadPacket()
		if err != nil {
			break
		}
		if r.LinkType() != pcap.LinkTypeEthernet || len(data) < 14 {
			t.Fatalf("capture link type %d: want Ethernet", r.LinkType())
		}
		if et := binary.BigEndian.Uint16(data[12:14]); et != 0x86dd {
			t.Errorf("frame with EtherType 0x%04x on an IPv6-only core: % x", et, data[:min(len(data), 64)])
			continue
		}
		ip := data[14:]
		if _, ok := espSPI(ip); ok {
			counts["esp"]++
			continue
		}
		if len(ip) < 44 {
			t.Errorf("short IPv6 packet: % x", ip)
			continue
		}
		next, l4 := ip[6], ip[40:]
		if next == 0 && len(l4) >= 8 && len(l4) >= int(l4[1]+1)*8 { // hop-by-hop options: MLD's router alert
			next, l4 = l4[0], l4[int(l4[1]+1)*8:]
		}
		switch next {
		case 58:
			counts["icmpv6"]++
		case 6:
			if binary.BigEndian.Uint16(l4[0:2]) == 179 || binary.BigEndian.Uint16(l4[2:4]) == 179 {
				counts["bgp"]++
				continue
			}
			t.Errorf("TCP not BGP on the core: % x", ip[:min(len(ip), 64)])
		default:
			t.Errorf("IPv6 next header %d on the core, neither ESP, BGP nor ICMPv6: % x", next, ip[:min(len(ip), 64)])
		}
	}
	if counts["esp"] == 0 || counts["bgp"] == 0 {
		t.Errorf("capture holds %v: want ESP and BGP", counts)
	}
	t.Logf("core capture by kind: %v", counts)
}
