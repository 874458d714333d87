package interop_test

// End to end through two Peregrine PEs with the userspace dataplane: VPN
// routes over iBGP, every inter-PE packet in ESP (AES-128-GCM, UDP 4500),
// in the two-PE lab of labs/internal/pelab (twope.go draws it).

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/internal/procstat"
	"github.com/peregrine-net/peregrine/ipsec/pcap"
	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// e2eLab is the two-PE lab (labs/internal/pelab).
type e2eLab = pelab.TwoPE

func buildE2E(t *testing.T, ctx context.Context) *e2eLab {
	t.Helper()
	return buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) { return pelab.ManualKeyConfigs(t, pe1, pe2) })
}

// buildE2EWith builds the lab, with a capture of the core, and starts the
// PEs with the configurations configs returns (it may write key files
// first).
func buildE2EWith(t *testing.T, ctx context.Context, configs func(pe1, pe2 *netns.Node) (string, string)) *e2eLab {
	t.Helper()
	return pelab.BuildTwoPE(t, ctx, pelab.TwoPESpec{Bin: peregrinedBin, Configs: configs, Capture: true})
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
	red1, red2, blue1, blue2 := e.CE["ce-red-1"], e.CE["ce-red-2"], e.CE["ce-blue-1"], e.CE["ce-blue-2"]

	t.Run("ping both ways in both VRFs, IPv4 and IPv6", func(t *testing.T) {
		pelab.WaitPing(t, ctx, red1, "10.2.0.2")
		pelab.PingAcross(t, ctx, e.CE, 5)
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
			pelab.MustExec(t, blue1, "ip", "route", "flush", "cache")
			pelab.MustExec(t, blue1, "ip", "-6", "route", "flush", "cache")
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
		pelab.MustExec(t, blue1, "ip", "link", "set", "eth0", "down")
		defer pelab.MustExec(t, blue1, "ip", "link", "set", "eth0", "up")
		before := icmpCount(t, red1)
		if err := pelab.Ping(blue2, "10.1.0.2", 3); err == nil {
			t.Fatal("blue-2 reached 10.1.0.2 with blue-1 down: it got into red")
		}
		if after := icmpCount(t, red1); after != before {
			t.Errorf("red-1 received %d ICMP packets during blue's pings", after-before)
		}
	})

	t.Run("removing the SA mid-traffic drops, never sends in clear", func(t *testing.T) {
		pelab.WaitPing(t, ctx, red1, "10.2.0.2")
		noTunnel := e.Cfg1[:strings.Index(e.Cfg1, "ipsec:")]
		e.PE1.Reload(t, noTunnel)
		if err := pelab.Ping(red1, "10.2.0.2", 3); err == nil {
			t.Error("ping crossed with pe1's tunnel removed")
		}
		e.PE1.Reload(t, e.Cfg1)
		pelab.WaitPing(t, ctx, red1, "10.2.0.2")
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
		pelab.WaitPing(t, ctx, red1, "10.2.0.2")
		inSA := func() (packets, replays uint64) {
			var sas []struct {
				Direction  string            `json:"direction"`
				SPI        uint32            `json:"spi"`
				AntiReplay bool              `json:"anti-replay"`
				Packets    uint64            `json:"packets"`
				Drops      map[string]uint64 `json:"drops"`
			}
			must(t, e.PE2.Get(ctx, "/v1/ipsec/sa", &sas))
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
		must(t, syscall.Kill(e.PE1.Proc.Pid(), syscall.SIGKILL))
		<-e.PE1.Proc.Done()
		// Restart once pe2 has seen the session go: while it still holds
		// the old one Established, GoBGP closes the new pe1's connections.
		must(t, e.PE2.WaitSessionsDown(ctx))
		e.PE1 = startPE(t, e.PE1.Node, e.Cfg1) // the same node: its state directory
		e.PE1.WaitImported(t, ctx, "red", "10.2.0.0/24 via 192.168.0.2 label * rd 65000:21", "fd00:2::/64 via 192.168.0.2 label * rd 65000:21")
		pelab.WaitPing(t, ctx, red1, "10.2.0.2")
		must(t, pelab.Ping(red1, "10.2.0.2", 5))
		after, replaysAfter := inSA()
		if replaysAfter != replays {
			t.Errorf("pe2 dropped %d of the restarted pe1's packets as replays", replaysAfter-replays)
		}
		if after <= sealed {
			t.Errorf("pe2's inbound SA opened nothing after the restart (%d, then %d)", sealed, after)
		}
	})

	t.Run("nothing in clear on the core", func(t *testing.T) {
		checkCoreCapture(t, e.Capture, 0x1001, 0x2001)
	})
}

// icmpCount reads the ICMP input counter of a node.
func icmpCount(t *testing.T, n *netns.Node) int {
	t.Helper()
	v, err := procstat.ParseSNMP(pelab.MustExec(t, n, "cat", "/proc/net/snmp"), "Icmp", "InMsgs")
	if err != nil {
		t.Fatalf("%s: %v", n.Name(), err)
	}
	return int(v)
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
