package fib

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

// interruptingAddrs is an addrSource whose first address dumps the
// kernel interrupts, as it does when addresses change mid-dump.
type interruptingAddrs struct{ interrupts int }

func (s *interruptingAddrs) LinkByName(name string) (netlink.Link, error) {
	return &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name, Index: 3}}, nil
}

func (s *interruptingAddrs) AddrList(netlink.Link, int) ([]netlink.Addr, error) {
	addrs := []netlink.Addr{{LinkIndex: 3, IPNet: &net.IPNet{IP: net.ParseIP("10.1.0.1").To4(), Mask: net.CIDRMask(24, 32)}}}
	if s.interrupts > 0 {
		s.interrupts--
		return addrs[:0], netlink.ErrDumpInterrupted
	}
	return addrs, nil
}

// TestConnectedRetriesInterruptedDump: an interrupted address dump is
// read again, not taken as "no addresses" (the VRF's prefixes would then
// never be exported until some later address change).
func TestConnectedRetriesInterruptedDump(t *testing.T) {
	got, ok := connectedByVRF(&interruptingAddrs{interrupts: 2}, map[string]string{"ce1": "red"})
	if !ok {
		t.Fatal("connectedByVRF failed")
	}
	want := Connected{Interface: "ce1", Prefix: netip.MustParsePrefix("10.1.0.0/24")}
	if len(got["red"]) != 1 || got["red"][0] != want {
		t.Errorf("red: %v, want [%v]", got["red"], want)
	}
}
