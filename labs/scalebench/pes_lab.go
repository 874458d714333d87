package main

// The many-PE lab (issue 23, item 5), drawn for PES=3:
//
//	            core: one bridge in its own namespace, 10.255.0.0/24
//	  +------------------------------------------------------------+
//	  |                           br0                              |
//	  +--p1-------p2-------p3------------------------r1-------r2---+
//	     |        |        |                         |        |
//	  +-----+  +-----+  +-----+                   +-----+  +-----+
//	  | pe1 |  | pe2 |  | pe3 |  .1 .2 .3          | rr1 |  | rr2 |  .251 .252
//	  +-----+  +-----+  +-----+                   +-----+  +-----+
//	  c0 c1 ... cN-1   (one CE veth per VRF)       FRR bgpd, VPNv4 route
//	  |  |       |                                 reflectors; every PE a
//	 cfP |  ...  clP                                client of both
//	     chP  (the far ends of VRFs 2..N-1)
//
// Every PE (peregrined, userspace backend) is an iBGP client of both route
// reflectors and holds a manual-key ESP tunnel to each other PE: a full
// mesh of PES x (PES-1) one-way SAs, each with its own key file and SPI.
//
// Each VRF has one site per PE, its CE link 10.P.V.0/24 (the PE .1, the
// CE end .2), which the PE exports as a connected prefix. The first and
// the last VRF are the sampled ones: their CE ends sit in CE namespaces of
// their own (cfP and clP), both numbered 10.P.0.0/24, so the same
// addresses exist in both VRFs and a ping shows which VRF carried it. The
// other VRFs' CE ends share one host namespace per PE (chP), where their
// distinct subnets need no policy routing: nothing pings them, they give
// each VRF its interface and connected prefix.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// rrAddrs are the route reflectors' core addresses; PE p is 10.255.0.p.
var rrAddrs = []netip.Addr{netip.MustParseAddr("10.255.0.251"), netip.MustParseAddr("10.255.0.252")}

// maxPEs and maxVRFsPerPE keep the addressing inside 10.P.V.0/24 below
// the core's 10.255.0.0/24 and the RRs' addresses.
const (
	maxPEs       = 200
	maxVRFsPerPE = 255
)

// peCore is PE p's (1-based) core address.
func peCore(p int) netip.Addr { return netip.AddrFrom4([4]byte{10, 255, 0, byte(p)}) }

// siteThird is the third octet of VRF v's (0-based) site subnet: 0 for
// the two sampled VRFs, which share their addresses, v for the others.
func siteThird(v, vrfs int) int {
	if sampled(v, vrfs) {
		return 0
	}
	return v
}

// sampled reports whether VRF v has CE namespaces of its own: the first
// and the last.
func sampled(v, vrfs int) bool { return v == 0 || v == vrfs-1 }

// siteNet is VRF v's site subnet at PE p: 10.P.V.0/24 (10.P.0.0/24 in the
// sampled VRFs).
func siteNet(p, v, vrfs int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(p), byte(siteThird(v, vrfs)), 0}), 24)
}

// sitePE and siteCE are the PE's (.1) and the CE end's (.2) addresses.
func sitePE(p, v, vrfs int) netip.Prefix { return netip.PrefixFrom(nth(siteNet(p, v, vrfs), 1), 24) }
func siteCE(p, v, vrfs int) netip.Prefix { return netip.PrefixFrom(nth(siteNet(p, v, vrfs), 2), 24) }

// meshSPI is the SPI of the SA from PE from to PE to: unique per
// direction, above the reserved 1..255.
func meshSPI(from, to int) uint32 { return 0x10000 | uint32(from)<<8 | uint32(to) }

// meshKeyFile is where the key of the SA from PE from to PE to lives: one
// file that from reads as its out key and to as its in key.
func meshKeyFile(dir string, from, to int) string {
	return filepath.Join(dir, "keys", fmt.Sprintf("pe%d-to-pe%d.key", from, to))
}

// writeMeshKeys writes a fresh random AES-128-GCM key and salt (20 bytes,
// hex) for each of the pes x (pes-1) one-way SAs, mode 0600 as peregrined
// insists.
func writeMeshKeys(dir string, pes int) error {
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return err
	}
	for from := 1; from <= pes; from++ {
		for to := 1; to <= pes; to++ {
			if from == to {
				continue
			}
			var b [20]byte
			if _, err := rand.Read(b[:]); err != nil {
				return err
			}
			if err := os.WriteFile(meshKeyFile(dir, from, to), []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

// meshVRFName names VRF v (0-based) as v1 ... vN; its route target is
// 65000:(1000+v), its RD 65000:(1000p+v+1), unique per PE and VRF.
func meshVRFName(v int) string { return fmt.Sprintf("v%d", v+1) }
func meshRD(p, v int) string   { return fmt.Sprintf("%d:%d", asn, 1000*p+v+1) }

// peMeshConfig is PE p's configuration: both RRs as neighbors, a tunnel
// to each other PE, vrfs VRFs each with its CE interface cV.
func peMeshConfig(p, pes, vrfs int, sock, keyDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `router: {id: %[1]s, asn: %[2]d}
log: {level: warn}
control: {socket: %[3]s}
metrics: {listen: '%[4]s'}
dataplane: {backend: userspace}
bgp:
  listen-address: %[1]s
  api: ''
  neighbors:
`, peCore(p), asn, sock, metricsAddr)
	for _, rr := range rrAddrs {
		fmt.Fprintf(&b, "    - {address: %s, asn: %d, families: [vpnv4], local-address: %s, connect-retry: 1s, hold-time: 9s}\n", rr, asn, peCore(p))
	}
	fmt.Fprintf(&b, "ipsec:\n  local-address: %s\n  tunnels:\n", peCore(p))
	for q := 1; q <= pes; q++ {
		if q == p {
			continue
		}
		fmt.Fprintf(&b, "    - remote: %s\n      out: {spi: %d, cipher: aes128gcm16, key-file: %s}\n      in: {spi: %d, cipher: aes128gcm16, key-file: %s}\n",
			peCore(q), meshSPI(p, q), meshKeyFile(keyDir, p, q), meshSPI(q, p), meshKeyFile(keyDir, q, p))
	}
	b.WriteString("vrfs:\n")
	for v := range vrfs {
		fmt.Fprintf(&b, "  - {name: %s, rd: '%s', import-targets: ['%s'], export-targets: ['%s'], interfaces: [%s]}\n",
			meshVRFName(v), meshRD(p, v), rt(v), rt(v), ceIf(v))
	}
	return b.String()
}

// meshLab is one run's many-PE lab.
type meshLab struct {
	lab   *netns.Lab
	pes   int
	vrfs  int
	core  *netns.Node
	rr    []*netns.Node
	pe    []*netns.Node // pe[p-1] is PE p
	first []*netns.Node // first[p-1]: the first VRF's CE at PE p
	last  []*netns.Node // last[p-1]: the last VRF's CE at PE p
	host  []*netns.Node // host[p-1]: the other VRFs' CE ends at PE p (nil with under 3 VRFs)
}

// buildMeshLab makes the namespaces, the core bridge and every CE veth,
// printing progress: it is 4 + 4 x PES namespaces and PES x VRFS veths.
func buildMeshLab(ctx context.Context, lab *netns.Lab, pes, vrfs int, progress func(string, ...any)) (*meshLab, error) {
	m := &meshLab{lab: lab, pes: pes, vrfs: vrfs}
	var err error
	if m.core, err = lab.AddNode("core"); err != nil {
		return nil, err
	}
	var corePorts strings.Builder
	corePorts.WriteString("link add br0 type bridge\nlink set br0 up\n")
	join := func(n *netns.Node, port string, addr netip.Addr) error {
		if err := lab.Link(m.core, port, n, "core"); err != nil {
			return err
		}
		fmt.Fprintf(&corePorts, "link set %s master br0\n", port)
		return n.AddAddr("core", netip.PrefixFrom(addr, 24))
	}
	for i, a := range rrAddrs {
		n, err := lab.AddNode(fmt.Sprintf("rr%d", i+1))
		if err != nil {
			return nil, err
		}
		if err := join(n, fmt.Sprintf("r%d", i+1), a); err != nil {
			return nil, err
		}
		m.rr = append(m.rr, n)
	}
	for p := 1; p <= pes; p++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := m.addPE(ctx, p, join); err != nil {
			return nil, fmt.Errorf("pe%d: %w", p, err)
		}
		progress("lab: pe%d of %d with %d CE veths", p, pes, vrfs)
	}
	if err := m.batch(ctx, m.core, "core", corePorts.String()); err != nil {
		return nil, err
	}
	return m, nil
}

// addPE makes PE p's namespace, its core port, its CE namespaces and its
// CE veths (one `ip -batch` per namespace: hundreds of `ip` processes
// would take minutes on a small machine).
func (m *meshLab) addPE(ctx context.Context, p int, join func(*netns.Node, string, netip.Addr) error) error {
	node := func(name string) (*netns.Node, error) { return m.lab.AddNode(fmt.Sprintf("%s%d", name, p)) }
	pe, err := node("pe")
	if err != nil {
		return err
	}
	m.pe = append(m.pe, pe)
	if err := join(pe, fmt.Sprintf("p%d", p), peCore(p)); err != nil {
		return err
	}
	first, err := node("cf")
	if err != nil {
		return err
	}
	last := first
	if m.vrfs > 1 {
		if last, err = node("cl"); err != nil {
			return err
		}
	}
	var host *netns.Node
	if m.vrfs > 2 {
		if host, err = node("ch"); err != nil {
			return err
		}
	}
	m.first, m.last, m.host = append(m.first, first), append(m.last, last), append(m.host, host)

	var peB strings.Builder
	ceB := map[*netns.Node]*strings.Builder{}
	for v := range m.vrfs {
		ce, end := host, ceEnd(v)
		if sampled(v, m.vrfs) {
			ce, end = first, "eth0"
			if v == m.vrfs-1 && v > 0 {
				ce = last
			}
		}
		fmt.Fprintf(&peB, "link add %s type veth peer name %s netns %s\n", ceIf(v), end, ce.Namespace())
		fmt.Fprintf(&peB, "addr add %s dev %s\nlink set %s up\n", sitePE(p, v, m.vrfs), ceIf(v), ceIf(v))
		if ceB[ce] == nil {
			ceB[ce] = &strings.Builder{}
		}
		fmt.Fprintf(ceB[ce], "addr add %s dev %s\nlink set %s up\n", siteCE(p, v, m.vrfs), end, end)
		if sampled(v, m.vrfs) {
			fmt.Fprintf(ceB[ce], "route add default via %s\n", sitePE(p, v, m.vrfs).Addr())
		}
	}
	if err := m.batch(ctx, pe, "links", peB.String()); err != nil {
		return err
	}
	for ce, b := range ceB {
		if err := m.batch(ctx, ce, "links", b.String()); err != nil {
			return err
		}
	}
	return nil
}

// batch runs `ip -batch` in n with the commands in body.
func (m *meshLab) batch(ctx context.Context, n *netns.Node, what, body string) error {
	f := filepath.Join(m.lab.Dir(), n.Name()+"-"+what+".batch")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		return err
	}
	if out, err := n.Exec(ctx, "ip", "-batch", f); err != nil {
		return fmt.Errorf("ip -batch in %s: %w: %s", n.Name(), err, out)
	}
	return nil
}
