package userspace

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib"
)

// reloadRequests brings up vrfs VRFs, each with a CE interface (a veth with
// an address) and a static route through its CE, then applies the
// same State with one VRF more, and returns the netlink requests that
// second Apply sent.
func reloadRequests(t *testing.T, vrfs int) (n int) {
	inNewNS(t, func(h *netlink.Handle) {
		s := &fib.State{VRFs: map[string]*fib.VRF{}}
		add := func(i int) {
			name, ifname := fmt.Sprintf("r%d", i), fmt.Sprintf("ce%d", i)
			link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: ifname}, PeerName: "p" + ifname}
			if err := h.LinkAdd(link); err != nil {
				t.Fatal(err)
			}
			ad, _ := netlink.ParseAddr(fmt.Sprintf("10.%d.%d.1/24", 100+i/250, i%250))
			if err := h.AddrAdd(link, ad); err != nil {
				t.Fatal(err)
			}
			if err := h.LinkSetUp(link); err != nil {
				t.Fatal(err)
			}
			ce := netip.MustParseAddr(fmt.Sprintf("10.%d.%d.2", 100+i/250, i%250))
			p := netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", i%250))
			s.VRFs[name] = &fib.VRF{Name: name, Table: uint32(2000 + i), Interfaces: []string{ifname},
				Routes: map[netip.Prefix]fib.Route{p: {Prefix: p, NextHop: ce, Interface: ifname}}}
		}
		for i := range vrfs {
			add(i)
		}
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		next := &fib.State{VRFs: map[string]*fib.VRF{}}
		for k, v := range s.VRFs {
			next.VRFs[k] = v
		}
		s = next
		add(vrfs)
		before := b.sys.requests
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		n = b.sys.requests - before
	})
	return n
}

// TestReloadAddingOneVRFSendsRequestsForItAlone (issue 23): adding one
// VRF to 40 sends as many netlink requests as adding one to 5: nothing
// is read or written per VRF the reload leaves alone (it was, once per
// CE interface and more, which made bring-up quadratic).
func TestReloadAddingOneVRFSendsRequestsForItAlone(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	few, many := reloadRequests(t, 5), reloadRequests(t, 40)
	t.Logf("netlink requests adding one VRF: to 5: %d, to 40: %d", few, many)
	if many > few {
		t.Errorf("adding one VRF to 40 sent %d netlink requests, to 5 %d: want as many", many, few)
	}
}
