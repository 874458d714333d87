package fib

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// linkUpdate is what netlink reports for interface name, up or down.
func linkUpdate(name string, up bool) netlink.LinkUpdate {
	var flags net.Flags
	if up {
		flags = net.FlagUp
	}
	return netlink.LinkUpdate{Link: &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name, Flags: flags}}}
}

// TestWatchLinksUp: a watched interface reports its name when it goes
// from down to up, not when it is first listed up, not for another
// change while up, not for an unwatched interface; after netlink ends
// the subscription, every watched interface is reported once the watch
// has subscribed again (a flap meanwhile went unseen).
func TestWatchLinksUp(t *testing.T) {
	defer func(d time.Duration) { resubscribeEvery = d }(resubscribeEvery)
	resubscribeEvery = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscribed := make(chan chan<- netlink.LinkUpdate, 4)
	subscribe := func(_ context.Context, ch chan<- netlink.LinkUpdate, _ func(error)) error {
		subscribed <- ch
		return nil
	}
	got := make(chan string, 16)
	if err := watchLinksUp(ctx, slog.New(slog.DiscardHandler), subscribe, []string{"ce1", "core"}, func(name string) { got <- name }); err != nil {
		t.Fatal(err)
	}
	ch := <-subscribed
	for _, u := range []netlink.LinkUpdate{
		linkUpdate("ce1", true), linkUpdate("core", false), // the listing
		linkUpdate("eth9", false), linkUpdate("eth9", true), // not watched
		linkUpdate("ce1", true),                           // still up
		linkUpdate("ce1", false), linkUpdate("ce1", true), // a flap
		linkUpdate("core", true), // up for the first time since listed
	} {
		ch <- u
	}
	want := []string{"ce1", "core"}
	var names []string
	for range want {
		select {
		case n := <-got:
			names = append(names, n)
		case <-time.After(5 * time.Second):
			t.Fatalf("reported %v, want %v", names, want)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("reported %v, want %v", names, want)
	}
	select {
	case n := <-got:
		t.Errorf("also reported %s", n)
	case <-time.After(50 * time.Millisecond):
	}

	close(ch) // netlink ends a subscription so
	<-subscribed
	names = nil
	for range 2 {
		select {
		case n := <-got:
			names = append(names, n)
		case <-time.After(5 * time.Second):
			t.Fatalf("after subscribing again: reported %v, want ce1 and core", names)
		}
	}
	if slices.Sort(names); !slices.Equal(names, []string{"ce1", "core"}) {
		t.Errorf("after subscribing again: reported %v, want ce1 and core", names)
	}
}

// TestWatchErrorsQuietOnInterruptedListing: an interrupted first listing
// (links made during it, as the backend's TUNs at start) is no warning,
// though netlink reports it once per listed link; other errors are.
func TestWatchErrorsQuietOnInterruptedListing(t *testing.T) {
	var buf bytes.Buffer
	onErr := watchErrors(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), "link watch")
	for range 30 {
		onErr(netlink.ErrDumpInterrupted)
	}
	if buf.Len() != 0 {
		t.Errorf("an interrupted listing logged:\n%s", buf.String())
	}
	onErr(errors.New("Receive failed: no buffer space available"))
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("a receive error logged %q, want a warning", buf.String())
	}
}
