package fib

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// settableAddrs is an addrSource whose one interface holds what addr
// says, changed by the test.
type settableAddrs struct {
	mu   sync.Mutex
	addr netip.Prefix
}

func (s *settableAddrs) LinkByName(name string) (netlink.Link, error) {
	return &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name, Index: 3}}, nil
}

func (s *settableAddrs) AddrList(netlink.Link, int) ([]netlink.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.addr.IsValid() {
		return nil, nil
	}
	return []netlink.Addr{{LinkIndex: 3, IPNet: &net.IPNet{IP: s.addr.Addr().AsSlice(), Mask: net.CIDRMask(s.addr.Bits(), s.addr.Addr().BitLen())}}}, nil
}

func (s *settableAddrs) set(p string) {
	s.mu.Lock()
	s.addr = netip.MustParsePrefix(p)
	s.mu.Unlock()
}

// TestConnectedWatchSurvivesAnEndedSubscription: netlink closes the
// update channel on its first receive error. An address added while no
// subscription runs still reaches the VRF once the watch has subscribed
// again; before, the watch stopped for good and the VRF kept its old
// prefixes.
func TestConnectedWatchSurvivesAnEndedSubscription(t *testing.T) {
	defer func(d time.Duration) { resubscribeEvery = d }(resubscribeEvery)
	resubscribeEvery = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	src := &settableAddrs{}
	src.set("10.1.0.1/24")
	subscribed := make(chan chan<- netlink.AddrUpdate, 4)
	subscribe := func(_ context.Context, ch chan<- netlink.AddrUpdate, _ func(error)) error {
		subscribed <- ch
		return nil
	}
	got := make(chan []Connected, 8)
	err := watchConnected(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), src, subscribe,
		map[string]string{"ce1": "red"}, func(vrf string, conns []Connected) { got <- conns })
	if err != nil {
		t.Fatal(err)
	}
	wait := func(want string) {
		t.Helper()
		select {
		case c := <-got:
			if len(c) != 1 || c[0].Prefix != netip.MustParsePrefix(want) {
				t.Fatalf("red: %v, want %s", c, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("red never reported %s", want)
		}
	}
	wait("10.1.0.0/24")

	first := <-subscribed
	src.set("10.2.0.1/24") // changes while the subscription is ending
	close(first)           // netlink's end of a subscription after a receive error
	select {
	case <-subscribed:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch never subscribed again")
	}
	wait("10.2.0.0/24")
}
