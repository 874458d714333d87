package fib

import (
	"fmt"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
)

// countingAddrs is a host of n interfaces ce0..ce(n-1), index i+1, each
// with 10.i/8+.0.1/24, that counts the address dumps it answers.
type countingAddrs struct{ n, dumps int }

func (s *countingAddrs) LinkByName(name string) (netlink.Link, error) {
	var i int
	if _, err := fmt.Sscanf(name, "ce%d", &i); err != nil || i >= s.n {
		return nil, netlink.LinkNotFoundError{}
	}
	return &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name, Index: i + 1}}, nil
}

func (s *countingAddrs) AddrList(link netlink.Link, _ int) ([]netlink.Addr, error) {
	s.dumps++
	var out []netlink.Addr
	for i := range s.n {
		if link != nil && link.Attrs().Index != i+1 {
			continue
		}
		out = append(out, netlink.Addr{LinkIndex: i + 1,
			IPNet: &net.IPNet{IP: net.IPv4(10, byte(i>>8), byte(i), 1).To4(), Mask: net.CIDRMask(24, 32)}})
	}
	return out, nil
}

// TestConnectedReadsAddressesOnce (issue 23): the connected prefixes of
// 200 VRFs' CE interfaces come from one address dump, not one per
// interface, each as long as the host's addresses (quadratic at start
// and on every address change).
func TestConnectedReadsAddressesOnce(t *testing.T) {
	src := &countingAddrs{n: 200}
	ifaces := map[string]string{}
	for i := range src.n {
		ifaces[fmt.Sprintf("ce%d", i)] = fmt.Sprintf("v%d", i)
	}
	got, ok := connectedByVRF(src, ifaces)
	if !ok {
		t.Fatal("connectedByVRF failed")
	}
	if src.dumps != 1 {
		t.Errorf("%d address dumps for %d interfaces, want 1", src.dumps, src.n)
	}
	if c := got["v7"]; len(c) != 1 || c[0].Interface != "ce7" || c[0].Prefix.String() != "10.0.7.0/24" {
		t.Errorf("v7: %v, want [ce7 10.0.7.0/24]", c)
	}
}
