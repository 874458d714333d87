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
	// Apply brings the gateway to s's tunnels and attachments, with a
	// TUN for each PE of remotes and its sockets on s.LocalAddress, and
	// a TUN for each VRF an attachment of s enters (fib.AttachmentTUN),
	// which it enslaves to the VRF's device (made before) before it
	// writes anything into it. It returns the TUN name of each remote
	// PE and of each VRF that has one; the attachment TUNs even with an
	// error, or Apply would take them for CE interfaces a VRF no longer
	// names and move them out. It opens the inbound TUN
	// (fib.ESPGatewayInbound) on its first call.
	Apply(ctx context.Context, s *fib.State, remotes []netip.Addr) (pes map[netip.Addr]string, attachments map[string]string, err error)
	// Close removes the gateway's TUNs, and with them the routes
	// through them.
	Close() error
	// Stats returns the gateway's counters: its SAs and TUN devices.
	Stats() fib.Stats
}
