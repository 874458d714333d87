package userspace

import (
	"context"
	"encoding/binary"
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
		link := upVeth(t, h, "ce0", "10.100.0.1/24")
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

// TestApplyIgnoresItsOwnTUNsInTheHostWatch (issue 23): an Apply that
// adds a VRF with no CE interface makes a TUN, whose link messages the
// watch hears, and still reuses the host view: the view does not need
// the backend's own TUNs, and re-reading the host's links and local
// routes at every Apply of a bring-up was a tenth of its allocation.
func TestApplyIgnoresItsOwnTUNsInTheHostWatch(t *testing.T) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("no TUN device: %v", err)
	}
	inNewNS(t, func(h *netlink.Handle) {
		link := upVeth(t, h, "ce0", "")
		b, err := New(slog.New(slog.DiscardHandler), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		s := &fib.State{VRFs: map[string]*fib.VRF{
			"red": {Name: "red", Table: 2000, Interfaces: []string{"ce0"}, Routes: map[netip.Prefix]fib.Route{}},
		}}
		ctx := context.Background()
		if err := b.Apply(ctx, s); err != nil {
			t.Fatal(err)
		}
		view := b.sys.hostView
		s.VRFs["blue"] = &fib.VRF{Name: "blue", Table: 2001, Routes: map[netip.Prefix]fib.Route{}}
		if err := b.Apply(ctx, s); err != nil {
			t.Fatal(err)
		}
		if b.tuns["blue"] == nil {
			t.Fatal("no TUN made for VRF blue")
		}
		if b.sys.hostView != view {
			t.Error("an Apply that made only a TUN of its own read the host's links, addresses and local table again")
		}
		ad, _ := netlink.ParseAddr("10.99.0.1/24")
		if err := h.AddrAdd(link, ad); err != nil {
			t.Fatal(err)
		}
		if err := b.Apply(ctx, s); err != nil {
			t.Fatal(err)
		}
		if b.sys.hostView == view {
			t.Error("an address added to a CE interface left the host view as it was")
		}
	})
}

// FuzzHostWatchMessages: whatever the watch's socket returns, readNews
// answers without panicking, and says "no news" only of messages it
// read whole, and "no routes lost" only where it read a link's flags.
func FuzzHostWatchMessages(f *testing.F) {
	own := map[int32]bool{7: true}
	// RTM_NEWLINK for link 7: nlmsghdr (len 32, type 16), ifinfomsg (index 7).
	f.Add([]byte{32, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{24, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 24, 0, 0, 8, 0, 0, 0}) // RTM_NEWADDR, link 8
	f.Add([]byte{16, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := readNews(b, own)
		if !got.changed && len(b) > 0 && len(b) < unix.NLMSG_HDRLEN+8 {
			t.Fatalf("%d bytes, too short for a link message, said to be about own links", len(b))
		}
		if !got.lost && len(b) > 0 && len(b) < unix.NLMSG_HDRLEN+8 {
			t.Fatalf("%d bytes, too short for a link message, said to lose no route", len(b))
		}
	})
}

// TestReadNews: news of own links only is no news; a link of others
// going down or away, or losing an address, may have cost routes; what
// cannot be read is news of every kind.
func TestReadNews(t *testing.T) {
	own := map[int32]bool{7: true}
	msg := func(typ uint16, index int32, flags uint32) []byte {
		b := make([]byte, 32)
		binary.NativeEndian.PutUint32(b, 32)
		binary.NativeEndian.PutUint16(b[4:], typ)
		binary.NativeEndian.PutUint32(b[unix.NLMSG_HDRLEN+4:], uint32(index))
		binary.NativeEndian.PutUint32(b[unix.NLMSG_HDRLEN+8:], flags)
		return b
	}
	up := uint32(unix.IFF_UP)
	for _, c := range []struct {
		name          string
		b             []byte
		changed, lost bool
	}{
		{"empty", nil, false, false},
		{"own link", msg(unix.RTM_NEWLINK, 7, up), false, false},
		{"own link down", msg(unix.RTM_NEWLINK, 7, 0), false, false},
		{"own link and address", append(msg(unix.RTM_NEWLINK, 7, up), msg(unix.RTM_DELADDR, 7, 0)...), false, false},
		{"other link up", msg(unix.RTM_NEWLINK, 8, up), true, false},
		{"other link down", msg(unix.RTM_NEWLINK, 8, 0), true, true},
		{"other link gone", msg(unix.RTM_DELLINK, 8, up), true, true},
		{"other address added", msg(unix.RTM_NEWADDR, 8, 0), true, false},
		{"other address removed", msg(unix.RTM_DELADDR, 8, 0), true, true},
		{"own then other", append(msg(unix.RTM_NEWLINK, 7, up), msg(unix.RTM_NEWADDR, 8, 0)...), true, false},
		{"other type", msg(unix.NLMSG_ERROR, 7, 0), true, true},
		{"truncated", msg(unix.RTM_NEWLINK, 7, up)[:20], true, true},
	} {
		if got := readNews(c.b, own); got.changed != c.changed || got.lost != c.lost {
			t.Errorf("%s: readNews = %+v, want changed %v, lost %v", c.name, got, c.changed, c.lost)
		}
	}
}
