package userspace

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
)

// TestCELinkFlapRoutesComeBack: Linux deletes every route through an
// interface set down, the VRF table's included, and brings back only
// its own connected ones in the main and local tables when it is up
// again. The next Apply of the same State (the daemon's answer to the
// link coming up: Reconciler.Reapply) must put the VRF's back; an
// incremental sync that trusts what it installed before does not.
func TestCELinkFlapRoutesComeBack(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	inNewNS(t, func(h *netlink.Handle) {
		ce := upVeth(t, h, "ce0", "10.1.0.1/24")
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		s := &fib.State{VRFs: map[string]*fib.VRF{"red": {Name: "red", Table: 101, Interfaces: []string{"ce0"},
			Routes: map[netip.Prefix]fib.Route{
				netip.MustParsePrefix("10.1.0.0/24"):   {Prefix: netip.MustParsePrefix("10.1.0.0/24"), Interface: "ce0"},
				netip.MustParsePrefix("172.16.0.0/24"): {Prefix: netip.MustParsePrefix("172.16.0.0/24"), Interface: "ce0", NextHop: netip.MustParseAddr("10.1.0.2")},
			}}}}
		routes := func() string {
			list, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 101}, netlink.RT_FILTER_TABLE)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range list {
				if r.Dst != nil && r.Type == unix.RTN_UNICAST {
					out = append(out, r.Dst.String())
				}
			}
			return strings.Join(out, " ")
		}
		const want = "10.1.0.0/24 172.16.0.0/24"
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if got := routes(); got != want {
			t.Fatalf("after the first Apply, table 101 holds %q, want %q", got, want)
		}
		if err := h.LinkSetDown(ce); err != nil {
			t.Fatal(err)
		}
		if got := routes(); got != "" {
			t.Fatalf("with ce0 down the kernel left %q in table 101", got)
		}
		if err := h.LinkSetUp(ce); err != nil {
			t.Fatal(err)
		}
		if err := b.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if got := routes(); got != want {
			t.Errorf("after ce0 came back up and the State was applied again, table 101 holds %q, want %q", got, want)
		}
	})
}
