package interop_test

// End to end through two Peregrine PEs with the userspace dataplane: VPN
// routes over iBGP, every inter-PE packet in ESP (AES-128-GCM, UDP 4500).
// red and blue use the same addresses on both sides.
//
//	ce-red-1  10.1.0.2 ──ce1┐                         ┌ce3── 10.2.0.2 ce-red-2
//	          fd00:1::2     │ pe1 ══ core ══ pe2      │      fd00:2::2
//	ce-blue-1 10.1.0.2 ──ce2┘ 192.168.0.1  .2         └ce4── 10.2.0.2 ce-blue-2
//	          fd00:1::2                                      fd00:2::2
//
// Each PE's CE interfaces carry .1 / ::1 of their subnet, in both VRFs.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/pcap"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const e2eConfig = `
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

// Key material for the two directions (public test keys).
var (
	keyAB = strings.Repeat("1a", 20)
	keyBA = strings.Repeat("2b", 20)
)

type e2eLab struct {
	lab      *netns.Lab
	pe1, pe2 *pe
	ce       map[string]*netns.Node
	capture  string
	cfg1     string
}

func writeKeys(t *testing.T, node *netns.Node, out, in string) {
	t.Helper()
	dir := filepath.Join(node.Lab().Dir(), node.Name()+"-peregrined")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "out.key"), []byte(out+"\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "in.key"), []byte(in+"\n"), 0o600))
}

func buildE2E(t *testing.T, ctx context.Context) *e2eLab {
	t.Helper()
	return buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) { return manualKeyConfigs(t, pe1, pe2) })
}

// manualKeyConfigs writes both PEs' manual keys and returns their
// configurations (e2eConfig).
func manualKeyConfigs(t *testing.T, pe1, pe2 *netns.Node) (string, string) {
	t.Helper()
	writeKeys(t, pe1, keyAB, keyBA)
	writeKeys(t, pe2, keyBA, keyAB)
	return fmt.Sprintf(e2eConfig, "192.168.0.1", "192.168.0.2", 1, "ce1", "ce2", 0x1001, 0x2001),
		fmt.Sprintf(e2eConfig, "192.168.0.2", "192.168.0.1", 2, "ce3", "ce4", 0x2001, 0x1001)
}

// buildE2EWith builds the lab and starts the PEs with the configurations
// configs returns (it may write key files first).
func buildE2EWith(t *testing.T, ctx context.Context, configs func(pe1, pe2 *netns.Node) (string, string)) *e2eLab {
	t.Helper()
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skip("no /dev/net/tun: the userspace dataplane needs TUN devices")
	}
	l := netns.NewLab(t)
	node := func(name string) *netns.Node {
		n, err := l.AddNode(name)
		must(t, err)
		return n
	}
	pe1, pe2 := node("pe1"), node("pe2")
	e := &e2eLab{lab: l, ce: map[string]*netns.Node{}}
	link(t, l, pe1, "core", "192.168.0.1/30", pe2, "core", "192.168.0.2/30")
	for _, c := range []struct {
		name, peIf, subnet string
		pe                 *netns.Node
	}{
		{"ce-red-1", "ce1", "1", pe1}, {"ce-blue-1", "ce2", "1", pe1},
		{"ce-red-2", "ce3", "2", pe2}, {"ce-blue-2", "ce4", "2", pe2},
	} {
		n := node(c.name)
		e.ce[c.name] = n
		link(t, l, c.pe, c.peIf, "10."+c.subnet+".0.1/24", n, "eth0", "10."+c.subnet+".0.2/24")
		must(t, c.pe.AddAddr(c.peIf, pfx("fd00:"+c.subnet+"::1/64")))
		must(t, n.AddAddr("eth0", pfx("fd00:"+c.subnet+"::2/64")))
		mustExec(t, n, "ip", "route", "add", "default", "via", "10."+c.subnet+".0.1")
		mustExec(t, n, "ip", "-6", "route", "add", "default", "via", "fd00:"+c.subnet+"::1")
	}
	// Everything on the core link, from before the first BGP packet.
	e.capture = filepath.Join(l.Dir(), "core.pcap")
	if _, err := pe1.Start("tcpdump", "-i", "core", "-U", "-w", e.capture); err != nil {
		t.Skipf("tcpdump: %v", err)
	}

	cfg1, cfg2 := configs(pe1, pe2)
	e.cfg1 = cfg1
	e.pe1 = startPE(t, pe1, cfg1)
	e.pe2 = startPE(t, pe2, cfg2)
	e.pe1.waitImported(t, ctx, "red", "10.2.0.0/24 via 192.168.0.2 label * rd 65000:21", "fd00:2::/64 via 192.168.0.2 label * rd 65000:21")
	e.pe2.waitImported(t, ctx, "blue", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:12", "fd00:1::/64 via 192.168.0.1 label * rd 65000:12")
	return e
}

func mustExec(t *testing.T, n *netns.Node, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := n.Exec(ctx, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v\n%s", n.Name(), strings.Join(args, " "), err, out)
	}
	return out
}

// ping sends count echoes and reports whether every one was answered.
func ping(n *netns.Node, dst string, count int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count+5)*time.Second)
	defer cancel()
	out, err := n.Exec(ctx, "ping", "-c", fmt.Sprint(count), "-i", "0.2", "-W", "1", dst)
	if err != nil {
		return fmt.Errorf("%s: ping %s: %v\n%s", n.Name(), dst, err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d received", count)) {
		return fmt.Errorf("%s: ping %s lost packets:\n%s", n.Name(), dst, out)
	}
	return nil
}

// waitPing retries a single ping until it succeeds (routes converge).
func waitPing(t *testing.T, ctx context.Context, n *netns.Node, dst string) {
	t.Helper()
	must(t, peers.Eventually(ctx, func(context.Context) error { return ping(n, dst, 1) }))
}

// tcp runs a short iperf3 transfer from client to server and returns the
// bytes received.
func tcp(t *testing.T, client, server *netns.Node, dst string) float64 {
	t.Helper()
	if _, err := peers.Tool("iperf3"); err != nil {
		t.Skip("iperf3 not installed (apt-get install iperf3)")
	}
	srv, err := server.StartCommand(netns.Command{Path: "iperf3", Args: []string{"-s", "-1", "-p", "5201"}, LogName: "iperf3-server"})
	must(t, err)
	defer srv.Stop()
	var out []byte
	wait, cancelWait := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancelWait()
	err = peers.Eventually(wait, func(context.Context) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err = client.Exec(ctx, "iperf3", "-c", dst, "-p", "5201", "-t", "1", "-J")
		if err != nil || bytes.Contains(out, []byte(`"error"`)) {
			return fmt.Errorf("iperf3: %v %s", err, out)
		}
		return nil
	})
	must(t, err)
	var res struct {
		End struct {
			SumReceived struct {
				Bytes float64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	must(t, json.Unmarshal(out, &res))
	return res.End.SumReceived.Bytes
}

func TestE2E(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	e := buildE2E(t, ctx)
	red1, red2, blue1, blue2 := e.ce["ce-red-1"], e.ce["ce-red-2"], e.ce["ce-blue-1"], e.ce["ce-blue-2"]

	t.Run("ping both ways in both VRFs, IPv4 and IPv6", func(t *testing.T) {
		waitPing(t, ctx, red1, "10.2.0.2")
		for _, c := range []struct {
			from *netns.Node
			dst  string
		}{
			{red1, "10.2.0.2"}, {red2, "10.1.0.2"}, {blue1, "10.2.0.2"}, {blue2, "10.1.0.2"},
			{red1, "fd00:2::2"}, {red2, "fd00:1::2"}, {blue1, "fd00:2::2"}, {blue2, "fd00:1::2"},
		} {
			waitPing(t, ctx, c.from, c.dst)
			must(t, ping(c.from, c.dst, 5))
		}
	})

	t.Run("TCP both ways", func(t *testing.T) {
		if n := tcp(t, red1, red2, "10.2.0.2"); n < 1e5 {
			t.Errorf("red1 -> red2: %v bytes", n)
		}
		if n := tcp(t, blue2, blue1, "fd00:1::2"); n < 1e5 {
			t.Errorf("blue2 -> blue1 over IPv6: %v bytes", n)
		}
		if n := tcp(t, red2, red1, "fd00:1::2"); n < 1e5 {
			t.Errorf("red2 -> red1 over IPv6: %v bytes", n)
		}
		if n := tcp(t, blue1, blue2, "10.2.0.2"); n < 1e5 {
			t.Errorf("blue1 -> blue2: %v bytes", n)
		}
	})

	t.Run("path MTU: the CE's kernel learns 1400 from the PE", func(t *testing.T) {
		// A 1500-byte packet with DF cannot cross with ESP in a 1500-byte
		// core: the PE answers with ICMP from its own address in the CE's
		// VRF, and the CE's kernel (the oracle for the ICMP's checksum and
		// quote) records the path MTU. blue's CE, because the same
		// addresses exist in red: the error must not go there.
		for _, c := range []struct{ dst, want string }{
			{"10.2.0.2", "mtu = 1400"},
			{"fd00:2::2", "mtu=1400"},
		} {
			// Forget what TCP taught the CE's kernel already.
			mustExec(t, blue1, "ip", "route", "flush", "cache")
			mustExec(t, blue1, "ip", "-6", "route", "flush", "cache")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := blue1.Exec(ctx, "ping", "-c", "2", "-i", "0.3", "-W", "1", "-M", "do", "-s", "1452", c.dst)
			cancel()
			if !strings.Contains(fmt.Sprint(string(out), err), c.want) {
				t.Errorf("ping -M do -s 1452 %s from ce-blue-1: no path MTU 1400 learnt:\n%s", c.dst, out)
			}
		}
	})

	t.Run("blue never reaches red's CE with the same address", func(t *testing.T) {
		// Take blue-1 off its link: a ping from blue-2 to 10.1.0.2 must
		// now fail rather than find red-1.
		mustExec(t, blue1, "ip", "link", "set", "eth0", "down")
		defer mustExec(t, blue1, "ip", "link", "set", "eth0", "up")
		before := icmpCount(t, red1)
		if err := ping(blue2, "10.1.0.2", 3); err == nil {
			t.Fatal("blue-2 reached 10.1.0.2 with blue-1 down: it got into red")
		}
		if after := icmpCount(t, red1); after != before {
			t.Errorf("red-1 received %d ICMP packets during blue's pings", after-before)
		}
	})

	t.Run("removing the SA mid-traffic drops, never sends in clear", func(t *testing.T) {
		waitPing(t, ctx, red1, "10.2.0.2")
		noTunnel := e.cfg1[:strings.Index(e.cfg1, "ipsec:")]
		e.pe1.reload(t, noTunnel)
		if err := ping(red1, "10.2.0.2", 3); err == nil {
			t.Error("ping crossed with pe1's tunnel removed")
		}
		e.pe1.reload(t, e.cfg1)
		waitPing(t, ctx, red1, "10.2.0.2")
	})

	t.Run("kill -9 and restart pe1: pe2, anti-replay on, accepts it at once", func(t *testing.T) {
		// pe1 sealed well over 10^5 packets above (TCP); a restarted pe1
		// that counted from 1 again would reuse nonces, and pe2's window
		// would drop it as replays for as long. The subtest has a context
		// of its own: the test's is shared by every subtest before it,
		// and BGP needs pe2's hold time (9 s) and GoBGP's idle hold
		// before the session comes back.
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		waitPing(t, ctx, red1, "10.2.0.2")
		inSA := func() (packets, replays uint64) {
			var sas []struct {
				Direction  string            `json:"direction"`
				SPI        uint32            `json:"spi"`
				AntiReplay bool              `json:"anti-replay"`
				Packets    uint64            `json:"packets"`
				Drops      map[string]uint64 `json:"drops"`
			}
			must(t, e.pe2.get(ctx, "/v1/ipsec/sa", &sas))
			for _, sa := range sas {
				if sa.Direction == "in" && sa.SPI == 0x1001 {
					if !sa.AntiReplay {
						t.Fatal("pe2's inbound SA has anti-replay off: the default is on")
					}
					return sa.Packets, sa.Drops["replayed"] + sa.Drops["too-old"]
				}
			}
			t.Fatal("pe2 has no inbound SA 0x1001")
			return 0, 0
		}
		sealed, replays := inSA()
		must(t, syscall.Kill(e.pe1.proc.Pid(), syscall.SIGKILL))
		<-e.pe1.proc.Done()
		// Restart once pe2 has seen the session go: while it still holds
		// the old one Established, GoBGP closes the new pe1's connections.
		must(t, peers.Eventually(ctx, func(ctx context.Context) error {
			var ns []struct {
				Address string `json:"address"`
				State   string `json:"state"`
			}
			if err := e.pe2.get(ctx, "/v1/bgp/neighbors", &ns); err != nil {
				return err
			}
			for _, n := range ns {
				if n.State == "established" {
					return fmt.Errorf("pe2 still has %s established", n.Address)
				}
			}
			return nil
		}))
		e.pe1 = startPE(t, e.pe1.node, e.cfg1) // the same node: its state directory
		e.pe1.waitImported(t, ctx, "red", "10.2.0.0/24 via 192.168.0.2 label * rd 65000:21", "fd00:2::/64 via 192.168.0.2 label * rd 65000:21")
		waitPing(t, ctx, red1, "10.2.0.2")
		must(t, ping(red1, "10.2.0.2", 5))
		after, replaysAfter := inSA()
		if replaysAfter != replays {
			t.Errorf("pe2 dropped %d of the restarted pe1's packets as replays", replaysAfter-replays)
		}
		if after <= sealed {
			t.Errorf("pe2's inbound SA opened nothing after the restart (%d, then %d)", sealed, after)
		}
	})

	t.Run("nothing in clear on the core", func(t *testing.T) {
		checkCoreCapture(t, e.capture, 0x1001, 0x2001)
	})
}

// icmpCount reads the ICMP input counter of a node.
func icmpCount(t *testing.T, n *netns.Node) int {
	t.Helper()
	out := mustExec(t, n, "cat", "/proc/net/snmp")
	lines := strings.Split(string(out), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if strings.HasPrefix(lines[i], "Icmp: InMsgs") {
			var v int
			fmt.Sscan(strings.Fields(lines[i+1])[1], &v)
			return v
		}
	}
	t.Fatalf("no Icmp counters in /proc/net/snmp of %s", n.Name())
	return 0
}

// checkCoreCapture reads the core link's capture: every packet must be ESP
// (in UDP 4500 or raw) with one of the lab's SPIs (any SPI when spis is
// empty: IKE picks them), or something else (IKE, BGP,
// ARP, ND) that carries no CE address. UDP GSO runs show in a veth capture
// as one datagram holding many ESP packets back to back: their first SPI
// is what identifies them.
func checkCoreCapture(t *testing.T, path string, spis ...uint32) {
	t.Helper()
	time.Sleep(500 * time.Millisecond) // tcpdump -U flushes per packet; let the last ones land
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	r, err := pcap.NewReader(f)
	must(t, err)
	ceAddrs := [][]byte{}
	for _, a := range []string{"10.1.0.2", "10.2.0.2", "fd00:1::2", "fd00:2::2"} {
		ceAddrs = append(ceAddrs, netip.MustParseAddr(a).AsSlice())
	}
	var esp, other int
	for {
		_, data, err := r.ReadPacket()
		if err != nil {
			break
		}
		if r.LinkType() == pcap.LinkTypeEthernet && len(data) >= 14 {
			data = data[14:]
		}
		if spi, ok := espSPI(data); ok {
			if len(spis) > 0 && !slices.Contains(spis, spi) {
				t.Errorf("ESP packet with SPI 0x%x, not one of the lab's", spi)
			}
			esp++
			continue
		}
		other++
		for _, a := range ceAddrs {
			if bytes.Contains(data, a) {
				t.Errorf("packet in clear on the core carries CE address %v: % x", netip.AddrFrom16([16]byte(append(make([]byte, 16-len(a)), a...))), data[:min(len(data), 64)])
			}
		}
	}
	if esp < 20 {
		t.Errorf("only %d ESP packets on the core: was the capture running?", esp)
	}
	t.Logf("core capture: %d ESP packets (or GSO runs of them), %d other (BGP, ARP, ND), none with a CE address", esp, other)
}

// espSPI returns the SPI of an IPv4 or IPv6 packet carrying ESP, raw
// (protocol 50) or in UDP port 4500 behind no non-ESP marker. An IPv6
// packet's ESP or UDP must follow the fixed header: the PEs send no
// extension headers.
func espSPI(p []byte) (uint32, bool) {
	var ihl int
	var proto byte
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		ihl, proto = int(p[0]&0x0f)*4, p[9]
	case len(p) >= 40 && p[0]>>4 == 6:
		ihl, proto = 40, p[6]
	default:
		return 0, false
	}
	switch {
	case proto == 50 && len(p) >= ihl+8:
		return binary.BigEndian.Uint32(p[ihl:]), true
	case proto == 17 && len(p) >= ihl+16:
		u := p[ihl:]
		if binary.BigEndian.Uint16(u[0:2]) != 4500 && binary.BigEndian.Uint16(u[2:4]) != 4500 {
			return 0, false
		}
		spi := binary.BigEndian.Uint32(u[8:12])
		return spi, spi != 0
	}
	return 0, false
}
