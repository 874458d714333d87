package kernel

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// xfrmSuite is one ESP transform as the kernel's XFRM and our esp package
// each name it.
type xfrmSuite struct {
	cipher esp.Cipher
	// algos fills in the XFRM state's algorithms from our key material.
	algos func(st *netlink.XfrmState, key []byte)
}

var xfrmSuites = []xfrmSuite{
	{esp.AES128GCM16, func(st *netlink.XfrmState, key []byte) {
		// Key and salt, as ours.
		st.Aead = &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: key, ICVLen: 128}
	}},
	{esp.AES256CBCSHA256, cbcAlgos("hmac(sha256)", 32, 128)},
	{esp.AES128CBCSHA512, cbcAlgos("hmac(sha512)", 16, 256)},
}

// cbcAlgos splits AES-CBC key material (AES key, then HMAC key) into the
// kernel's encryption and truncated-authentication algorithms, as
// "ip xfrm state ... enc 'cbc(aes)' KEY auth-trunc 'hmac(sha256)' KEY 128".
func cbcAlgos(auth string, aesLen, truncBits int) func(*netlink.XfrmState, []byte) {
	return func(st *netlink.XfrmState, key []byte) {
		st.Crypt = &netlink.XfrmStateAlgo{Name: "cbc(aes)", Key: key[:aesLen]}
		st.Auth = &netlink.XfrmStateAlgo{Name: auth, Key: key[aesLen:], TruncateLen: truncBits}
	}
}

// TestESPAgainstKernelXFRM checks Peregrine's ESP against an independent
// implementation, the kernel's, for AES-GCM (rfc4106(gcm(aes))) and for
// AES-CBC with HMAC-SHA-256-128 and HMAC-SHA-512-256 (cbc(aes) with
// auth-trunc hmac(sha256), hmac(sha512)): namespace A has XFRM SAs and
// policies (tunnel mode) for inner 192.168.10.1 <-> .2; B has none and
// plays the other end with ipsec/esp over a raw ESP socket. A ping from A
// leaves sealed by the kernel and Peregrine must open it; three echo
// requests Peregrine seals must each be counted as opened by the kernel's
// SA (with a wrong key the kernel counts integrity failures instead, and
// the test fails).
func TestESPAgainstKernelXFRM(t *testing.T) {
	requireVM(t)
	for _, s := range xfrmSuites {
		t.Run(s.cipher.String(), func(t *testing.T) { testESPAgainstKernelXFRM(t, s) })
	}
}

func testESPAgainstKernelXFRM(t *testing.T, s xfrmSuite) {
	a, b := newNS(t), newNS(t)
	link(t, a, "eth0", "10.9.0.1/24", b, "eth0", "10.9.0.2/24")
	keyAB, keyBA := make([]byte, s.cipher.KeyLen()), make([]byte, s.cipher.KeyLen())
	for i := range keyAB {
		keyAB[i], keyBA[i] = byte(0x11+i), byte(0x77+i)
	}
	outer := func(addr string) net.IP { return net.ParseIP(addr).To4() }
	inner := func(addr string) *net.IPNet {
		return &net.IPNet{IP: net.ParseIP(addr).To4(), Mask: net.CIDRMask(32, 32)}
	}
	// XFRM needs its own netlink family: a route-only handle would send
	// the SAs to the caller's namespace.
	ha, err := netlink.NewHandleAt(a, unix.NETLINK_ROUTE, unix.NETLINK_XFRM)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	lo, _ := ha.LinkByName("lo")
	innerA, _ := netlink.ParseAddr("192.168.10.1/32")
	if err := ha.AddrAdd(lo, innerA); err != nil {
		t.Fatal(err)
	}
	eth, _ := ha.LinkByName("eth0")
	if err := ha.RouteAdd(&netlink.Route{Dst: inner("192.168.10.2"), LinkIndex: eth.Attrs().Index, Src: net.ParseIP("192.168.10.1").To4(), Scope: netlink.SCOPE_LINK}); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		src, dst string
		spi      int
		key      []byte
		dir      netlink.Dir
		isrc     string
		idst     string
	}{
		{"10.9.0.2", "10.9.0.1", 0x2001, keyBA, netlink.XFRM_DIR_IN, "192.168.10.2", "192.168.10.1"},
		{"10.9.0.1", "10.9.0.2", 0x1001, keyAB, netlink.XFRM_DIR_OUT, "192.168.10.1", "192.168.10.2"},
	} {
		st := &netlink.XfrmState{Src: outer(x.src), Dst: outer(x.dst), Proto: netlink.XFRM_PROTO_ESP,
			Mode: netlink.XFRM_MODE_TUNNEL, Spi: x.spi}
		s.algos(st, x.key)
		if err := ha.XfrmStateAdd(st); err != nil {
			t.Fatalf("XFRM state 0x%x: %v", x.spi, err)
		}
		pol := &netlink.XfrmPolicy{Src: inner(x.isrc), Dst: inner(x.idst), Dir: x.dir,
			Tmpls: []netlink.XfrmPolicyTmpl{{Src: outer(x.src), Dst: outer(x.dst), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL, Spi: x.spi}}}
		if err := ha.XfrmPolicyAdd(pol); err != nil {
			t.Fatalf("XFRM policy %v: %v", x.dir, err)
		}
	}

	out, err := esp.NewSA(esp.Config{SPI: 0x2001, Cipher: s.cipher, Key: keyBA})
	if err != nil {
		t.Fatal(err)
	}
	in, err := esp.NewSA(esp.Config{SPI: 0x1001, Cipher: s.cipher, Key: keyAB})
	if err != nil {
		t.Fatal(err)
	}
	// Kernel seals: a ping from A's inner address leaves through the out
	// policy; Peregrine, listening for raw ESP in B, opens it.
	got, err := espReceive(b, in, func() { _ = ping(a, "192.168.10.2", 0x5eed) })
	if err != nil {
		t.Errorf("kernel-sealed packet: %v", err)
	} else if got != 0x5eed {
		t.Errorf("kernel-sealed packet carries echo id 0x%x, want 0x5eed", got)
	}
	// Peregrine seals: the kernel's SA counts what it opened.
	for seq := uint16(1); seq <= 3; seq++ {
		if err := espSend(b, out, seq); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	states, err := ha.XfrmStateList(netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.Spi == 0x2001 && st.Statistics.Packets != 3 {
			t.Errorf("the kernel opened %d of Peregrine's 3 packets (integrity failures %d, replays %d)", st.Statistics.Packets, st.Statistics.Failed, st.Statistics.Replay)
		}
	}
	if c := in.Counters(); c.OpenedPackets < 1 || c.AuthFailed != 0 {
		t.Errorf("Peregrine opened %d kernel packets, %d failed authentication", c.OpenedPackets, c.AuthFailed)
	}
}

// espSend, in ns, seals an ICMP echo request 192.168.10.2 -> .1 with out
// and sends it as raw ESP to 10.9.0.1.
func espSend(ns netns.NsHandle, out *esp.SA, seq uint16) error {
	return onThreadIn(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ESP)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		pkt := make([]byte, 28+16)
		if err := wire.PutIPv4(pkt, wire.IPv4Fields{Src: netip.MustParseAddr("192.168.10.2"), Dst: netip.MustParseAddr("192.168.10.1"),
			Protocol: 1, TTL: 64, PayloadLen: 24}); err != nil {
			return err
		}
		icmp := pkt[20:]
		icmp[0] = 8
		binary.BigEndian.PutUint16(icmp[4:], 0x5eed)
		binary.BigEndian.PutUint16(icmp[6:], seq)
		binary.BigEndian.PutUint16(icmp[2:], wire.Checksum(icmp))
		buf := make([]byte, esp.Headroom+len(pkt)+esp.MaxTrailer)
		copy(buf[esp.Headroom:], pkt)
		sealed, err := out.Seal(buf, esp.Headroom, len(pkt), esp.NextHeaderIPv4)
		if err != nil {
			return err
		}
		return unix.Sendto(fd, sealed, 0, &unix.SockaddrInet4{Addr: [4]byte{10, 9, 0, 1}})
	})
}

// espReceive, in ns, opens raw ESP packets with in while send runs, and
// returns the ICMP id of the first inner echo request it opens.
func espReceive(ns netns.NsHandle, in *esp.SA, send func()) (uint16, error) {
	var got uint16
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- onThreadIn(ns, func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ESP)
			if err != nil {
				close(ready)
				return err
			}
			defer unix.Close(fd)
			tv := unix.Timeval{Sec: 2}
			_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
			close(ready)
			rbuf := make([]byte, 2048)
			for {
				n, _, err := unix.Recvfrom(fd, rbuf[esp.ScratchLen:], 0)
				if err != nil {
					return err
				}
				ihl := int(rbuf[esp.ScratchLen]&0x0f) * 4
				off := esp.ScratchLen + ihl
				payload, nh, err := in.Open(rbuf[:off+n-ihl], off, n-ihl)
				if err != nil || nh != esp.NextHeaderIPv4 || len(payload) < 28 {
					continue
				}
				if payload[20] == 8 {
					got = binary.BigEndian.Uint16(payload[24:])
					return nil
				}
			}
		})
	}()
	<-ready
	send()
	return got, <-errc
}
