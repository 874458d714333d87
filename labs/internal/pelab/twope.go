package pelab

// The two-PE lab: two Peregrine PEs with the userspace dataplane, VPN
// routes over iBGP, every inter-PE packet in ESP (AES-128-GCM, UDP 4500),
// keyed manually (ManualKeyConfigs) or by IKEv2 between the two PEs
// (IKEConfigs). red and blue use the same addresses on both sides.
//
//	ce-red-1  10.1.0.2 ──ce1┐                         ┌ce3── 10.2.0.2 ce-red-2
//	          fd00:1::2     │ pe1 ══ core ══ pe2      │      fd00:2::2
//	ce-blue-1 10.1.0.2 ──ce2┘ 192.168.0.1  .2         └ce4── 10.2.0.2 ce-blue-2
//	          fd00:1::2                                      fd00:2::2
//
// Each PE's CE interfaces carry .1 / ::1 of their subnet, in both VRFs.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/peregrine-net/peregrine/labs/netns"
)

// ManualConfig is a PE's configuration with manual keys: router ID and
// local address, the other PE's address, the site number (1 or 2), the
// red and blue CE interfaces, the outbound and inbound SPIs.
const ManualConfig = `
router: {id: %[1]s, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  neighbors: [{address: %[2]s, asn: 65000, local-address: %[1]s, connect-retry: 1s, hold-time: 9s}]
vrfs:
  - {name: red, rd: '65000:%[3]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [%[4]s]}
  - {name: blue, rd: '65000:%[3]d2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [%[5]s]}
ipsec:
  local-address: %[1]s
  tunnels:
    - remote: %[2]s
      out: {spi: %[6]d, cipher: aes128gcm16, key-file: out.key}
      in: {spi: %[7]d, cipher: aes128gcm16, key-file: in.key}
`

// Key material for the two directions of ManualConfig (public test keys).
var (
	KeyAB = strings.Repeat("1a", 20)
	KeyBA = strings.Repeat("2b", 20)
)

// IKEPSK is the pre-shared key of IKEConfig (a public test key; tests
// check that no log holds it).
const IKEPSK = "e2e-ike-psk-do-not-log-0123456789"

// IKELifetimes are IKEConfig's lifetimes: children rekeyed every 3 s, the
// IKE SA every 12 s. Tests that want others replace this text.
const IKELifetimes = "child-lifetime: {soft: 3s, hard: 20s, soft-bytes: 1000000, hard-bytes: 10000000000}\n      ike-lifetime: {soft: 12s, hard: 60s}"

// IKEConfig is ManualConfig with the PE-to-PE SAs keyed by IKEv2: router
// ID and local address, the other PE's address, the site number, the red
// and blue CE interfaces, the IKE peer's name and whether this PE
// initiates.
const IKEConfig = `
router: {id: %[1]s, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  neighbors: [{address: %[2]s, asn: 65000, local-address: %[1]s, connect-retry: 1s, hold-time: 9s}]
vrfs:
  - {name: red, rd: '65000:%[3]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [%[4]s]}
  - {name: blue, rd: '65000:%[3]d2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [%[5]s]}
ipsec:
  local-address: %[1]s
  ike-peers:
    - name: %[6]s
      remote-address: %[2]s
      psk-file: peer.psk
      initiate: %[7]v
      ` + IKELifetimes + `
      dpd-interval: 2s
`

// TwoPE is the running two-PE lab.
type TwoPE struct {
	Lab      *netns.Lab
	PE1, PE2 *PE
	CE       map[string]*netns.Node // by name: ce-red-1, ce-blue-1, ce-red-2, ce-blue-2
	Capture  string                 // core.pcap, when TwoPESpec.Capture
	Cfg1     string                 // pe1's configuration
}

// TwoPESpec says how to start a TwoPE.
type TwoPESpec struct {
	Bin string // peregrined
	// Configs returns the PEs' configurations; it may write key files
	// first (ManualKeyConfigs, IKEConfigs).
	Configs func(pe1, pe2 *netns.Node) (string, string)
	// Capture runs tcpdump on pe1's core interface from before the first
	// BGP packet into TwoPE.Capture.
	Capture bool
	// IPv6Core numbers the core link fd00:c::1/64 and fd00:c::2/64
	// instead of 192.168.0.1/30 and .2: the configurations must use
	// those addresses (VPN routes then have IPv6 next hops).
	IPv6Core bool
}

// WriteKeys writes a PE's manual keys (out.key, in.key) into its
// directory.
func WriteKeys(t netns.TB, node *netns.Node, out, in string) {
	t.Helper()
	WriteSecret(t, node, "out.key", out)
	WriteSecret(t, node, "in.key", in)
}

// WritePSK writes a PE's IKE pre-shared key file (peer.psk).
func WritePSK(t netns.TB, node *netns.Node, psk string) {
	t.Helper()
	WriteSecret(t, node, "peer.psk", psk)
}

// WriteSecret writes a key or PSK file (mode 0600, as peregrined
// insists) into a PE's directory, where its configuration's relative
// key-file and psk-file names point.
func WriteSecret(t netns.TB, node *netns.Node, name, text string) {
	t.Helper()
	dir := filepath.Join(node.Lab().Dir(), node.Name()+"-peregrined")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, name), []byte(text+"\n"), 0o600))
}

// ManualKeyConfigs writes both PEs' manual keys and returns their
// configurations (ManualConfig).
func ManualKeyConfigs(t netns.TB, pe1, pe2 *netns.Node) (string, string) {
	t.Helper()
	WriteKeys(t, pe1, KeyAB, KeyBA)
	WriteKeys(t, pe2, KeyBA, KeyAB)
	return fmt.Sprintf(ManualConfig, "192.168.0.1", "192.168.0.2", 1, "ce1", "ce2", 0x1001, 0x2001),
		fmt.Sprintf(ManualConfig, "192.168.0.2", "192.168.0.1", 2, "ce3", "ce4", 0x2001, 0x1001)
}

// IKEConfigs writes both PEs' pre-shared keys and returns their
// configurations (IKEConfig): pe1 initiates, pe2 answers.
func IKEConfigs(t netns.TB, pe1, pe2 *netns.Node) (string, string) {
	t.Helper()
	return IKEConfigsWith(t, pe1, pe2, "", "")
}

// IKEConfigsWith is IKEConfigs with more settings of each PE's IKE peer
// (YAML lines indented by six spaces, such as "      protocol: ah\n").
func IKEConfigsWith(t netns.TB, pe1, pe2 *netns.Node, peer1, peer2 string) (string, string) {
	t.Helper()
	WritePSK(t, pe1, IKEPSK)
	WritePSK(t, pe2, IKEPSK)
	return fmt.Sprintf(IKEConfig, "192.168.0.1", "192.168.0.2", 1, "ce1", "ce2", "pe2", true) + peer1,
		fmt.Sprintf(IKEConfig, "192.168.0.2", "192.168.0.1", 2, "ce3", "ce4", "pe1", false) + peer2
}

// BuildTwoPE builds the lab, starts the PEs and waits until each has the
// other's red and blue routes. It skips the test without root or
// /dev/net/tun.
func BuildTwoPE(t netns.TB, ctx context.Context, spec TwoPESpec) *TwoPE {
	t.Helper()
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no /dev/net/tun: the userspace dataplane needs TUN devices")
	}
	l := netns.NewLab(t)
	node := func(name string) *netns.Node {
		n, err := l.AddNode(name)
		must(t, err)
		return n
	}
	pe1, pe2 := node("pe1"), node("pe2")
	e := &TwoPE{Lab: l, CE: map[string]*netns.Node{}}
	core1, core2, bits := "192.168.0.1", "192.168.0.2", "/30"
	if spec.IPv6Core {
		core1, core2, bits = "fd00:c::1", "fd00:c::2", "/64"
	}
	Link(t, l, pe1, "core", core1+bits, pe2, "core", core2+bits)
	for _, c := range []struct {
		name, peIf, subnet string
		pe                 *netns.Node
	}{
		{"ce-red-1", "ce1", "1", pe1}, {"ce-blue-1", "ce2", "1", pe1},
		{"ce-red-2", "ce3", "2", pe2}, {"ce-blue-2", "ce4", "2", pe2},
	} {
		n := node(c.name)
		e.CE[c.name] = n
		Link(t, l, c.pe, c.peIf, "10."+c.subnet+".0.1/24", n, "eth0", "10."+c.subnet+".0.2/24")
		must(t, c.pe.AddAddr(c.peIf, netip.MustParsePrefix("fd00:"+c.subnet+"::1/64")))
		must(t, n.AddAddr("eth0", netip.MustParsePrefix("fd00:"+c.subnet+"::2/64")))
		MustExec(t, n, "ip", "route", "add", "default", "via", "10."+c.subnet+".0.1")
		MustExec(t, n, "ip", "-6", "route", "add", "default", "via", "fd00:"+c.subnet+"::1")
	}
	if spec.Capture {
		e.Capture = filepath.Join(l.Dir(), "core.pcap")
		if _, err := pe1.Start("tcpdump", "-i", "core", "-U", "-w", e.Capture); err != nil {
			t.Skipf("tcpdump: %v", err)
		}
	}
	cfg1, cfg2 := spec.Configs(pe1, pe2)
	e.Cfg1 = cfg1
	e.PE1 = StartPE(t, pe1, spec.Bin, cfg1)
	e.PE2 = StartPE(t, pe2, spec.Bin, cfg2)
	e.PE1.WaitImported(t, ctx, "red", "10.2.0.0/24 via "+core2+" label * rd 65000:21", "fd00:2::/64 via "+core2+" label * rd 65000:21")
	e.PE2.WaitImported(t, ctx, "blue", "10.1.0.0/24 via "+core1+" label * rd 65000:12", "fd00:1::/64 via "+core1+" label * rd 65000:12")
	return e
}

// Link joins a's aIf and b's bIf with a veth pair and gives them their
// addresses (prefixes such as "10.1.0.1/24").
func Link(t netns.TB, l *netns.Lab, a *netns.Node, aIf, aAddr string, b *netns.Node, bIf, bAddr string) {
	t.Helper()
	must(t, l.Link(a, aIf, b, bIf))
	must(t, a.AddAddr(aIf, netip.MustParsePrefix(aAddr)))
	must(t, b.AddAddr(bIf, netip.MustParsePrefix(bAddr)))
}
