package interop_test

// Two Peregrine PEs on an IPv6 core (fd00:c::1 and ::2, pelab's
// TwoPESpec.IPv6Core) whose tunnel is AH keyed by IKEv2 over IPv6. The
// receiving PE's raw IPv6 socket does not hand over the outer header the
// ICV covers; the dataplane rebuilds it (fib/userspace inboundAH6), so a
// ping that crosses proves the rebuilt header authenticates as sent.
// tshark dissects AH over IPv6 with the label stack in clear, no ESP.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

// ahV6Config is a PE on the IPv6 core with an AH IKE peer: router ID,
// local address, the other PE's address, the site number, the red and
// blue CE interfaces, the peer's name and whether this PE initiates.
const ahV6Config = `
router: {id: %[1]s, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  neighbors: [{address: '%[3]s', asn: 65000, local-address: '%[2]s', connect-retry: 1s, hold-time: 9s}]
vrfs:
  - {name: red, rd: '65000:%[4]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [%[5]s]}
  - {name: blue, rd: '65000:%[4]d2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [%[6]s]}
ipsec:
  local-address: '%[2]s'
  ike-peers:
    - name: %[7]s
      remote-address: '%[3]s'
      psk-file: peer.psk
      initiate: %[8]v
      protocol: ah
      ` + pelab.IKELifetimes + `
      dpd-interval: 2s
`

func TestAHOverIPv6Core(t *testing.T) {
	tshark, err := peers.Tool("tshark")
	if err != nil {
		t.Skip("tshark not installed: it is the oracle of what crossed the core")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	e := pelab.BuildTwoPE(t, ctx, pelab.TwoPESpec{Bin: peregrinedBin, Capture: true, IPv6Core: true,
		Configs: func(pe1, pe2 *netns.Node) (string, string) {
			pelab.WritePSK(t, pe1, pelab.IKEPSK)
			pelab.WritePSK(t, pe2, pelab.IKEPSK)
			return fmt.Sprintf(ahV6Config, "10.0.0.11", "fd00:c::1", "fd00:c::2", 1, "ce1", "ce2", "pe2", true),
				fmt.Sprintf(ahV6Config, "10.0.0.12", "fd00:c::2", "fd00:c::1", 2, "ce3", "ce4", "pe1", false)
		}})

	t.Run("ping both ways in both VRFs, IPv4 and IPv6", func(t *testing.T) {
		pelab.PingAcross(t, ctx, e.CE, 3)
	})

	t.Run("continuous ping across child rekeys loses nothing", func(t *testing.T) {
		const count = 200 // 10 s at 50 ms, child SAs rekeyed every 3 s
		pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
		defer pcancel()
		out, err := e.CE["ce-blue-1"].Exec(pctx, "ping", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "1", "fd00:2::2")
		if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d packets transmitted, %d received", count, count)) {
			t.Errorf("ping lost packets: %v\n%s", err, out)
		}
	})

	t.Run("show ipsec sa: ah, integrity only, opened packets", func(t *testing.T) {
		for _, p := range []*pe{e.PE1, e.PE2} {
			for _, sa := range ahSAs(t, ctx, p) {
				if sa.Protocol != "ah" || !sa.IntegrityOnly || sa.Cipher != "hmac-sha256-128" || sa.Packets == 0 {
					t.Errorf("%s SA %+v", p.Name, sa)
				}
			}
		}
	})

	t.Run("PEs log no AH socket failure", func(t *testing.T) {
		for _, p := range []*pe{e.PE1, e.PE2} {
			log, err := os.ReadFile(p.Proc.LogPath())
			must(t, err)
			if strings.Contains(string(log), "cannot open the AH socket") {
				t.Errorf("%s could not open its AH socket", p.Name)
			}
		}
	})

	time.Sleep(500 * time.Millisecond) // tcpdump -U: let the last packets land
	t.Run("tshark: AH over IPv6, labels in clear, no ESP", func(t *testing.T) {
		out := tsharkFields(t, tshark, e.Capture, "ah", "ah.spi", "mpls.label", "ipv6.src", "ipv6.dst", "ip.src")
		var ah6, labelled int
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			if len(f) < 5 {
				continue
			}
			if !strings.HasPrefix(f[2], "fd00:c::") {
				t.Errorf("AH packet whose outer header is not the IPv6 core's: %q", line)
				continue
			}
			ah6++
			if f[1] != "" && (strings.Contains(f[2]+f[4], "fd00:1::2") || strings.Contains(f[2]+f[4], "fd00:2::2") ||
				strings.Contains(f[4], "10.1.0.2") || strings.Contains(f[4], "10.2.0.2")) {
				labelled++ // the label and the CE's packet, dissected in clear
			}
		}
		if ah6 < 200 || labelled < 200 {
			t.Errorf("tshark saw %d AH packets over IPv6, %d with a label and a CE address in clear:\n%s", ah6, labelled, out)
		}
		if esp := strings.TrimSpace(tsharkFields(t, tshark, e.Capture, "esp", "esp.spi")); esp != "" {
			t.Errorf("ESP on the core of an AH tunnel:\n%s", esp)
		}
		t.Logf("tshark: %d AH packets over IPv6, %d with the MPLS label and the CE packet in clear, no ESP", ah6, labelled)
	})
}
