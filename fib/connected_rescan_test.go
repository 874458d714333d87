package fib

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// failures counts down the calls of a fake that fail.
type failures struct {
	mu   sync.Mutex
	left int
}

// fail reports whether this call is one of those that fail.
func (f *failures) fail() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.left--
	return f.left >= 0
}

// interruptedAddrs is settableAddrs whose first address dumps the
// kernel reports interrupted, as it does while devices are made.
type interruptedAddrs struct {
	settableAddrs
	failures
}

func (s *interruptedAddrs) AddrList(l netlink.Link, fam int) ([]netlink.Addr, error) {
	if s.fail() {
		return nil, netlink.ErrDumpInterrupted
	}
	return s.settableAddrs.AddrList(l, fam)
}

// TestConnectedWatchReadsAgainAfterAFailedRead: the first read of the
// addresses fails (more interrupted dumps in a row than it retries at
// once) and no address changes afterwards: the watch reads again by
// itself and reports the VRF's prefix. Before, it waited for an address
// change that never came, and the VRF had no connected prefix.
func TestConnectedWatchReadsAgainAfterAFailedRead(t *testing.T) {
	defer func(a, b time.Duration) { rescanFirst, rescanMax = a, b }(rescanFirst, rescanMax)
	rescanFirst, rescanMax = 5*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &interruptedAddrs{failures: failures{left: 3 * (dumpRetries + 1)}}
	src.set("10.1.0.1/24")
	subscribe := func(context.Context, chan<- netlink.AddrUpdate, func(error)) error { return nil }
	got := make(chan []Connected, 8)
	err := watchConnected(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), src, subscribe,
		map[string]string{"ce1": "red"}, func(vrf string, conns []Connected) { got <- conns })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if len(c) != 1 || c[0].Prefix != netip.MustParsePrefix("10.1.0.0/24") {
			t.Fatalf("red: %v, want 10.1.0.0/24", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("red's prefix never reported: the watch did not read again after its first read failed")
	}
}

// failingLinks is settableAddrs whose first lookups of a link fail as
// a busy netlink socket can (ENOBUFS), and which has no link "gone".
type failingLinks struct {
	settableAddrs
	failures
}

func (s *failingLinks) LinkByName(name string) (netlink.Link, error) {
	if name == "gone" {
		return nil, netlink.LinkNotFoundError{}
	}
	if s.fail() {
		return nil, unix.ENOBUFS
	}
	return s.settableAddrs.LinkByName(name)
}

// TestConnectedWatchReadsAgainAfterAFailedLinkLookup: a lookup of a
// VRF's interface that fails is no answer: the watch reads again, and
// reports the prefix, rather than reporting none for the VRF (which
// withdrew it until the next address change). An interface that does
// not exist has none.
func TestConnectedWatchReadsAgainAfterAFailedLinkLookup(t *testing.T) {
	defer func(a, b time.Duration) { rescanFirst, rescanMax = a, b }(rescanFirst, rescanMax)
	rescanFirst, rescanMax = 5*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &failingLinks{failures: failures{left: 2}}
	src.set("10.1.0.1/24")
	subscribe := func(context.Context, chan<- netlink.AddrUpdate, func(error)) error { return nil }
	got := make(chan string, 8)
	err := watchConnected(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), src, subscribe,
		map[string]string{"ce1": "red", "gone": "blue"}, func(vrf string, conns []Connected) {
			got <- fmt.Sprint(vrf, conns)
		})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c != "red[{ce1 10.1.0.0/24}]" {
			t.Fatalf("reported %s, want red's 10.1.0.0/24 on ce1", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("red's prefix never reported")
	}
}
