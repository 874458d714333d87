package kernel

import (
	"context"
	"net/netip"

	"github.com/peregrine-net/peregrine/fib"
)

// ESPGateway is the userspace ESP path the kernel backend routes protected
// traffic through (see "ESP-protected peers" in the package documentation):
// the daemon passes fib/userspace's Gateway. It is an interface so that
// this package does not build the userspace fast path in.
type ESPGateway interface {
	// Apply brings the gateway to tunnels, with a TUN for each PE of
	// remotes and its sockets on local, and returns the TUN name of each
	// remote PE that has one. It opens the inbound TUN
	// (fib.ESPGatewayInbound) on its first call.
	Apply(ctx context.Context, local netip.Addr, tunnels map[netip.Addr]*fib.Tunnel, remotes []netip.Addr) (map[netip.Addr]string, error)
	// Close removes the gateway's TUNs, and with them the routes
	// through them.
	Close() error
	// Stats returns the gateway's counters: its SAs and TUN devices.
	Stats() fib.Stats
}
