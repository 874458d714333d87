package fib

import (
	"context"
	"log/slog"
	"net"

	"github.com/vishvananda/netlink"
)

// WatchLinksUp calls fn with the name of each interface of names that is
// set up again after being down, until ctx ends. Linux deletes every
// route through an interface set down (`ip link set IF down`) and adds
// back only its own connected ones when it comes up: the routes a
// backend made through it (a CE's prefixes via the CE, static routes,
// routes over a core interface) stay gone until the next Apply, which
// nothing else asks for when the BGP sessions outlive the flap. The
// daemon answers fn with Reconciler.Reapply.
//
// Equivalent to watching `ip monitor link` for IFF_UP turning on.
func WatchLinksUp(ctx context.Context, log *slog.Logger, names []string, fn func(name string)) error {
	return watchLinksUp(ctx, log, linkSubscribe, names, fn)
}

// linkSubscribe is netlink's link subscription (it lists every link
// first, then follows changes); tests replace it.
var linkSubscribe = func(ctx context.Context, ch chan<- netlink.LinkUpdate, onErr func(error)) error {
	return netlink.LinkSubscribeWithOptions(ch, ctx.Done(), netlink.LinkSubscribeOptions{ListExisting: true, ErrorCallback: onErr})
}

// watchLinksUp is WatchLinksUp over subscribe. A subscription netlink
// ends (on its first receive error) is made again after
// resubscribeEvery, and fn is then called for every watched interface:
// one may have gone down and up unseen.
func watchLinksUp(ctx context.Context, log *slog.Logger, subscribe func(context.Context, chan<- netlink.LinkUpdate, func(error)) error, names []string, fn func(name string)) error {
	onErr := watchErrors(log, "link watch")
	watched := map[string]bool{}
	for _, n := range names {
		watched[n] = true
	}
	updates := make(chan netlink.LinkUpdate, 64)
	if err := subscribe(ctx, updates, onErr); err != nil {
		return err
	}
	// up holds what each watched interface was last seen as; one not
	// seen yet (absent, or not listed yet) counts as neither.
	up := map[string]bool{}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-updates:
				if ok {
					name, isUp := u.Attrs().Name, u.Attrs().Flags&net.FlagUp != 0
					if !watched[name] {
						continue
					}
					was, seen := up[name]
					up[name] = isUp
					if isUp && seen && !was {
						fn(name)
					}
					continue
				}
			}
			var ok bool
			if updates, ok = resubscribe(ctx, log, "link watch", subscribe, onErr); !ok {
				return
			}
			// A flap while no subscription ran is not seen: answer as if
			// every watched interface had come up.
			clear(up)
			for _, n := range names {
				fn(n)
			}
		}
	}()
	return nil
}
