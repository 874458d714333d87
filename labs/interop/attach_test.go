package interop_test

// IPsec attachments: strongSwan (charon-systemd with kernel-libipsec) as
// a site's gateway, its tunnel-mode SAs ending in a VRF of pe1. The E2E
// lab (e2e_test.go, manual keys between the PEs) plus, on pe1:
//
//	site-red  10.9.0.2 ── gw-red  (strongSwan) 192.168.9.2 ──gwr┐
//	                      10.9.0.1                              │ pe1 ══ core ══ pe2 ─ce3─ ce-red-2  10.2.0.2
//	site-blue 10.9.0.2 ── gw-blue (strongSwan) 192.168.9.6 ──gwb┘ 192.168.0.1          ─ce4─ ce-blue-2 10.2.0.2
//
// Both sites are 10.9.0.0/24: gw-red's child ends in red, gw-blue's in
// blue. pe1 exports 10.9.0.0/24 in each VRF while the child is up, so
// ce-red-2 reaches site-red and ce-blue-2 site-blue across the PE-PE ESP
// core. gw-red proposes 10.9.0.0/23, which pe1 narrows to its
// site-prefixes 10.9.0.0/24; a packet sealed under gw-red's SA from
// 10.9.1.5 is then dropped and counted (ts-violation), and ce-red-2 sees
// nothing of it. strongSwan itself never sends outside the narrowed
// selectors, so that packet is sealed here with gw-red's outbound key,
// which charon logs at level 4 (chd = 4). Captures on the core and on
// both gateway links hold no CE address in clear.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peregrine-net/peregrine/internal/procstat"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/wire"
	"github.com/peregrine-net/peregrine/labs/internal/pelab"
	"github.com/peregrine-net/peregrine/labs/netns"
	"github.com/peregrine-net/peregrine/labs/peers"
)

const attachPE1Config = `
router: {id: 192.168.0.1, asn: 65000}
log: {level: debug}
dataplane: {backend: userspace}
bgp:
  api: ''
  neighbors: [{address: 192.168.0.2, asn: 65000, local-address: 192.168.0.1, connect-retry: 1s, hold-time: 9s}]
vrfs:
  - name: red
    rd: '65000:11'
    import-targets: ['65000:1']
    export-targets: ['65000:1']
    interfaces: [ce1]
    ipsec-attachments:
      - name: gw-red
        site-prefixes: [10.9.0.0/24]
        ike:
          remote-address: 192.168.9.2
          remote-id: gw-red.example
          psk-file: gw-red.psk
          ike-proposals: [aes128gcm16-prf-sha256-curve25519]
          esp-proposals: [aes128gcm16]
  - name: blue
    rd: '65000:12'
    import-targets: ['65000:2']
    export-targets: ['65000:2']
    interfaces: [ce2]
    ipsec-attachments:
      - name: gw-blue
        site-prefixes: [10.9.0.0/24]
        ike:
          remote-address: 192.168.9.6
          remote-id: gw-blue.example
          psk-file: gw-blue.psk
          child-lifetime: {soft: 4s, hard: 30s}
          dpd-interval: 2s
ipsec:
  local-address: 192.168.0.1
  tunnels:
    - remote: 192.168.0.2
      out: {spi: 4097, cipher: aes128gcm16, key-file: out.key}
      in: {spi: 8193, cipher: aes128gcm16, key-file: in.key}
`

const (
	attachPSKRed  = "gw-red-psk-do-not-log-0123456789"
	attachPSKBlue = "gw-blue-psk-do-not-log-0123456789"
)

// apiAttachment is one attachment as /v1/ipsec/attachments lists it.
type apiAttachment struct {
	Name      string            `json:"name"`
	VRF       string            `json:"vrf"`
	State     string            `json:"state"`
	SiteTS    []string          `json:"site-ts"`
	InSPI     uint32            `json:"in-spi"`
	InPackets uint64            `json:"in-packets"`
	Drops     map[string]uint64 `json:"drops"`
}

func TestE2EAttachmentStrongSwan(t *testing.T) {
	requireCharon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var gws map[string]*charon
	sites := map[string]*netns.Node{}
	e := buildE2EWith(t, ctx, func(pe1, pe2 *netns.Node) (string, string) {
		_, cfg2 := pelab.ManualKeyConfigs(t, pe1, pe2)
		dir := filepath.Join(pe1.Lab().Dir(), pe1.Name()+"-peregrined")
		must(t, os.WriteFile(filepath.Join(dir, "gw-red.psk"), []byte(attachPSKRed+"\n"), 0o600))
		must(t, os.WriteFile(filepath.Join(dir, "gw-blue.psk"), []byte(attachPSKBlue+"\n"), 0o600))
		gws = map[string]*charon{
			"red":  addGateway(t, pe1, "red", "gwr", "192.168.9.1/30", "192.168.9.2/30", "10.9.0.0/23", attachPSKRed, sites),
			"blue": addGateway(t, pe1, "blue", "gwb", "192.168.9.5/30", "192.168.9.6/30", "10.9.0.0/24", attachPSKBlue, sites),
		}
		return attachPE1Config, cfg2
	})
	red2, blue2 := e.CE["ce-red-2"], e.CE["ce-blue-2"]
	for _, g := range gws {
		g.initiate(t)
	}

	t.Run("attachments up, narrowed, exported in their VRFs only", func(t *testing.T) {
		for _, vrf := range []string{"red", "blue"} {
			a := waitAttachment(t, ctx, e.PE1, "gw-"+vrf, "up")
			if a.VRF != vrf || strings.Join(a.SiteTS, ",") != "10.9.0.0/24" {
				t.Errorf("%s: %+v", a.Name, a)
			}
		}
		out, _ := gws["red"].swanctl("--list-sas")
		t.Logf("gw-red:\n%s", out)
		if !regexp.MustCompile(`local\s+10\.9\.0\.0/24\s*\n\s*remote\s+10\.2\.0\.0/24`).MatchString(out) {
			t.Errorf("gw-red did not take the narrowed selectors (proposed 10.9.0.0/23):\n%s", out)
		}
		e.PE2.WaitImported(t, ctx, "red", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:11", "10.9.0.0/24 via 192.168.0.1 label * rd 65000:11", "fd00:1::/64 via 192.168.0.1 label * rd 65000:11")
		e.PE2.WaitImported(t, ctx, "blue", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:12", "10.9.0.0/24 via 192.168.0.1 label * rd 65000:12", "fd00:1::/64 via 192.168.0.1 label * rd 65000:12")
	})

	t.Run("a CE at pe2 pings the site behind its VRF's gateway, and back", func(t *testing.T) {
		for _, c := range []struct {
			vrf  string
			ce   *netns.Node
			site *netns.Node
		}{{"red", red2, sites["red"]}, {"blue", blue2, sites["blue"]}} {
			other := sites[map[string]string{"red": "blue", "blue": "red"}[c.vrf]]
			otherBefore := icmpInEchos(t, other)
			pelab.WaitPing(t, ctx, c.ce, "10.9.0.2")
			before := icmpInEchos(t, c.site)
			must(t, pelab.Ping(c.ce, "10.9.0.2", 10))
			if got := icmpInEchos(t, c.site) - before; got != 10 {
				t.Errorf("%s: the site's kernel counted %d echo requests for 10 pings", c.vrf, got)
			}
			// The other VRF's site, same address, got none of them.
			if got := icmpInEchos(t, other) - otherBefore; got != 0 {
				t.Errorf("%s's pings reached the other VRF's site: %d echo requests", c.vrf, got)
			}
			pelab.WaitPing(t, ctx, c.site, "10.2.0.2")
		}
	})

	t.Run("a packet from outside the selectors is dropped and counted, nothing enters the VRF", func(t *testing.T) {
		capture := filepath.Join(e.Lab.Dir(), "ce-red-2.pcap")
		tcpd, err := red2.Start("tcpdump", "-i", "eth0", "-U", "-n", "-w", capture, "icmp")
		must(t, err)
		time.Sleep(time.Second) // tcpdump opens its socket
		before := waitAttachment(t, ctx, e.PE1, "gw-red", "up")
		key := gws["red"].outboundKey(t)
		sa, err := esp.NewSA(esp.Config{SPI: before.InSPI, Cipher: esp.AES128GCM16, Key: key, InitialSeq: 1 << 20})
		must(t, err)
		// First from 10.9.1.5 (in what gw-red proposed, outside what
		// pe1 granted), then the same from 10.9.0.2: the second one
		// shows that the packets are sealed right, so the first one's
		// drop is the selectors'.
		for _, src := range []string{"10.9.1.5", "10.9.0.2"} {
			sendESP(t, gws["red"].Node, sealEcho(t, sa, src, "10.2.0.2", 0x7777))
		}
		var after apiAttachment
		wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
		defer wcancel()
		must(t, peers.Eventually(wctx, func(context.Context) error {
			after = waitAttachment(t, ctx, e.PE1, "gw-red", "up")
			if after.Drops["ts-violation"] < before.Drops["ts-violation"]+1 || after.InPackets < before.InPackets+1 {
				return fmt.Errorf("gw-red: %+v", after)
			}
			return nil
		}))
		t.Logf("gw-red after: in %d packets, drops %v", after.InPackets, after.Drops)
		time.Sleep(time.Second)
		must(t, tcpd.Stop())
		out := string(pelab.MustExec(t, red2, "tcpdump", "-r", capture, "-n", "icmp"))
		if strings.Contains(out, "10.9.1.5") {
			t.Errorf("ce-red-2 saw the packet from outside the selectors:\n%s", out)
		}
		if !strings.Contains(out, "IP 10.9.0.2 > 10.2.0.2: ICMP echo request, id 30583") {
			t.Errorf("ce-red-2 did not see the well-sealed control packet:\n%s", out)
		}
	})

	t.Run("continuous ping across a rekey of blue's child loses nothing", func(t *testing.T) {
		first := waitAttachment(t, ctx, e.PE1, "gw-blue", "up").InSPI
		const count = 250 // 25 s at 100 ms: past pe1's rekey, 17 s into the child (halfway between soft and hard as responder)
		pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
		defer pcancel()
		out, err := blue2.Exec(pctx, "ping", "-c", fmt.Sprint(count), "-i", "0.1", "-W", "1", "10.9.0.2")
		summary := string(out)
		if i := strings.Index(summary, "---"); i >= 0 {
			summary = summary[i:]
		}
		t.Logf("ping: %s", strings.ReplaceAll(summary, "\n", " | "))
		if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d packets transmitted, %d received", count, count)) {
			t.Errorf("ping lost packets across the rekey: %v\n%s", err, summary)
		}
		if now := waitAttachment(t, ctx, e.PE1, "gw-blue", "up").InSPI; now == first {
			t.Errorf("gw-blue's child was not rekeyed in %d s (in SPI still 0x%08x)", count/10, now)
		}
	})

	t.Run("a gateway that leaves takes its prefixes out of its VRF, at pe2 too", func(t *testing.T) {
		if out, err := gws["red"].swanctl("--terminate", "--ike", "pe1", "--timeout", "10"); err != nil {
			t.Fatalf("swanctl --terminate: %v\n%s", err, out)
		}
		waitAttachment(t, ctx, e.PE1, "gw-red", "down")
		e.PE2.WaitImported(t, ctx, "red", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:11", "fd00:1::/64 via 192.168.0.1 label * rd 65000:11")
		e.PE2.WaitImported(t, ctx, "blue", "10.1.0.0/24 via 192.168.0.1 label * rd 65000:12", "10.9.0.0/24 via 192.168.0.1 label * rd 65000:12", "fd00:1::/64 via 192.168.0.1 label * rd 65000:12")
	})

	t.Run("nothing in clear on the core or the gateways' links", func(t *testing.T) {
		for _, pcap := range []string{e.Capture, filepath.Join(e.Lab.Dir(), "gwr.pcap"), filepath.Join(e.Lab.Dir(), "gwb.pcap")} {
			checkCoreCapture(t, pcap)
		}
	})

	t.Run("PSKs never logged", func(t *testing.T) {
		log := e.PE1.Proc.LogTail(1000000)
		for _, psk := range []string{attachPSKRed, attachPSKBlue} {
			if strings.Contains(log, psk) {
				t.Error("pe1 logged an attachment's PSK")
			}
		}
	})
}

// waitAttachment waits until pe's attachment name is in state and returns
// it.
func waitAttachment(t *testing.T, ctx context.Context, p *pe, name, state string) apiAttachment {
	t.Helper()
	var got apiAttachment
	must(t, peers.Eventually(ctx, func(ctx context.Context) error {
		var as []apiAttachment
		if err := p.Get(ctx, "/v1/ipsec/attachments", &as); err != nil {
			return err
		}
		for _, a := range as {
			if a.Name == name {
				got = a
				if a.State == state {
					return nil
				}
			}
		}
		return fmt.Errorf("%s: attachment %s: %+v, want %s", p.Name, name, got, state)
	}))
	return got
}

// icmpInEchos is the echo requests n's kernel received (Icmp InEchos in
// the namespace's /proc/net/snmp).
func icmpInEchos(t *testing.T, n *netns.Node) uint64 {
	t.Helper()
	v, err := procstat.ParseSNMP(pelab.MustExec(t, n, "cat", "/proc/net/snmp"), "Icmp", "InEchos")
	if err != nil {
		t.Fatalf("%s: %v", n.Name(), err)
	}
	return uint64(v)
}

// addGateway adds a strongSwan gateway linked to pe1 on peIf, with a site
// host 10.9.0.2 behind it (10.9.0.1 on the gateway), and starts charon
// with a connection to pe1 that proposes localTS as its side.
func addGateway(t *testing.T, pe1 *netns.Node, vrf, peIf, peAddr, gwAddr, localTS, psk string, sites map[string]*netns.Node) *charon {
	t.Helper()
	l := pe1.Lab()
	gw, err := l.AddNode("gw-" + vrf)
	must(t, err)
	site, err := l.AddNode("site-" + vrf)
	must(t, err)
	sites[vrf] = site
	pelab.Link(t, l, pe1, peIf, peAddr, gw, "eth0", gwAddr)
	if _, err := pe1.Start("tcpdump", "-i", peIf, "-U", "-w", filepath.Join(l.Dir(), peIf+".pcap")); err != nil {
		t.Skipf("tcpdump: %v", err)
	}
	pelab.Link(t, l, gw, "site", "10.9.0.1/24", site, "eth0", "10.9.0.2/24")
	pelab.MustExec(t, site, "ip", "route", "add", "default", "via", "10.9.0.1")
	pelab.MustExec(t, gw, "ip", "route", "add", "192.168.0.0/30", "via", strings.TrimSuffix(peAddr, "/30"))
	pelab.MustExec(t, gw, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	c := startCharon(t, gw)
	self := strings.TrimSuffix(gwAddr, "/30")
	c.load(t, fmt.Sprintf(`connections {
  pe1 {
    version = 2
    local_addrs = %s
    remote_addrs = 192.168.0.1
    proposals = aes128gcm16-prfsha256-x25519
    local {
      auth = psk
      id = gw-%s.example
    }
    remote {
      auth = psk
      id = 192.168.0.1
    }
    children {
      site {
        local_ts = %s
        remote_ts = 10.2.0.0/24
        esp_proposals = aes128gcm16
        start_action = none
      }
    }
  }
}
secrets {
  ike-pe1 {
    id-1 = gw-%s.example
    id-2 = 192.168.0.1
    secret = "%s"
  }
}
`, self, vrf, localTS, vrf, psk))
	return c
}

// charon is a peers.Charon (kernel-libipsec, so ESP in UDP 4500; PEERS.md).
type charon struct {
	*peers.Charon
	node *netns.Node
	dir  string
}

func requireCharon(t *testing.T) {
	t.Helper()
	if missing := peers.CharonMissing(); missing != "" {
		t.Skipf("needs %s", missing)
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("needs /usr/bin/python3")
	}
}

func startCharon(t *testing.T, n *netns.Node) *charon {
	t.Helper()
	dir := filepath.Join(n.Lab().Dir(), n.Name()+"-charon")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "charon.log"))
			t.Logf("--- %s charon.log (last 4000 bytes) ---\n%s", n.Name(), tail(string(b), 4000))
		}
	})
	// chd = 4 logs the child SAs' keys: the test seals with one.
	c, err := peers.StartCharon(context.Background(), n, peers.CharonConfig{Dir: dir, ChildLogLevel: 4})
	must(t, err)
	return &charon{Charon: c, node: n, dir: dir}
}

func (c *charon) swanctl(args ...string) (string, error) { return c.Swanctl(args...) }

func (c *charon) load(t *testing.T, conf string) {
	t.Helper()
	must(t, c.Load(conf))
}

// initiate brings the connection's child up (retrying while pe1 starts).
func (c *charon) initiate(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	must(t, peers.Eventually(ctx, func(context.Context) error {
		out, err := c.swanctl("--initiate", "--child", "site", "--timeout", "10")
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", c.Node.Name(), err, tail(out, 2000))
		}
		return nil
	}))
}

// keyDumpRE finds charon's level-4 dump of a child's initiator-to-responder
// encryption key (the gateway initiates: its outbound key).
var keyDumpRE = regexp.MustCompile(`encryption initiator key => (\d+) bytes @ \S+\n((?:.*\n)+?)(?:.*encryption responder key)`)

// outboundKey reads the gateway's newest outbound ESP key (key || salt)
// from charon's log.
func (c *charon) outboundKey(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "charon.log"))
	must(t, err)
	ms := keyDumpRE.FindAllStringSubmatch(string(b), -1)
	if len(ms) == 0 {
		t.Fatalf("no key dump in %s's charon.log", c.Node.Name())
	}
	m := ms[len(ms)-1]
	var n int
	fmt.Sscan(m[1], &n)
	var key []byte
	hexByte := regexp.MustCompile(`^[0-9A-F]{2}$`)
	for _, line := range strings.Split(m[2], "\n") {
		_, dump, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(dump) {
			if !hexByte.MatchString(f) || len(key) == n {
				break
			}
			v, _ := hex.DecodeString(f)
			key = append(key, v...)
		}
	}
	if len(key) != n {
		t.Fatalf("key dump: %d of %d bytes", len(key), n)
	}
	return key
}

// sealEcho seals an ICMP echo request src -> dst in tunnel mode (next
// header 4) and returns the ESP packet, the payload of a UDP 4500
// datagram.
func sealEcho(t *testing.T, sa *esp.SA, src, dst string, id uint16) []byte {
	t.Helper()
	const n = 64
	p := make([]byte, n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], n)
	p[8], p[9] = 64, 1
	s, d := pfx(src+"/32").Addr().As4(), pfx(dst+"/32").Addr().As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	binary.BigEndian.PutUint16(p[10:], wire.Checksum(p[:20]))
	p[20] = 8
	binary.BigEndian.PutUint16(p[24:], id)
	binary.BigEndian.PutUint16(p[26:], 1)
	binary.BigEndian.PutUint16(p[22:], wire.Checksum(p[20:]))
	buf := make([]byte, esp.Headroom+n+esp.MaxTrailer)
	copy(buf[esp.Headroom:], p)
	out, err := sa.Seal(buf, esp.Headroom, n, esp.NextHeaderIPv4)
	must(t, err)
	return append([]byte(nil), out...)
}

// sendESP sends pkt from node to pe1's UDP port 4500 (python3: the test
// process cannot enter the node's namespace).
func sendESP(t *testing.T, node *netns.Node, pkt []byte) {
	t.Helper()
	pelab.MustExec(t, node, "python3", "-c",
		"import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(bytes.fromhex(sys.argv[1]), ('192.168.0.1', 4500))",
		hex.EncodeToString(pkt))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
