package fib

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vishvananda/netlink"
)

// resubscribeEvery paces new subscriptions after one failed.
var resubscribeEvery = time.Second

// resubscribe makes a netlink subscription again after netlink ended the
// last one (it closes the channel on its first receive error): one try
// every resubscribeEvery until one succeeds, whose channel it returns, or
// ctx ends (false). what names the watch in the log ("link watch").
// The caller then reads afresh what may have changed unseen.
func resubscribe[U any](ctx context.Context, log *slog.Logger, what string, subscribe func(context.Context, chan<- U, func(error)) error, onErr func(error)) (chan U, bool) {
	for {
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(resubscribeEvery):
		}
		updates := make(chan U, 64)
		err := subscribe(ctx, updates, onErr)
		if err == nil {
			log.Info(what + " subscribed again")
			return updates, true
		}
		log.Warn(what+": subscribing again", "error", err)
	}
}

// watchErrors is a subscription's error callback for the watch named
// what: each error is a warning, but for an interrupted first listing.
// netlink reports that once per listed message when links change during
// the listing (the backend's TUNs at start: dozens of warnings). It
// loses nothing: each message is current when the kernel writes it, and
// every change is also sent as an update, queued after the messages
// written before it, so the last word on each interface is the latest.
func watchErrors(log *slog.Logger, what string) func(error) {
	return func(err error) {
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			log.Debug(what+": the first listing changed under it; updates follow", "error", err)
			return
		}
		log.Warn(what, "error", err)
	}
}
