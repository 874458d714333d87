package ah

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// The Linux kernel's XFRM AH (ah4, ah6: "ip xfrm state add ... proto ah
// ... auth-trunc 'hmac(sha256)' KEY 128") is the independent oracle for
// our HMAC-SHA-256-128 AH, in the VM (labs/vm), whose kernel has XFRM:
//
//	 netns A (kernel AH)                      netns B (Peregrine AH)
//	+----------------------+   veth pair    +-----------------------------+
//	| eth0 10.9.0.1        |----------------| eth0 10.9.0.2               |
//	|      fd00:9::1       |                |      fd00:9::2              |
//	| lo   192.168.10.1    |                | AF_PACKET socket: captures  |
//	|      fd00:10::1      |                | AH, Opens it; Seals AH and  |
//	| XFRM SAs + policies  |                | sends it to A's MAC         |
//	| (UDP only), UDP :50001                |                             |
//	+----------------------+                +-----------------------------+
//
// Kernel seals: A sends a UDP datagram, its out policy seals it with AH,
// and Peregrine in B must open it and find the datagram. Peregrine seals:
// B sends A a datagram with a flipped ICV bit, one with a flipped bit in
// the protected IP header (the IPv4 ID or the IPv6 source address), then
// a good one; A's UDP socket must receive only the good one, and the
// kernel's SA must count one packet and two integrity failures. Both
// ways, in tunnel and transport mode, over IPv4 and IPv6, with and
// without ESN. AES-GMAC is not
// in Linux's AH (it takes hash algorithms only), so it has no kernel peer.

const vmPort = 50001

type vmCase struct {
	v6, tunnel, esn bool
}

func (c vmCase) String() string {
	mode := "transport"
	if c.tunnel {
		mode = "tunnel"
	}
	return fmt.Sprintf("v6=%v/%s/esn=%v", c.v6, mode, c.esn)
}

func TestAHAgainstKernelXFRM(t *testing.T) {
	if os.Getenv("PEREGRINE_VM") == "" {
		t.Skip("needs a kernel with XFRM AH (ah4, ah6): run go run ./labs/vm -pkg ./ipsec/ah")
	}
	for _, v6 := range []bool{false, true} {
		for _, tunnel := range []bool{false, true} {
			for _, esn := range []bool{false, true} {
				c := vmCase{v6, tunnel, esn}
				t.Run(c.String(), func(t *testing.T) { testAHAgainstKernel(t, c) })
			}
		}
	}
}

// vmAddrs are the outer (link) and inner (tunnel) addresses of A and B.
type vmAddrs struct{ outerA, outerB, innerA, innerB netip.Addr }

func addrsFor(v6 bool) vmAddrs {
	if v6 {
		return vmAddrs{netip.MustParseAddr("fd00:9::1"), netip.MustParseAddr("fd00:9::2"),
			netip.MustParseAddr("fd00:10::1"), netip.MustParseAddr("fd00:10::2")}
	}
	return vmAddrs{netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2"),
		netip.MustParseAddr("192.168.10.1"), netip.MustParseAddr("192.168.10.2")}
}

func testAHAgainstKernel(t *testing.T, c vmCase) {
	ad := addrsFor(c.v6)
	a, b := newNS(t), newNS(t)
	ha := nlHandle(t, a)
	hb := nlHandle(t, b)
	ethA, ethB := veth(t, ha, hb, a, b)
	bits := 24
	if c.v6 {
		bits = 64
	}
	addAddr(t, ha, ethA, netip.PrefixFrom(ad.outerA, bits))
	addAddr(t, hb, ethB, netip.PrefixFrom(ad.outerB, bits))
	// Which addresses the policies select: the inner ones in tunnel mode.
	selA, selB := ad.outerA, ad.outerB
	if c.tunnel {
		selA, selB = ad.innerA, ad.innerB
		lo, _ := ha.LinkByName("lo")
		addAddr(t, ha, lo, netip.PrefixFrom(ad.innerA, ad.innerA.BitLen()))
		if err := ha.RouteAdd(&netlink.Route{Dst: ipNet(netip.PrefixFrom(ad.innerB, ad.innerB.BitLen())),
			LinkIndex: ethA.Attrs().Index, Src: net.IP(ad.innerA.AsSlice()), Scope: netlink.SCOPE_LINK}); err != nil {
			t.Fatalf("route to the inner address: %v", err)
		}
	}

	keyAB, keyBA := testKey(HMACSHA256128, 0x11), testKey(HMACSHA256128, 0x77)
	mode := netlink.XFRM_MODE_TRANSPORT
	if c.tunnel {
		mode = netlink.XFRM_MODE_TUNNEL
	}
	for _, x := range []struct {
		src, dst, ssrc, sdst netip.Addr
		spi                  int
		key                  []byte
		dir                  netlink.Dir
	}{
		{ad.outerA, ad.outerB, selA, selB, 0x1001, keyAB, netlink.XFRM_DIR_OUT},
		{ad.outerB, ad.outerA, selB, selA, 0x2001, keyBA, netlink.XFRM_DIR_IN},
	} {
		// ip xfrm state add src S dst D proto ah spi SPI mode M
		//   auth-trunc 'hmac(sha256)' KEY 128 replay-window 64 [flag esn]
		// (with ESN the kernel starts at 0 too: the high half it puts
		// in the ICV is 0, which an implementation that left it out
		// would still get wrong)
		st := &netlink.XfrmState{Src: net.IP(x.src.AsSlice()), Dst: net.IP(x.dst.AsSlice()), Proto: netlink.XFRM_PROTO_AH,
			Mode: mode, Spi: x.spi, ReplayWindow: 64, ESN: c.esn,
			Auth: &netlink.XfrmStateAlgo{Name: "hmac(sha256)", Key: x.key, TruncateLen: 128}}
		if err := ha.XfrmStateAdd(st); err != nil {
			t.Fatalf("XFRM AH state 0x%x: %v", x.spi, err)
		}
		// ip xfrm policy add src SSRC dst SDST proto udp dir DIR tmpl ...
		pol := &netlink.XfrmPolicy{Src: ipNet(netip.PrefixFrom(x.ssrc, x.ssrc.BitLen())), Dst: ipNet(netip.PrefixFrom(x.sdst, x.sdst.BitLen())),
			Proto: netlink.Proto(unix.IPPROTO_UDP), Dir: x.dir,
			Tmpls: []netlink.XfrmPolicyTmpl{{Src: net.IP(x.src.AsSlice()), Dst: net.IP(x.dst.AsSlice()), Proto: netlink.XFRM_PROTO_AH, Mode: mode, Spi: x.spi}}}
		if err := ha.XfrmPolicyAdd(pol); err != nil {
			t.Fatalf("XFRM policy %v: %v", x.dir, err)
		}
	}
	in := mustSA(t, Config{SPI: 0x1001, Integ: HMACSHA256128, Key: keyAB, ManualKey: true, ESN: c.esn})
	out := mustSA(t, Config{SPI: 0x2001, Integ: HMACSHA256128, Key: keyBA, ManualKey: true, ESN: c.esn})

	capFD := packetSocket(t, b, ethB.Attrs().Index)
	udpA := udpSocket(t, a, selA)

	// Kernel seals, Peregrine opens.
	msg := []byte("sealed by the kernel")
	if err := onThreadIn(a, func() error { return udpSend(selA, selB, msg) }); err != nil {
		t.Fatalf("UDP send in A: %v", err)
	}
	pkt := captureAH(t, capFD)
	kernelPkt := append([]byte(nil), pkt...)
	var udpGot []byte
	if c.tunnel {
		inner, nh, err := in.Open(pkt, 0, len(pkt))
		if err != nil {
			t.Fatalf("Peregrine cannot open the kernel's AH packet: %v\n%x", err, kernelPkt)
		}
		if want := map[bool]uint8{false: NextHeaderIPv4, true: NextHeaderIPv6}[c.v6]; nh != want {
			t.Fatalf("next header %d, want %d", nh, want)
		}
		udpGot = udpPayload(t, inner)
	} else {
		ip, err := in.OpenTransport(pkt, 0, len(pkt))
		if err != nil {
			t.Fatalf("Peregrine cannot open the kernel's AH packet: %v\n%x", err, kernelPkt)
		}
		udpGot = udpPayload(t, ip)
	}
	if !bytes.Equal(udpGot, msg) {
		t.Fatalf("opened datagram %q, want %q", udpGot, msg)
	}
	// A flipped ICV bit of the kernel's packet: Peregrine refuses it.
	h := IPv4HeaderLen
	if c.v6 {
		h = IPv6HeaderLen
	}
	bad := append([]byte(nil), kernelPkt...)
	bad[h+FixedLen+3] ^= 0x10
	rx := mustSA(t, Config{SPI: 0x1001, Integ: HMACSHA256128, Key: keyAB, ESN: c.esn})
	if _, _, err := rx.Open(bad, 0, len(bad)); err != ErrAuthFailed {
		t.Fatalf("kernel packet with a flipped ICV bit: %v", err)
	}

	// Peregrine seals, the kernel opens: two tampered, then a good one.
	macA := ethA.Attrs().HardwareAddr
	for k, tamper := range []string{"icv", "header", ""} {
		body := fmt.Sprintf("sealed by Peregrine %d", k)
		p := sealForKernel(t, out, c, ad, selB, selA, []byte(body))
		switch tamper {
		case "icv":
			p[h+FixedLen] ^= 0x01
		case "header":
			if c.v6 {
				p[8+15] ^= 0x01 // last bit of the source address
			} else {
				p[4] ^= 0x80 // the IPv4 ID, with a checksum to match,
				// as an attacker would, so that IP passes it to AH
				setIPv4Checksum(p[:IPv4HeaderLen])
			}
		}
		if err := packetSend(capFD, ethB.Attrs().Index, macA, c.v6, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := udpRecv(udpA)
	if err != nil {
		t.Fatalf("A received nothing of Peregrine's packets: %v", err)
	}
	if string(got) != "sealed by Peregrine 2" {
		t.Fatalf("A received %q first, want only the untampered \"sealed by Peregrine 2\"", got)
	}
	fam := netlink.FAMILY_V4
	if c.v6 {
		fam = netlink.FAMILY_V6
	}
	states, err := ha.XfrmStateList(fam)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, st := range states {
		if st.Spi == 0x2001 {
			found = true
			if st.Statistics.Packets != 1 || st.Statistics.Failed != 2 {
				t.Errorf("kernel SA 0x2001: %d packets, %d integrity failures, want 1 and 2", st.Statistics.Packets, st.Statistics.Failed)
			}
		}
	}
	if !found {
		t.Error("kernel SA 0x2001 not listed")
	}
}

// sealForKernel builds a UDP datagram from src to dst port vmPort and
// seals it with out: in tunnel mode inside an outer header B -> A, in
// transport mode as is.
func sealForKernel(t *testing.T, out *SA, c vmCase, ad vmAddrs, src, dst netip.Addr, body []byte) []byte {
	t.Helper()
	var ip []byte
	if c.v6 {
		ip = ipv6Packet(src, dst, 17, 8+len(body))
		copy(ip[IPv6HeaderLen+8:], body)
		ip = udp(ip, IPv6HeaderLen)
	} else {
		ip = ipv4Packet(src, dst, 17, 8+len(body))
		copy(ip[IPv4HeaderLen+8:], body)
		ip = udp(ip, IPv4HeaderLen)
	}
	h := IPv4HeaderLen
	if c.v6 {
		h = IPv6HeaderLen
	}
	binary.BigEndian.PutUint16(ip[h+2:], vmPort)
	binary.BigEndian.PutUint16(ip[h+6:], 0)
	binary.BigEndian.PutUint16(ip[h+6:], wire.UpperChecksum(src, dst, 17, ip[h:]))
	if c.tunnel {
		nh := NextHeaderIPv4
		if c.v6 {
			nh = NextHeaderIPv6
		}
		return sealTunnel(t, out, ip, nh, ad.outerB, ad.outerA)
	}
	return sealTransport(t, out, ip)
}

// udpPayload returns the payload of the UDP datagram in the IP packet ip.
func udpPayload(t *testing.T, ip []byte) []byte {
	t.Helper()
	h := IPv4HeaderLen
	if ip[0]>>4 == 6 {
		h = IPv6HeaderLen
	}
	if len(ip) < h+8 {
		t.Fatalf("no UDP datagram in %x", ip)
	}
	return ip[h+8:]
}

// captureAH reads packets from the AF_PACKET socket fd until one carries
// AH and returns it (from its IP header).
func captureAH(t *testing.T, fd int) []byte {
	t.Helper()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		p := buf[:n]
		if (n >= IPv4HeaderLen && p[0]>>4 == 4 && p[ipv4Protocol] == ProtoAH) ||
			(n >= IPv6HeaderLen && p[0]>>4 == 6 && p[ipv6NextHeader] == ProtoAH) {
			return append([]byte(nil), p...)
		}
	}
	t.Fatal("no AH packet captured in 3 s: the kernel did not seal")
	return nil
}

// packetSocket opens, in ns, an AF_PACKET datagram socket (IP packets
// without the Ethernet header) on interface ifindex.
func packetSocket(t *testing.T, ns netns.NsHandle, ifindex int) int {
	t.Helper()
	var fd int
	err := onThreadIn(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		tv := unix.Timeval{Usec: 200000}
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex})
	})
	if err != nil {
		t.Fatalf("AF_PACKET socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// packetSend sends the IP packet p out of ifindex to the MAC address mac.
func packetSend(fd, ifindex int, mac net.HardwareAddr, v6 bool, p []byte) error {
	proto := uint16(unix.ETH_P_IP)
	if v6 {
		proto = unix.ETH_P_IPV6
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex, Halen: 6}
	copy(sa.Addr[:], mac)
	return unix.Sendto(fd, p, 0, sa)
}

// udpSocket opens, in ns, a UDP socket bound to addr port vmPort.
func udpSocket(t *testing.T, ns netns.NsHandle, addr netip.Addr) int {
	t.Helper()
	var fd int
	err := onThreadIn(ns, func() error {
		var err error
		fd, err = unix.Socket(family(addr), unix.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		tv := unix.Timeval{Sec: 2}
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		return unix.Bind(fd, sockaddr(addr, vmPort))
	})
	if err != nil {
		t.Fatalf("UDP socket on %v: %v", addr, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func udpRecv(fd int) ([]byte, error) {
	buf := make([]byte, 2048)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// udpSend sends msg from src (port 50000) to dst port vmPort, in the
// calling thread's namespace.
func udpSend(src, dst netip.Addr, msg []byte) error {
	fd, err := unix.Socket(family(src), unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, sockaddr(src, 50000)); err != nil {
		return err
	}
	// The first datagram may wait on ARP or ND; send a few.
	for range 3 {
		if err := unix.Sendto(fd, msg, 0, sockaddr(dst, vmPort)); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func sockaddr(a netip.Addr, port int) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4(), Port: port}
	}
	return &unix.SockaddrInet6{Addr: a.As16(), Port: port}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// newNS makes an unnamed network namespace; the calling thread stays put.
func newNS(t *testing.T) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	err := func() error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return err
		}
		defer func() { _ = netns.Set(orig); orig.Close() }()
		ns, err = netns.New()
		return err
	}()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// nlHandle is a route and XFRM netlink handle in ns.
func nlHandle(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE, unix.NETLINK_XFRM)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	lo, err := h.LinkByName("lo")
	if err == nil {
		_ = h.LinkSetUp(lo)
	}
	return h
}

// veth makes a veth pair with one end, eth0, in each namespace, up.
func veth(t *testing.T, ha, hb *netlink.Handle, a, b netns.NsHandle) (netlink.Link, netlink.Link) {
	t.Helper()
	if err := ha.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "peer0", PeerNamespace: netlink.NsFd(b)}); err != nil {
		t.Fatalf("veth: %v", err)
	}
	la, err := ha.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := hb.LinkByName("peer0")
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.LinkSetName(lb, "eth0"); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		h *netlink.Handle
		l netlink.Link
	}{{ha, la}, {hb, lb}} {
		if err := x.h.LinkSetUp(x.l); err != nil {
			t.Fatal(err)
		}
	}
	la, _ = ha.LinkByName("eth0")
	lb, _ = hb.LinkByName("eth0")
	return la, lb
}

func addAddr(t *testing.T, h *netlink.Handle, l netlink.Link, p netip.Prefix) {
	t.Helper()
	a := &netlink.Addr{IPNet: ipNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("address %v: %v", p, err)
	}
}

// onThreadIn runs f on a thread in ns.
func onThreadIn(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}
