package interop_test

// Two Peregrine PEs whose tunnel is AH (RFC 4302), manual keys: integrity
// only, the label stack and the customer packets in the clear on the core.
// The topology is TestE2E's (e2e_test.go):
//
//	ce-red-1  10.1.0.2 ──ce1┐                         ┌ce3── 10.2.0.2 ce-red-2
//	ce-blue-1 10.1.0.2 ──ce2┘ pe1 ══ core ══ pe2      └ce4── 10.2.0.2 ce-blue-2
//	                          192.168.0.1  .2
//
// pe1 -> pe2 is AES-128-GMAC (SPI 0x1001), pe2 -> pe1 HMAC-SHA-256-128
// (SPI 0x2001). tshark is the independent oracle of what crossed. pe2's
// BGP session is passive, so that after pe1's restart the two GoBGPs do
// not keep closing each other's connections from their idle states.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/ipsec/pcap"
	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const ahConfig = `
router: {id: %[1]s, asn: 65000}
log: {level: debug}
bgp:
  api: ''
  neighbors: [{address: %[2]s, asn: 65000, local-address: %[1]s, connect-retry: 1s, hold-time: 9s, passive: %[10]v}]
vrfs:
  - {name: red, rd: '65000:%[3]d1', import-targets: ['65000:1'], export-targets: ['65000:1'], interfaces: [%[4]s]}
  - {name: blue, rd: '65000:%[3]d2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [%[5]s]}
ipsec:
  local-address: %[1]s
  tunnels:
    - remote: %[2]s
      protocol: ah
      out: {spi: %[6]d, integrity: %[8]s, key-file: out.key}
      in: {spi: %[7]d, integrity: %[9]s, key-file: in.key}
`

// Public test keys: AES-128-GMAC (16 + 4 bytes) pe1 -> pe2, HMAC-SHA-256
// (32 bytes) pe2 -> pe1.
var (
	ahKeyAB = strings.Repeat("3c", 20)
	ahKeyBA = strings.Repeat("4d", 32)
)

// injectEnv makes the test binary, run inside a namespace, send one raw
// IPv4 packet (hex, header included) and exit: the lab's re-injection.
const injectEnv = "PEREGRINE_TEST_INJECT_IPV4"

func init() {
	if v := os.Getenv(injectEnv); v != "" {
		if err := injectIPv4(v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// injectIPv4 sends the IPv4 packet in hex with its own header (IP_HDRINCL
// through IPPROTO_RAW) to its destination.
func injectIPv4(h string) error {
	pkt, err := hex.DecodeString(h)
	if err != nil || len(pkt) < 20 {
		return fmt.Errorf("inject: bad packet %q: %v", h, err)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		return fmt.Errorf("inject: raw socket: %w", err)
	}
	defer syscall.Close(fd)
	return syscall.Sendto(fd, pkt, 0, &syscall.SockaddrInet4{Addr: [4]byte(pkt[16:20])})
}

func TestAHBetweenPEs(t *testing.T) {
	tshark, err := peers.Tool("tshark")
	if err != nil {
		t.Skip("tshark not installed: it is the oracle of what crossed the core")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		pelab.WriteKeys(t, pe1, ahKeyAB, ahKeyBA)
		pelab.WriteKeys(t, pe2, ahKeyBA, ahKeyAB)
		return fmt.Sprintf(ahConfig, "192.168.0.1", "192.168.0.2", 1, "ce1", "ce2", 0x1001, 0x2001, "aes128gmac", "hmac-sha256-128", false),
			fmt.Sprintf(ahConfig, "192.168.0.2", "192.168.0.1", 2, "ce3", "ce4", 0x2001, 0x1001, "hmac-sha256-128", "aes128gmac", true)
	})
	red1 := e.CE["ce-red-1"]

	t.Run("warning: integrity only", func(t *testing.T) {
		log, err := os.ReadFile(e.PE1.Proc.LogPath())
		must(t, err)
		if !strings.Contains(string(log), "AH tunnel: integrity only") {
			t.Errorf("pe1's log has no AH warning")
		}
	})

	t.Run("ping both ways in both VRFs", func(t *testing.T) {
		pelab.PingAcross(t, ctx, e.CE, 5)
	})

	t.Run("show ipsec sa: ah, integrity only", func(t *testing.T) {
		for _, sa := range ahSAs(t, ctx, e.PE1) {
			if sa.Protocol != "ah" || !sa.IntegrityOnly || sa.Packets == 0 {
				t.Errorf("pe1 SA %+v", sa)
			}
		}
	})

	time.Sleep(500 * time.Millisecond) // tcpdump -U: let the last packets land
	t.Run("tshark: AH with labels in clear, no ESP", func(t *testing.T) {
		out := tsharkFields(t, tshark, e.Capture, "ah", "ah.spi", "ah.sequence", "mpls.label", "ip.src")
		var ah, labelled int
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			if len(f) < 4 {
				continue
			}
			ah++
			if f[0] != "0x00001001" && f[0] != "0x00002001" {
				t.Errorf("AH SPI %s is not the lab's", f[0])
			}
			if f[2] != "" && (strings.Contains(f[3], "10.1.0.2") || strings.Contains(f[3], "10.2.0.2")) {
				labelled++ // the label and the CE's packet, dissected in clear
			}
		}
		if ah < 20 || labelled < 20 {
			t.Errorf("tshark saw %d AH packets, %d with a label and a CE address in clear:\n%s", ah, labelled, out)
		}
		if esp := strings.TrimSpace(tsharkFields(t, tshark, e.Capture, "esp", "esp.spi")); esp != "" {
			t.Errorf("ESP on the core of an AH tunnel:\n%s", esp)
		}
		t.Logf("tshark: %d AH packets, %d with MPLS label and CE packet in clear, no ESP", ah, labelled)
	})

	t.Run("a flipped bit is dropped as auth-failed, a replay as replayed", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		pkt := lastAH(t, e.Capture, 0x1001)
		before := ahSA(t, ctx, e.PE2, "in", 0x1001)
		// The window check comes before the ICV (RFC 4302 3.4.3), so a
		// tampered copy of an accepted packet would count as a replay:
		// move the copies' sequence number ahead (the ICV covers it),
		// then flip a bit in the CE's packet (the last byte) or in the
		// ICV (after the fixed header and GMAC's 8-byte IV).
		for i, at := range []int{len(pkt) - 1, 20 + 12 + 8 + 3} {
			bad := append([]byte(nil), pkt...)
			seq := binary.BigEndian.Uint32(bad[28:])
			binary.BigEndian.PutUint32(bad[28:], seq+100+uint32(i))
			bad[at] ^= 0x10
			inject(t, e.PE1.Node, bad)
		}
		inject(t, e.PE1.Node, pkt) // already accepted: a replay
		var after ahAPISA
		err := peers.Eventually(ctx, func(ctx context.Context) error {
			after = ahSA(t, ctx, e.PE2, "in", 0x1001)
			if after.Drops["auth-failed"]-before.Drops["auth-failed"] != 2 || after.Drops["replayed"]-before.Drops["replayed"] != 1 {
				return fmt.Errorf("drops %v, before %v", after.Drops, before.Drops)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("pe2's inbound SA: want auth-failed +2 and replayed +1: %v", err)
		}
		t.Logf("pe2's inbound AH SA: drops %v (before %v)", after.Drops, before.Drops)
		pelab.WaitPing(t, ctx, red1, "10.2.0.2") // the window did not move: the tunnel still works
		must(t, pelab.Ping(red1, "10.2.0.2", 3))
	})

	t.Run("kill -9 and restart pe1: its AH sequence (GMAC IV) continues", func(t *testing.T) {
		// A restarted pe1 that counted from 1 again would reuse GMAC
		// nonces under the manual key, and pe2's window would drop its
		// packets as replays. The sequence persists in state.directory.
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		before := ahSA(t, ctx, e.PE2, "in", 0x1001)
		time.Sleep(time.Second) // every packet of the old pe1 in the capture
		lastSeq := binary.BigEndian.Uint32(lastAH(t, e.Capture, 0x1001)[28:])
		must(t, syscall.Kill(e.PE1.Proc.Pid(), syscall.SIGKILL))
		<-e.PE1.Proc.Done()
		killed := time.Now()
		must(t, e.PE2.WaitSessionsDown(ctx))
		e.PE1 = startPE(t, e.PE1.Node, e.Cfg1)
		e.PE1.WaitImported(t, ctx, "red", "10.2.0.0/24 via 192.168.0.2 label * rd 65000:21", "fd00:2::/64 via 192.168.0.2 label * rd 65000:21")
		pelab.WaitPing(t, ctx, red1, "10.2.0.2")
		must(t, pelab.Ping(red1, "10.2.0.2", 3))
		after := ahSA(t, ctx, e.PE2, "in", 0x1001)
		if after.Drops["replayed"] != before.Drops["replayed"] || after.Drops["too-old"] != before.Drops["too-old"] {
			t.Errorf("pe2 dropped the restarted pe1's packets as replays: %v, before %v", after.Drops, before.Drops)
		}
		if after.Packets <= before.Packets {
			t.Errorf("pe2 opened nothing after the restart (%d, then %d)", before.Packets, after.Packets)
		}
		// tcpdump -U writes each packet as it comes; give it time to.
		var first uint32
		must(t, peers.Eventually(ctx, func(context.Context) error {
			var ok bool
			if first, ok = firstAHAfter(t, e.Capture, 0x1001, killed); !ok {
				return fmt.Errorf("no AH packet with SPI 0x1001 after the kill in %s yet", e.Capture)
			}
			return nil
		}))
		if first <= lastSeq {
			t.Errorf("restarted pe1 sealed with sequence %d, not above %d", first, lastSeq)
		} else {
			t.Logf("pe1 sealed up to sequence %d before kill -9, %d after the restart", lastSeq, first)
		}
	})
}

// firstAHAfter returns the sequence number of the first AH packet with
// SPI spi captured after since, and whether there is one.
func firstAHAfter(t *testing.T, capture string, spi uint32, since time.Time) (uint32, bool) {
	t.Helper()
	f, err := os.Open(capture)
	must(t, err)
	defer f.Close()
	r, err := pcap.NewReader(f)
	must(t, err)
	for {
		ts, data, err := r.ReadPacket()
		if err != nil {
			break
		}
		if r.LinkType() == pcap.LinkTypeEthernet && len(data) >= 14 {
			data = data[14:]
		}
		if ts.After(since) && len(data) >= 32 && data[0] == 0x45 && data[9] == 51 && binary.BigEndian.Uint32(data[24:]) == spi {
			return binary.BigEndian.Uint32(data[28:]), true
		}
	}
	return 0, false
}

// ahAPISA is one SA of /v1/ipsec/sa, decoded into the test's own struct.
type ahAPISA struct {
	Direction     string            `json:"direction"`
	SPI           uint32            `json:"spi"`
	Protocol      string            `json:"protocol"`
	IntegrityOnly bool              `json:"integrity-only"`
	Cipher        string            `json:"cipher"`
	ESN           bool              `json:"esn"`
	Packets       uint64            `json:"packets"`
	Drops         map[string]uint64 `json:"drops"`
}

func ahSAs(t *testing.T, ctx context.Context, p *pe) []ahAPISA {
	t.Helper()
	var sas []ahAPISA
	must(t, p.Get(ctx, "/v1/ipsec/sa", &sas))
	if len(sas) != 2 {
		t.Fatalf("%s has %d SAs: %+v", p.Name, len(sas), sas)
	}
	return sas
}

func ahSA(t *testing.T, ctx context.Context, p *pe, dir string, spi uint32) ahAPISA {
	t.Helper()
	for _, sa := range ahSAs(t, ctx, p) {
		if sa.Direction == dir && sa.SPI == spi {
			return sa
		}
	}
	t.Fatalf("%s has no %s SA 0x%x", p.Name, dir, spi)
	return ahAPISA{}
}

// tsharkFields runs tshark on a capture with a display filter and returns
// the fields, tab-separated, one packet a line.
func tsharkFields(t *testing.T, tshark, capture, filter string, fields ...string) string {
	t.Helper()
	args := []string{"-r", capture, "-Y", filter, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// lastAH returns the last IPv4 AH packet with SPI spi in the capture.
func lastAH(t *testing.T, capture string, spi uint32) []byte {
	t.Helper()
	last := lastAHOrNil(t, capture, spi)
	if last == nil {
		t.Fatalf("no AH packet with SPI 0x%x in %s", spi, capture)
	}
	return last
}

// lastAHOrNil is lastAH returning nil when the capture has no such
// packet (yet).
func lastAHOrNil(t *testing.T, capture string, spi uint32) []byte {
	t.Helper()
	f, err := os.Open(capture)
	must(t, err)
	defer f.Close()
	r, err := pcap.NewReader(f)
	must(t, err)
	var last []byte
	for {
		_, data, err := r.ReadPacket()
		if err != nil {
			break
		}
		if r.LinkType() == pcap.LinkTypeEthernet && len(data) >= 14 {
			data = data[14:]
		}
		if len(data) >= 32 && data[0] == 0x45 && data[9] == 51 && binary.BigEndian.Uint32(data[24:]) == spi {
			last = append([]byte(nil), data[:binary.BigEndian.Uint16(data[2:])]...)
		}
	}
	return last
}

// inject sends pkt, an IPv4 packet with its header, from node n: the test
// binary runs itself there (injectEnv).
func inject(t *testing.T, n *netns.Node, pkt []byte) {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	pelab.MustExec(t, n, "env", injectEnv+"="+hex.EncodeToString(pkt), exe)
}
