package fib

import (
	"context"
	"log/slog"
	"time"
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
