package kernel

import (
	"github.com/vishvananda/netlink"

	"github.com/peregrine-net/peregrine/fib/internal/nlbatch"
)

// Route writes go to the kernel in batches, many requests to a write and
// one acknowledgement per write (package fib/internal/nlbatch, shared
// with the userspace backend): every route the kernel refuses is named
// in the error, and a batch whose answers were lost is an error naming
// its routes (nlbatch.ErrOutcomeUnknown), never success.

// replaceRoutes installs routes with RTM_NEWROUTE (create or replace)
// and returns every route the kernel refused, named.
func (b *Backend) replaceRoutes(routes []*netlink.Route) error {
	return b.writeRoutes(nlbatch.ReplaceRoute, routes)
}

// deleteRoutes removes routes by key with RTM_DELROUTE and returns every
// route the kernel could not delete, named; a route already gone is no
// error.
func (b *Backend) deleteRoutes(routes []*netlink.Route) error {
	return b.writeRoutes(nlbatch.DeleteRoute, routes)
}

// writeRoutes asks op of the kernel for every route, on a batch socket
// of its own in the backend's namespace, and returns each failure named
// by its route (routeKey); a route that cannot be encoded is named and
// not sent.
func (b *Backend) writeRoutes(op nlbatch.Op, routes []*netlink.Route) error {
	if len(routes) == 0 {
		return nil
	}
	var c *nlbatch.Conn
	if err := b.inNS(func() (err error) { c, err = nlbatch.Open(); return err }); err != nil {
		return err
	}
	defer c.Close()
	return c.Write(nlbatch.RouteRequests(op, routes, routeKey))
}
