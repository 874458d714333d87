package kernel

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// attachPEConfig is one kernel-backend PE with red and blue, both
// 10.1.0.0/24 on ce1 and ce2, and an IPsec attachment into red: %[1]s the
// control socket, %[2]s the attachment (attachGateway, attachPool, its
// PSK file filled in).
const attachPEConfig = `router: {id: 192.168.9.1, asn: 65000}
dataplane: {backend: kernel}
control: {socket: %[1]s}
bgp:
  api: ''
  neighbors: [{address: 192.168.0.2, asn: 65000, local-address: 192.168.9.1, families: [vpnv4], connect-retry: 1s}]
vrfs:
  - name: red
    rd: '65000:1'
    import-targets: ['65000:1']
    export-targets: ['65000:1']
    interfaces: [ce1]
    ipsec-attachments:
%[2]s  - {name: blue, rd: '65000:2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [ce2]}
ipsec:
  local-address: 192.168.9.1
`

// attachGateway is a CE gateway's attachment (kind gateway, the
// default) for attachPEConfig: %[1]s the PSK file.
const attachGateway = `      - name: gw-red
        site-prefixes: [10.9.0.0/24, 'fd00:9::/64']
        ike:
          remote-address: 192.168.9.2
          remote-id: gw-red.example
          psk-file: %[1]s
          esp-proposals: [aes128gcm16]
`

const attachPSK = "kernel-backend-attachment-psk"

// newAttachCEs makes pe1 and, on ce1 and ce2, red's and blue's CE at the
// same address 10.1.0.2, each with its default route via pe1.
func newAttachCEs(t *testing.T) (pe1, red1, blue1 netns.NsHandle) {
	t.Helper()
	pe1, red1, blue1 = newNS(t), newNS(t), newNS(t)
	link(t, pe1, "ce1", "10.1.0.1/24", red1, "eth0", "10.1.0.2/24")
	link(t, pe1, "ce2", "10.1.0.1/24", blue1, "eth0", "10.1.0.2/24")
	defaultVia(t, red1, "10.1.0.1")
	defaultVia(t, blue1, "10.1.0.1")
	return pe1, red1, blue1
}

// startAttachPE runs peregrined in pe1 with attachPEConfig and attachment
// (attachGateway, attachPool) keyed by attachPSK, and returns its control
// socket.
func startAttachPE(t *testing.T, pe1 netns.NsHandle, attachment string) (sock string) {
	t.Helper()
	dir := t.TempDir()
	psk, sock := filepath.Join(dir, "attachment.psk"), filepath.Join(dir, "pe1.sock")
	if err := os.WriteFile(psk, []byte(attachPSK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startPeregrined(t, pe1, "pe1", fmt.Sprintf(attachPEConfig, sock, fmt.Sprintf(attachment, psk)))
	return sock
}

// TestPeregrinedAttachmentKernel: a kernel-backend PE carries an IPsec
// attachment of kind gateway into red. The CE gateway is an independent
// IPsec implementation, the VM kernel's XFRM in tunnel mode, keyed by an
// IKEv2 initiator this test runs in the gateway's namespace (ipsec/ike):
//
//	site 10.9.0.2 ── gw (XFRM) 192.168.9.2 ══ gwr 192.168.9.1 pe1 ─ce1─ red1  10.1.0.2
//	                 10.9.0.1                                      ─ce2─ blue1 10.1.0.2
//
// The site pings red's CE; blue's CE, at the same address, sees nothing;
// the PE-gateway link carries only IKE and ESP; a packet sealed under the
// gateway's SA from outside the selectors (10.8.0.5) is dropped and
// counted ts-violation, reaching no CE; the kernel has pga-red enslaved
// to vrf-red with MPLS input off, routes the site through it and answers
// PMTU in the VRF; the site is exported with red's RD; IPv6 of the site
// crosses both ways under the same SA; deleting the IKE SA takes pga-red,
// the route and the export away, and nothing leaves toward the site.
func TestPeregrinedAttachmentKernel(t *testing.T) {
	requirePeregrined(t)
	pe1, red1, blue1 := newAttachCEs(t)
	gw, site := newNS(t), newNS(t)
	link(t, pe1, "gwr", "192.168.9.1/30", gw, "eth0", "192.168.9.2/30")
	link(t, gw, "eth1", "10.9.0.1/24", site, "eth0", "10.9.0.2/24")
	defaultVia(t, site, "10.9.0.1")
	defaultVia(t, gw, "192.168.9.1")
	if err := onThreadIn(gw, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	sock := startAttachPE(t, pe1, attachGateway)

	child, natt, ikeRunner := startSiteGateway(t, gw)
	if !child.UDPEncap {
		// peregrined's attachments float to 4500 (encapsulation udp,
		// the default); the captures below read ESP-in-UDP.
		t.Fatalf("child SA %v is raw ESP; want ESP-in-UDP", child)
	}

	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if err = ping(site, "10.1.0.2", 71); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("site -> red's CE through the attachment: %v\nvrf red:\n%s", err, vrfKernelRoutes(t, pe1, "vrf-red"))
	}

	// Path MTU: pga-red's MTU is dataplane.mtu (1400), and the kernel
	// answers a larger packet that must not be fragmented from inside
	// the VRF.
	if typ, _, _, err := probe(red1, "10.9.0.2", 61, 1400); err != nil || typ != 0 {
		t.Errorf("a 1400-byte DF echo to the site: ICMP type %d, %v; want an echo reply", typ, err)
	}
	if typ, code, mtu, err := probe(red1, "10.9.0.2", 62, 1450); err != nil || typ != 3 || code != 4 || mtu != 1400 {
		t.Errorf("a 1450-byte DF echo to the site: ICMP type %d code %d mtu %d, %v; want fragmentation needed, mtu 1400", typ, code, mtu, err)
	}

	// Exported to the VRF's other PEs with red's RD.
	eventually(t, 10*time.Second, "the site exported as a VPN route", func() string {
		if got := vpnPrefixes(t, sock); !slices.Contains(got, "65000:1 10.9.0.0/24") {
			return fmt.Sprintf("VPN routes %v lack 65000:1 10.9.0.0/24", got)
		}
		return ""
	})

	// The kernel's side: the route, the TUN in the VRF, no MPLS input.
	if routes := vrfKernelRoutes(t, pe1, "vrf-red"); !strings.Contains(routes, "10.9.0.0/24 dev pga-red") {
		t.Errorf("vrf red has no route to the site through pga-red:\n%s", routes)
	}
	if l := ipShow(t, pe1, "link", "show", "pga-red"); !strings.Contains(l, "master vrf-red") {
		t.Errorf("pga-red is not in vrf-red: %s", l)
	}
	var input []byte
	_ = onThreadIn(pe1, func() error {
		input, err = os.ReadFile("/proc/sys/net/mpls/conf/pga-red/input")
		return err
	})
	if strings.TrimSpace(string(input)) != "0" {
		t.Errorf("pga-red MPLS input %q (%v), want 0: a site must never inject labels", input, err)
	}

	// Red's CE answers; blue's, at the same address, sees nothing; the
	// link carries IKE and ESP alone, each way. Captured on pe1's side,
	// both ways: on the gateway's, XFRM hands the opened packets to
	// the capture too.
	var toBlue, toRed []frame
	onLink := captureFrames(t, pe1, "gwr", true, func() {
		toBlue = captureCore(t, blue1, "eth0", func() {
			toRed = captureCore(t, red1, "eth0", func() {
				if err := ping(site, "10.1.0.2", 72); err != nil {
					t.Errorf("site -> red's CE: %v", err)
				}
			})
		})
	})
	if n := echoesFrom(toRed, "10.9.0.2"); n == 0 {
		t.Error("red's CE got no echo request from the site")
	}
	if n := echoesFrom(toBlue, "10.9.0.2"); n != 0 {
		t.Errorf("blue's CE got %d echo requests from red's site", n)
	}
	esps := onlyIKEAndESP(t, "pe1-gw link", onLink)
	if esps["192.168.9.1"] == 0 || esps["192.168.9.2"] == 0 {
		t.Errorf("ESP packets on the link during a ping, by source: %v; want both ways", esps)
	}

	// Outside the selectors: sealed under the gateway's own outbound SA,
	// past the sequence numbers its kernel used, and dropped.
	sa, err := esp.NewSA(child.OutConfig())
	if err != nil {
		t.Fatal(err)
	}
	inner := echoRequest("10.8.0.5", "10.1.0.2", 74)
	buf := make([]byte, 64+len(inner)+64)
	for range 1000 { // the kernel's SA has sent a few dozen at most
		copy(buf[64:], inner)
		if _, err := sa.Seal(buf, 64, len(inner), esp.NextHeaderIPv4); err != nil {
			t.Fatal(err)
		}
	}
	copy(buf[64:], inner)
	pkt, err := sa.Seal(buf, 64, len(inner), esp.NextHeaderIPv4)
	if err != nil {
		t.Fatal(err)
	}
	leaked := captureCore(t, red1, "eth0", func() {
		if _, err := natt.WriteToUDPAddrPort(pkt, child.Remote); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	})
	if n := echoesFrom(leaked, "10.8.0.5"); n != 0 {
		t.Errorf("a packet from outside the selectors reached red's CE (%d)", n)
	}
	eventually(t, 5*time.Second, "ts-violation counted", func() string {
		var as []struct {
			Name  string            `json:"name"`
			State string            `json:"state"`
			Drops map[string]uint64 `json:"drops"`
		}
		body := apiGet(t, sock, "/v1/ipsec/attachments")
		if err := json.Unmarshal(body, &as); err != nil {
			return err.Error()
		}
		for _, a := range as {
			if a.Name == "gw-red" && a.Drops["ts-violation"] == 1 {
				return ""
			}
		}
		return "attachments: " + string(body)
	})

	// IPv6 through the same SA: an echo request sealed here (the
	// gateway's XFRM states are IPv4 only) from fd00:9::2 enters red by
	// pga-red, red's CE answers, and pe1 seals the reply for the site
	// under the child SA: opened with the gateway's inbound key, it is
	// the echo reply, next header 41.
	addIPv6(t, pe1, "ce1", "fd00:1::1/64", "")
	addIPv6(t, red1, "eth0", "fd00:1::2/64", "fd00:1::1")
	addIPv6(t, blue1, "eth0", "fd00:1::2/64", "fd00:1::1")
	var replies int
	for try := 0; try < 10 && replies == 0; try++ {
		req := echoRequest6("fd00:9::2", "fd00:1::2", uint16(90+try))
		copy(buf[64:], req)
		pkt6, err := sa.Seal(buf, 64, len(req), esp.NextHeaderIPv6)
		if err != nil {
			t.Fatal(err)
		}
		var toBlue6 []frame
		frames := captureFrames(t, pe1, "gwr", true, func() {
			toBlue6 = captureCore(t, blue1, "eth0", func() {
				if _, err := natt.WriteToUDPAddrPort(pkt6, child.Remote); err != nil {
					t.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond)
			})
		})
		if len(toBlue6) > 0 && echoesFrom6(toBlue6) > 0 {
			t.Error("blue's CE got red's site's IPv6 echo request")
		}
		open, err := esp.NewSA(child.InConfig(0))
		if err != nil {
			t.Fatal(err)
		}
		for _, pkt := range espOnCore(t, "pe1 -> gw IPv6", frames) {
			if binary.BigEndian.Uint32(pkt[espAt:]) != child.InSPI {
				continue
			}
			payload, nh, err := open.Open(pkt, espAt, len(pkt)-espAt)
			if err == nil && nh == esp.NextHeaderIPv6 && len(payload) >= 48 && payload[6] == unix.IPPROTO_ICMPV6 && payload[40] == 129 &&
				netip.AddrFrom16([16]byte(payload[24:40])) == addr("fd00:9::2") {
				replies++
			}
		}
	}
	if replies == 0 {
		t.Error("no IPv6 echo reply sealed for the site")
	}

	// Show output: the attachment TUN with its counters.
	var ifs []struct {
		Name, Kind string
		Counters   *struct {
			OutPackets uint64 `json:"out-packets"`
			InPackets  uint64 `json:"in-packets"`
		}
	}
	body := apiGet(t, sock, "/v1/interfaces")
	if err := json.Unmarshal(body, &ifs); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, i := range ifs {
		if i.Name == "pga-red" {
			found = i.Counters != nil && i.Counters.InPackets > 0 && i.Counters.OutPackets > 0
		}
	}
	if !found {
		t.Errorf("show interfaces has no pga-red with packets both ways: %s", body)
	}
	if strings.Contains(body2str(body, apiGet(t, sock, "/v1/ipsec/attachments")), attachPSK) {
		t.Error("the PSK appears in show output")
	}

	// The gateway deletes its IKE SA: the attachment goes, and with it
	// pga-red and the site's route; the gateway's XFRM still seals with
	// the old SA, which the PE no longer knows, and nothing comes back
	// in clear.
	if err := ikeRunner.Do(t.Context(), func(e *ike.Engine) { _ = e.Delete("pe1") }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "pga-red and its route gone", func() string {
		routes := vrfKernelRoutes(t, pe1, "vrf-red")
		links := ipShow(t, pe1, "link", "show")
		if strings.Contains(routes, "10.9.0.0/24") || strings.Contains(links, "pga-red") {
			return "vrf red:\n" + routes + "links:\n" + links
		}
		return ""
	})
	eventually(t, 10*time.Second, "the site's VPN route withdrawn", func() string {
		if got := vpnPrefixes(t, sock); slices.Contains(got, "65000:1 10.9.0.0/24") {
			return fmt.Sprintf("still exported: %v", got)
		}
		return ""
	})
	after := captureFrames(t, pe1, "gwr", true, func() {
		toRed = captureCore(t, red1, "eth0", func() {
			if err := ping(site, "10.1.0.2", 75); err == nil {
				t.Error("the site still reaches red's CE after its IKE SA was deleted")
			}
		})
	})
	if n := echoesFrom(toRed, "10.9.0.2"); n != 0 {
		t.Errorf("red's CE got %d echo requests after the attachment went", n)
	}
	if esps := onlyIKEAndESP(t, "pe1-gw link after the delete", after); esps["192.168.9.1"] != 0 {
		t.Errorf("pe1 still sends ESP to the site after the attachment went: %v", esps)
	}
}

func body2str(bs ...[]byte) string {
	var b strings.Builder
	for _, x := range bs {
		b.Write(x)
	}
	return b.String()
}
