package main

import (
	"net"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestKernelHasWhatTheBackendNeeds runs inside the VM (make vm-test): a VRF
// device, an MPLS route, an XFRM AES-GCM state and AES-CBC + HMAC-SHA2
// states can be made. It is the
// VM runner's own check that the modules it loads are the right ones.
func TestKernelHasWhatTheBackendNeeds(t *testing.T) {
	if os.Getenv("PEREGRINE_VM") == "" {
		t.Skip("needs the VM's kernel (MPLS, VRF, XFRM): run make vm-test")
	}
	vrf := &netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: "vmcheck"}, Table: 4242}
	if err := netlink.LinkAdd(vrf); err != nil {
		t.Fatalf("VRF device: %v", err)
	}
	defer netlink.LinkDel(vrf)
	if err := os.WriteFile("/proc/sys/net/mpls/platform_labels", []byte("1000\n"), 0o644); err != nil {
		t.Fatalf("MPLS platform labels: %v", err)
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	label := 100
	r := &netlink.Route{MPLSDst: &label, LinkIndex: lo.Attrs().Index, Family: netlink.FAMILY_MPLS,
		Via: &netlink.Via{AddrFamily: netlink.FAMILY_V4, Addr: net.IPv4(127, 0, 0, 1).To4()}}
	if err := netlink.RouteAdd(r); err != nil {
		t.Fatalf("MPLS route: %v", err)
	}
	st := &netlink.XfrmState{Src: net.IPv4(10, 0, 0, 1), Dst: net.IPv4(10, 0, 0, 2), Proto: netlink.XFRM_PROTO_ESP,
		Mode: netlink.XFRM_MODE_TUNNEL, Spi: 0x1001,
		Aead: &netlink.XfrmStateAlgo{Name: "rfc4106(gcm(aes))", Key: make([]byte, 20), ICVLen: 128}}
	if err := netlink.XfrmStateAdd(st); err != nil {
		t.Fatalf("XFRM AES-GCM state: %v", err)
	}
	for _, auth := range []string{"hmac(sha256)", "hmac(sha512)"} {
		st := &netlink.XfrmState{Src: net.IPv4(10, 0, 0, 1), Dst: net.IPv4(10, 0, 0, 2), Proto: netlink.XFRM_PROTO_ESP,
			Mode: netlink.XFRM_MODE_TUNNEL, Spi: 0x1002,
			Crypt: &netlink.XfrmStateAlgo{Name: "cbc(aes)", Key: make([]byte, 32)},
			Auth:  &netlink.XfrmStateAlgo{Name: auth, Key: make([]byte, 64), TruncateLen: 256}}
		if err := netlink.XfrmStateAdd(st); err != nil {
			t.Fatalf("XFRM AES-CBC + %s state: %v", auth, err)
		}
		if err := netlink.XfrmStateDel(st); err != nil {
			t.Fatal(err)
		}
	}
}
