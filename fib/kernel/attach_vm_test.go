package kernel

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// attachPEConfig is one kernel-backend PE with red and blue, both
// 10.1.0.0/24 on ce1 and ce2, and a CE gateway's IPsec attachment into
// red: %[1]s the control socket, %[2]s the PSK file.
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
      - name: gw-red
        site-prefixes: [10.9.0.0/24, 'fd00:9::/64']
        ike:
          remote-address: 192.168.9.2
          remote-id: gw-red.example
          psk-file: %[2]s
          esp-proposals: [aes128gcm16]
  - {name: blue, rd: '65000:2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [ce2]}
ipsec:
  local-address: 192.168.9.1
`

const attachPSK = "kernel-backend-attachment-psk"

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
	pe1, red1, blue1, gw, site := newNS(t), newNS(t), newNS(t), newNS(t), newNS(t)
	link(t, pe1, "ce1", "10.1.0.1/24", red1, "eth0", "10.1.0.2/24")
	link(t, pe1, "ce2", "10.1.0.1/24", blue1, "eth0", "10.1.0.2/24")
	link(t, pe1, "gwr", "192.168.9.1/30", gw, "eth0", "192.168.9.2/30")
	link(t, gw, "eth1", "10.9.0.1/24", site, "eth0", "10.9.0.2/24")
	defaultVia(t, red1, "10.1.0.1")
	defaultVia(t, blue1, "10.1.0.1")
	defaultVia(t, site, "10.9.0.1")
	defaultVia(t, gw, "192.168.9.1")
	if err := onThreadIn(gw, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	psk, sock := filepath.Join(dir, "gw-red.psk"), filepath.Join(dir, "pe1.sock")
	if err := os.WriteFile(psk, []byte(attachPSK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startPeregrined(t, pe1, "pe1", fmt.Sprintf(attachPEConfig, sock, psk))

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

// startSiteGateway runs an IKEv2 initiator (ipsec/ike) in gw for the
// site 10.9.0.0/24 toward pe1 (192.168.9.1), installs each child SA it
// negotiates into gw's XFRM in tunnel mode, with the policies that send
// the site's traffic through it, and returns the first child SA, the
// NAT-T socket (UDP 4500, on which the kernel opens ESP-in-UDP) and the
// runner.
func startSiteGateway(t *testing.T, gw netns.NsHandle) (ike.ChildSA, *net.UDPConn, *ike.Runner) {
	t.Helper()
	return startInitiator(t, gw, ike.PeerConfig{
		Name: "pe1", LocalAddr: netip.MustParseAddr("192.168.9.2"), RemoteAddr: netip.MustParseAddr("192.168.9.1"),
		LocalID:  ike.FQDNIdentity("gw-red.example"),
		LocalTS:  []ike.TrafficSelector{ike.TSFromPrefix(pfx("10.9.0.0/24")), ike.TSFromPrefix(pfx("fd00:9::/64"))},
		RemoteTS: []ike.TrafficSelector{ike.TSFromPrefix(pfx("0.0.0.0/0")), ike.TSFromPrefix(pfx("::/0"))},
	}, func(ike.ChildSA) netip.Prefix { return pfx("10.9.0.0/24") }, true)
}

// startInitiator runs an IKEv2 initiator (ipsec/ike) in ns with peer
// (tunnel mode, AES-128-GCM and the test's PSK added), installs each
// child SA it negotiates into ns's XFRM in tunnel mode for the inner
// prefix site names (forwarded too, with fwd), and returns the first
// child SA, the NAT-T socket (UDP 4500, on which the kernel opens
// ESP-in-UDP) and the runner.
func startInitiator(t *testing.T, ns netns.NsHandle, peer ike.PeerConfig, site func(ike.ChildSA) netip.Prefix, fwd bool) (ike.ChildSA, *net.UDPConn, *ike.Runner) {
	t.Helper()
	var proposal ike.ESPProposal
	if err := proposal.UnmarshalText([]byte("aes128gcm16")); err != nil {
		t.Fatal(err)
	}
	peer.PSK, peer.ESP, peer.Mode, peer.Initiate = ike.NewPSK([]byte(attachPSK)), []ike.ESPProposal{proposal}, ike.Tunnel, true
	e, err := ike.NewEngine(ike.Config{Peers: []ike.PeerConfig{peer}, Retransmit: 500 * time.Millisecond, Tries: 20})
	if err != nil {
		t.Fatal(err)
	}
	local := net.UDPAddr{IP: peer.LocalAddr.AsSlice()}
	var c500, c4500 *net.UDPConn
	if err := onThreadIn(ns, func() error {
		var err error
		local.Port = 500
		if c500, err = net.ListenUDP("udp4", &local); err != nil {
			return err
		}
		local.Port = 4500
		if c4500, err = net.ListenUDP("udp4", &local); err != nil {
			return err
		}
		// ip xfrm's ESP-in-UDP: the kernel takes ESP off this socket
		// (RFC 3948) and leaves IKE, behind its zero marker, to us.
		raw, err := c4500.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_ENCAP, unix.UDP_ENCAP_ESPINUDP)
		}); err != nil {
			return err
		}
		return serr
	}); err != nil {
		t.Fatal(err)
	}
	r, err := ike.NewRunnerConns(e, c500, c4500)
	if err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE, unix.NETLINK_XFRM)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	children := make(chan ike.ChildSA, 4)
	installed := make(chan error, 4)
	r.OnChildSA(func(c ike.ChildSA) {
		installed <- installXFRMChild(h, c, site(c), fwd)
		children <- c
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case err := <-installed:
		if err != nil {
			t.Fatalf("installing the child SA into XFRM: %v", err)
		}
		return <-children, c4500, r
	case <-time.After(60 * time.Second):
		t.Fatal("no child SA with pe1 within 60 s")
	}
	return ike.ChildSA{}, nil, nil
}

// installXFRMChild is
//
//	ip xfrm state add src GW dst PE proto esp spi OUT mode tunnel aead 'rfc4106(gcm(aes))' KEY 128 [encap espinudp 4500 4500 0.0.0.0] [flag esn]
//	ip xfrm state add src PE dst GW proto esp spi IN  mode tunnel aead ...
//	ip xfrm policy add src SITE dst 0.0.0.0/0 dir out tmpl src GW dst PE proto esp mode tunnel
//	ip xfrm policy add src 0.0.0.0/0 dst SITE dir in (and fwd) tmpl src PE dst GW proto esp mode tunnel
func installXFRMChild(h *netlink.Handle, c ike.ChildSA, sitePrefix netip.Prefix, fwd bool) error {
	if c.Cipher != esp.AES128GCM16 && c.Cipher != esp.AES256GCM16 {
		return fmt.Errorf("cipher %v: only AES-GCM is installed here", c.Cipher)
	}
	gwA, peA := c.Local.Addr().AsSlice(), c.Remote.Addr().AsSlice()
	site := &net.IPNet{IP: sitePrefix.Addr().AsSlice(), Mask: net.CIDRMask(sitePrefix.Bits(), 32)}
	anyNet := &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	for _, x := range []struct {
		src, dst []byte
		spi      uint32
		key      []byte
	}{{gwA, peA, c.OutSPI, c.OutKey.Bytes()}, {peA, gwA, c.InSPI, c.InKey.Bytes()}} {
		st := &netlink.XfrmState{Src: x.src, Dst: x.dst, Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL,
			Spi: int(x.spi), ReplayWindow: 32, ESN: c.ESN, Aead: &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: x.key, ICVLen: 128}}
		if c.UDPEncap {
			sport, dport := c.Local.Port(), c.Remote.Port()
			if x.spi == c.InSPI {
				sport, dport = dport, sport
			}
			st.Encap = &netlink.XfrmStateEncap{Type: netlink.XFRM_ENCAP_ESPINUDP, SrcPort: int(sport), DstPort: int(dport),
				OriginalAddress: net.IPv4zero}
		}
		if err := h.XfrmStateAdd(st); err != nil {
			return fmt.Errorf("state 0x%x: %w", x.spi, err)
		}
	}
	type pol struct {
		src, dst *net.IPNet
		dir      netlink.Dir
		from, to []byte
	}
	pols := []pol{{site, anyNet, netlink.XFRM_DIR_OUT, gwA, peA}, {anyNet, site, netlink.XFRM_DIR_IN, peA, gwA}}
	if fwd {
		pols = append(pols, pol{anyNet, site, netlink.XFRM_DIR_FWD, peA, gwA})
	}
	for _, p := range pols {
		pol := &netlink.XfrmPolicy{Src: p.src, Dst: p.dst, Dir: p.dir,
			Tmpls: []netlink.XfrmPolicyTmpl{{Src: p.from, Dst: p.to, Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL}}}
		if err := h.XfrmPolicyUpdate(pol); err != nil {
			return fmt.Errorf("policy %v: %w", p.dir, err)
		}
	}
	return nil
}

// onlyIKEAndESP fails the test for every IPv4 frame that is neither ESP
// (raw, or in UDP 4500 with a non-zero SPI) nor IKE (UDP 500 or 4500) and
// returns how many were ESP, by source: between the PE and a site's
// gateway nothing of the VRF travels in clear.
func onlyIKEAndESP(t *testing.T, what string, frames []frame) map[string]int {
	t.Helper()
	esps := map[string]int{}
	for _, f := range frames {
		if f.proto != unix.ETH_P_IP || len(f.data) < 20 {
			continue
		}
		src := netip.AddrFrom4([4]byte(f.data[12:16]))
		switch proto := f.data[9]; {
		case proto == unix.IPPROTO_ESP:
			esps[src.String()]++
		case proto == unix.IPPROTO_UDP && len(f.data) >= 28 && binary.BigEndian.Uint16(f.data[22:]) == 500:
		case proto == unix.IPPROTO_UDP && len(f.data) >= espAt+8 && binary.BigEndian.Uint16(f.data[22:]) == 4500:
			if binary.BigEndian.Uint32(f.data[espAt:]) != 0 {
				esps[src.String()]++
			}
		default:
			t.Errorf("%s: an IPv4 packet in clear, protocol %d, %v -> %v", what, proto,
				src, netip.AddrFrom4([4]byte(f.data[16:20])))
		}
	}
	return esps
}

// echoesFrom counts the ICMP echo requests from src among frames.
func echoesFrom(frames []frame, src string) int {
	n := 0
	for _, f := range frames {
		if f.proto == unix.ETH_P_IP && len(f.data) >= 28 && f.data[9] == unix.IPPROTO_ICMP &&
			netip.AddrFrom4([4]byte(f.data[12:16])) == netip.MustParseAddr(src) && f.data[int(f.data[0]&0x0f)*4] == 8 {
			n++
		}
	}
	return n
}

// echoRequest is an IPv4 ICMP echo request from src to dst.
func echoRequest(src, dst string, id uint16) []byte {
	p := make([]byte, 20+16)
	p[0], p[8], p[9] = 0x45, 64, unix.IPPROTO_ICMP
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], inetChecksum(p[:20]))
	icmp := p[20:]
	icmp[0] = 8
	binary.BigEndian.PutUint16(icmp[4:], id)
	binary.BigEndian.PutUint16(icmp[2:], inetChecksum(icmp))
	return p
}

func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// attachPoolConfig is attachPEConfig with a remote-access pool in red
// instead of a gateway: %[1]s the control socket, %[2]s the PSK file.
const attachPoolConfig = `router: {id: 192.168.9.1, asn: 65000}
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
      - name: ra-red
        kind: pool
        pool: 10.77.0.0/24
        remote-ids: [host.example]
        ike: {psk-file: %[2]s, esp-proposals: [aes128gcm16]}
  - {name: blue, rd: '65000:2', import-targets: ['65000:2'], export-targets: ['65000:2'], interfaces: [ce2]}
ipsec:
  local-address: 192.168.9.1
`

// TestPeregrinedPoolAttachmentKernel: a remote-access host (kind: pool)
// under the kernel backend. The host, the VM kernel's XFRM keyed by an
// ipsec/ike initiator that asks for an address, is leased one from red's
// pool; pe1 routes that address alone through pga-red, and the host,
// from it, pings red's CE, while blue's CE at the same address sees
// nothing and the link carries only IKE and ESP.
//
//	host 192.168.9.6, leased 10.77.0.x (XFRM) ══ hst 192.168.9.5 pe1 ─ce1─ red1  10.1.0.2
//	                                                                ─ce2─ blue1 10.1.0.2
func TestPeregrinedPoolAttachmentKernel(t *testing.T) {
	requirePeregrined(t)
	pe1, red1, blue1, host := newNS(t), newNS(t), newNS(t), newNS(t)
	link(t, pe1, "ce1", "10.1.0.1/24", red1, "eth0", "10.1.0.2/24")
	link(t, pe1, "ce2", "10.1.0.1/24", blue1, "eth0", "10.1.0.2/24")
	link(t, pe1, "hst", "192.168.9.5/30", host, "eth0", "192.168.9.6/30")
	// The PE's address on the link is ipsec.local-address.
	if err := handle(t, pe1).AddrAdd(mustLink(t, pe1, "hst"), mustAddr(t, "192.168.9.1/32")); err != nil {
		t.Fatal(err)
	}
	defaultVia(t, red1, "10.1.0.1")
	defaultVia(t, blue1, "10.1.0.1")
	defaultVia(t, host, "192.168.9.5")
	dir := t.TempDir()
	psk, sock := filepath.Join(dir, "ra.psk"), filepath.Join(dir, "pe1.sock")
	if err := os.WriteFile(psk, []byte(attachPSK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startPeregrined(t, pe1, "pe1", fmt.Sprintf(attachPoolConfig, sock, psk))

	child, _, _ := startInitiator(t, host, ike.PeerConfig{
		Name: "pe1", LocalAddr: netip.MustParseAddr("192.168.9.6"), RemoteAddr: netip.MustParseAddr("192.168.9.1"),
		LocalID: ike.FQDNIdentity("host.example"), RequestAddress: true,
		LocalTS:  []ike.TrafficSelector{ike.TSFromPrefix(pfx("0.0.0.0/0"))},
		RemoteTS: []ike.TrafficSelector{ike.TSFromPrefix(pfx("0.0.0.0/0"))},
	}, func(c ike.ChildSA) netip.Prefix { return netip.PrefixFrom(c.VirtualIP4, 32) }, false)
	vip := child.VirtualIP4
	if !pfx("10.77.0.0/24").Contains(vip) {
		t.Fatalf("leased %v, want an address of 10.77.0.0/24", vip)
	}
	if err := handle(t, host).AddrAdd(mustLink(t, host, "lo"), mustAddr(t, vip.String()+"/32")); err != nil {
		t.Fatal(err)
	}

	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if err = pingFrom(host, vip, "10.1.0.2", 81); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("host %v -> red's CE through the pool: %v\nvrf red:\n%s", vip, err, vrfKernelRoutes(t, pe1, "vrf-red"))
	}
	if routes := vrfKernelRoutes(t, pe1, "vrf-red"); !strings.Contains(routes, vip.String()+" dev pga-red") {
		t.Errorf("vrf red has no route to the leased address through pga-red:\n%s", routes)
	}
	var toBlue, toRed []frame
	onLink := captureFrames(t, pe1, "hst", true, func() {
		toBlue = captureCore(t, blue1, "eth0", func() {
			toRed = captureCore(t, red1, "eth0", func() {
				if err := pingFrom(host, vip, "10.1.0.2", 82); err != nil {
					t.Errorf("host -> red's CE: %v", err)
				}
			})
		})
	})
	if echoesFrom(toRed, vip.String()) == 0 {
		t.Error("red's CE got no echo request from the host")
	}
	if n := echoesFrom(toBlue, vip.String()); n != 0 {
		t.Errorf("blue's CE got %d echo requests from red's host", n)
	}
	if esps := onlyIKEAndESP(t, "pe1-host link", onLink); esps["192.168.9.1"] == 0 || esps["192.168.9.6"] == 0 {
		t.Errorf("ESP packets on the link during a ping, by source: %v; want both ways", esps)
	}
}

func mustLink(t *testing.T, ns netns.NsHandle, name string) netlink.Link {
	t.Helper()
	l, err := handle(t, ns).LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustAddr(t *testing.T, s string) *netlink.Addr {
	t.Helper()
	a, err := netlink.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// addIPv6 puts address (without DAD) on ifn in ns and, if gw is set, a
// default route through it.
func addIPv6(t *testing.T, ns netns.NsHandle, ifn, address, gw string) {
	t.Helper()
	h := handle(t, ns)
	a := mustAddr(t, address)
	a.Flags = unix.IFA_F_NODAD
	if err := h.AddrAdd(mustLink(t, ns, ifn), a); err != nil {
		t.Fatalf("%s %s: %v", ifn, address, err)
	}
	if gw != "" {
		if err := h.RouteAdd(&netlink.Route{Dst: &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}, Gw: net.ParseIP(gw)}); err != nil {
			t.Fatalf("default via %s: %v", gw, err)
		}
	}
}

// echoRequest6 is an ICMPv6 echo request from src to dst.
func echoRequest6(src, dst string, id uint16) []byte {
	p := make([]byte, 40+16)
	p[0], p[6], p[7] = 0x60, unix.IPPROTO_ICMPV6, 64
	binary.BigEndian.PutUint16(p[4:], 16)
	s, d := addr(src).As16(), addr(dst).As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	icmp := p[40:]
	icmp[0] = 128
	binary.BigEndian.PutUint16(icmp[4:], id)
	pseudo := make([]byte, 0, 40+len(icmp))
	pseudo = append(pseudo, p[8:40]...)
	pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(icmp)))
	pseudo = append(pseudo, 0, 0, 0, unix.IPPROTO_ICMPV6)
	pseudo = append(pseudo, icmp...)
	binary.BigEndian.PutUint16(icmp[2:], inetChecksum(pseudo))
	return p
}

// echoesFrom6 counts the ICMPv6 echo requests among frames.
func echoesFrom6(frames []frame) int {
	n := 0
	for _, f := range frames {
		if f.proto == unix.ETH_P_IPV6 && len(f.data) > 40 && f.data[6] == unix.IPPROTO_ICMPV6 && f.data[40] == 128 {
			n++
		}
	}
	return n
}
