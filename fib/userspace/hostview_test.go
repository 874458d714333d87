package userspace

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
)

// hostViewIfaces is how many CE-like interfaces TestHostViewBytes
// makes, each with an IPv4 and an IPv6 address (a local and a broadcast
// route, a local and a multicast route in the local table).
const hostViewIfaces = 200

// maxHostViewBytesPerIface bounds what the host view, which lives from
// one link or address change to the next, holds per interface (issue
// 23: every CE interface of every VRF is in it).
const maxHostViewBytesPerIface = 1024

// TestHostViewBytes: the host view keeps each interface's index,
// addresses and mirrored local routes in a compact form, not the netlink
// objects they were parsed from.
func TestHostViewBytes(t *testing.T) {
	inNewNS(t, func(h *netlink.Handle) {
		for i := range hostViewIfaces {
			d := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("ce%d", i)}, PeerName: fmt.Sprintf("cep%d", i)}
			if err := h.LinkAdd(d); err != nil {
				t.Fatal(err)
			}
			for _, a := range []string{fmt.Sprintf("10.%d.%d.1/24", i/250, i%250), fmt.Sprintf("fd00:%x::1/64", i)} {
				ad, _ := netlink.ParseAddr(a)
				ad.Flags = 0x02 // IFA_F_NODAD: the address is usable at once
				if err := h.AddrAdd(d, ad); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.LinkSetUp(d); err != nil {
				t.Fatal(err)
			}
		}
		s := &system{h: h}
		heap0 := liveHeapBytes()
		v, err := s.readHost()
		if err != nil {
			t.Fatal(err)
		}
		held := liveHeapBytes() - heap0
		runtime.KeepAlive(v)
		n := 0
		for _, rs := range v.local {
			n += len(rs)
		}
		if n < 2*hostViewIfaces {
			t.Fatalf("the view mirrors %d local routes of %d interfaces, want at least 2 each", n, hostViewIfaces)
		}
		per := held / hostViewIfaces
		t.Logf("host view: %d bytes per interface (%d local routes)", per, n)
		if per > maxHostViewBytesPerIface {
			t.Errorf("the host view holds %d bytes per interface, want at most %d", per, maxHostViewBytesPerIface)
		}
	})
}
