package userspace

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
)

// TestApplyReusesTheHostViewUntilAnAddressChanges (issue 23): an Apply
// that changes one route, with no link or address changed since the last,
// sends that route and no dump of the host's links, addresses and local
// table (at 2,000 VRFs those dumps cost every Apply 0.2 s); and once an
// address is added to a CE interface, the next Apply reads the host again
// and mirrors the address's local route into the VRF's table.
func TestApplyReusesTheHostViewUntilAnAddressChanges(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	inNewNS(t, func(h *netlink.Handle) {
		link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ce0"}, PeerName: "pce0"}
		if err := h.LinkAdd(link); err != nil {
			t.Fatal(err)
		}
		ad, _ := netlink.ParseAddr("10.100.0.1/24")
		if err := h.AddrAdd(link, ad); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(link); err != nil {
			t.Fatal(err)
		}
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ce := netip.MustParseAddr("10.100.0.2")
		state := func(routes ...string) *fib.State {
			v := &fib.VRF{Name: "red", Table: 2000, Interfaces: []string{"ce0"}, Routes: map[netip.Prefix]fib.Route{}}
			for _, r := range routes {
				p := netip.MustParsePrefix(r)
				v.Routes[p] = fib.Route{Prefix: p, NextHop: ce, Interface: "ce0"}
			}
			return &fib.State{VRFs: map[string]*fib.VRF{"red": v}}
		}
		ctx := context.Background()
		// The first Apply makes the TUN, a link change the second hears of.
		for range 2 {
			if err := b.Apply(ctx, state("172.16.0.0/24")); err != nil {
				t.Fatal(err)
			}
		}
		before := b.sys.requests
		if err := b.Apply(ctx, state("172.16.0.0/24", "172.16.1.0/24")); err != nil {
			t.Fatal(err)
		}
		if n := b.sys.requests - before; n != 1 {
			t.Errorf("an Apply adding one route, no link or address changed, sent %d netlink requests, want 1 (the route, no dump)", n)
		}

		ad2, _ := netlink.ParseAddr("10.99.0.1/24")
		if err := h.AddrAdd(link, ad2); err != nil {
			t.Fatal(err)
		}
		if err := b.Apply(ctx, state("172.16.0.0/24", "172.16.1.0/24")); err != nil {
			t.Fatal(err)
		}
		routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 2000}, netlink.RT_FILTER_TABLE)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range routes {
			if r.Type == unix.RTN_LOCAL && r.Dst != nil && r.Dst.IP.String() == "10.99.0.1" {
				found = true
			}
		}
		if !found {
			t.Errorf("after 10.99.0.1 was added to ce0, the VRF's table has no local route for it: %v", routes)
		}
	})
}
