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
// second Apply sent, and those the first sent.
func reloadRequests(t *testing.T, vrfs int) (n, bringUp int) {
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
		bringUp = b.sys.requests
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
	return n, bringUp
}

// TestReloadAddingOneVRFSendsRequestsForItAlone (issue 23): adding one
// VRF to 40 sends as many netlink requests as adding one to 5: nothing
// is read or written per VRF the reload leaves alone (it was, once per
// CE interface and more, which made bring-up quadratic).
func TestReloadAddingOneVRFSendsRequestsForItAlone(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	few, _ := reloadRequests(t, 5)
	many, _ := reloadRequests(t, 40)
	t.Logf("netlink requests adding one VRF: to 5: %d, to 40: %d", few, many)
	if many > few {
		t.Errorf("adding one VRF to 40 sent %d netlink requests, to 5 %d: want as many", many, few)
	}
}

// TestBringUpBatchesRulesAndRoutes: bringing up 40 VRFs, each with
// four rules and a dozen routes to install, takes a few batched
// requests, not one round trip per rule and route.
func TestBringUpBatchesRulesAndRoutes(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	_, n := reloadRequests(t, 40)
	t.Logf("netlink requests bringing up 40 VRFs: %d", n)
	if n > 20 {
		t.Errorf("bringing up 40 VRFs sent %d netlink requests, want at most 20 (dumps and batches)", n)
	}
}
