package kernel

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib/internal/nlbatch"
)

// replaceRoutes installs routes with RTM_NEWROUTE (create or replace),
// in batches (package nlbatch: vishvananda/netlink waits for each
// request's ACK, one round trip per route; a batch is one round trip for
// many, which is what makes a million-route VRF installable in
// reasonable time, make bench-vm), and returns every route the kernel
// refused, named.
func (b *Backend) replaceRoutes(routes []*netlink.Route) error {
	if len(routes) == 0 {
		return nil
	}
	var c *nlbatch.Conn
	if err := b.inNS(func() (err error) { c, err = nlbatch.Open(); return err }); err != nil {
		return err
	}
	defer c.Close()
	var errs []error
	msgs := make([][]byte, 0, len(routes))
	sent := make([]*netlink.Route, 0, len(routes))
	for _, r := range routes {
		msg, err := nlbatch.Route(r, unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", routeKey(r), err))
			continue
		}
		msgs, sent = append(msgs, msg), append(sent, r)
	}
	err := c.Do(msgs, func(i int, err syscall.Errno) {
		errs = append(errs, fmt.Errorf("ip route replace %s: %w", routeKey(sent[i]), err))
	})
	return errors.Join(append(errs, err)...)
}
