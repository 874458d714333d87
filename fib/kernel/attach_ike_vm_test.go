package kernel

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// The site gateways and hosts of the attachment VM tests: an ipsec/ike
// initiator whose child SAs go into the VM kernel's XFRM, and what the
// tests send and look for on the wire.

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
	}, "aes128gcm16", func(ike.ChildSA) netip.Prefix { return pfx("10.9.0.0/24") }, true)
}

// startInitiator runs an IKEv2 initiator (ipsec/ike) in ns with peer
// (tunnel mode, AES-128-GCM and the test's PSK added), installs each
// child SA it negotiates into ns's XFRM in tunnel mode for the inner
// prefix site names (forwarded too, with fwd), and returns the first
// child SA, the NAT-T socket (UDP 4500, on which the kernel opens
// ESP-in-UDP) and the runner.
func startInitiator(t *testing.T, ns netns.NsHandle, peer ike.PeerConfig, suite string, site func(ike.ChildSA) netip.Prefix, fwd bool) (ike.ChildSA, *net.UDPConn, *ike.Runner) {
	t.Helper()
	var proposal ike.ESPProposal
	if err := proposal.UnmarshalText([]byte(suite)); err != nil {
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
//	ip xfrm state add src GW dst PE proto esp spi OUT mode tunnel aead 'rfc4106(gcm(aes))' KEY 128 (or enc cbc(aes) auth-trunc ...) [encap espinudp 4500 4500 0.0.0.0] [flag esn]
//	ip xfrm state add src PE dst GW proto esp spi IN  mode tunnel aead ...
//	ip xfrm policy add src SITE dst 0.0.0.0/0 dir out tmpl src GW dst PE proto esp mode tunnel
//	ip xfrm policy add src 0.0.0.0/0 dst SITE dir in (and fwd) tmpl src PE dst GW proto esp mode tunnel
func installXFRMChild(h *netlink.Handle, c ike.ChildSA, sitePrefix netip.Prefix, fwd bool) error {
	algos := func(st *netlink.XfrmState, key []byte) {
		st.Aead = &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: key, ICVLen: 128}
	}
	if c.Cipher != esp.AES128GCM16 && c.Cipher != esp.AES256GCM16 {
		i := slices.IndexFunc(xfrmSuites, func(s xfrmSuite) bool { return s.cipher == c.Cipher })
		if i < 0 {
			return fmt.Errorf("cipher %v: no XFRM algorithms for it here (xfrmSuites)", c.Cipher)
		}
		algos = xfrmSuites[i].algos
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
			Spi: int(x.spi), ReplayWindow: 32, ESN: c.ESN}
		algos(st, x.key)
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
