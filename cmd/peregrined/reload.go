package main

import (
	"fmt"
	"reflect"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
)

// RestartError refuses a reload whose change the running daemon cannot
// make: accepting it would leave the file saying one thing and the router
// doing another (or, for IPsec tunnels on a backend that cannot carry
// them, such as the kernel backend built without an ESP gateway, stop
// every later FIB change from being programmed). The running
// configuration is kept.
type RestartError struct {
	Field string // the configuration path that changed
	Why   string // what the running daemon cannot do
}

func (e *RestartError) Error() string {
	return fmt.Sprintf("%s: %s; changing it needs a restart", e.Field, e.Why)
}

// runningDataplane is what the reload checks need to know about the
// backend the daemon started with.
type runningDataplane struct {
	// noTunnels: the backend cannot carry tunnels and cannot learn to
	// (the kernel backend started with no IPsec has no ESP gateway).
	noTunnels bool
}

// dataplaneOf asks the running backend b (nil with backend "none", which
// programs nothing) through fib.TunnelCarrier; one that does not say is
// taken not to carry tunnels.
func dataplaneOf(b fib.Backend) runningDataplane {
	return runningDataplane{noTunnels: b != nil && !fib.CarriesTunnels(b)}
}

// restartNeeded returns a *RestartError for the first change from running
// to next that only takes effect at start. The bgp package checks its own
// (router, label range, listen address, API) in Speaker.Reload.
func restartNeeded(running, next *config.Config, dp runningDataplane) error {
	switch {
	case next.Control.Socket != running.Control.Socket:
		return &RestartError{"control.socket", "the socket is bound at start"}
	case next.Control.SocketGroup != running.Control.SocketGroup || next.Control.SocketGID != running.Control.SocketGID:
		return &RestartError{"control.socket-group", "the socket's group is set when it is created"}
	case next.Control != running.Control:
		return &RestartError{"control", "the socket is made at start"}
	case next.State != running.State:
		return &RestartError{"state.directory", "the ESP sequence store is opened at start"}
	case next.Metrics != running.Metrics:
		return &RestartError{"metrics.listen", "the endpoint is bound at start"}
	case next.Dataplane.Backend != running.Dataplane.Backend:
		return &RestartError{"dataplane.backend", "the backend is built at start"}
	case next.Dataplane.KernelESP != running.Dataplane.KernelESP:
		return &RestartError{"dataplane.kernel-esp", "the backend takes it at start"}
	case next.Dataplane.MTU != running.Dataplane.MTU:
		return &RestartError{"dataplane.mtu", "the TUN devices are made at start"}
	case next.MPLS.TTLMode != running.MPLS.TTLMode:
		return &RestartError{"mpls.ttl-mode", "the backend takes it at start"}
	case !sameIKEPeers(next, running):
		return &RestartError{"ipsec.ike-peers", "IKE peers are started with the daemon"}
	case !sameAttachments(next, running):
		return &RestartError{"vrfs[].ipsec-attachments", "attachments are IKE peers, started with the daemon"}
	case dp.noTunnels && len(next.IPsec.Tunnels) > 0:
		return &RestartError{"ipsec.tunnels", "the running dataplane backend cannot carry them (the kernel backend started without IPsec has no ESP gateway)"}
	}
	return nil
}

// sameIKEPeers reports whether a reload leaves the IKE peers alone; the
// runner is built once, so changing them needs a restart.
func sameIKEPeers(a, b *config.Config) bool {
	return reflect.DeepEqual(a.IPsec.IKEPeers, b.IPsec.IKEPeers) &&
		(len(a.IPsec.IKEPeers) == 0 || a.IPsec.LocalAddress == b.IPsec.LocalAddress && a.IPsec.Encapsulation == b.IPsec.Encapsulation)
}

// sameAttachments reports whether a reload leaves every VRF's IPsec
// attachments alone: they are IKE peers of the runner built at start.
func sameAttachments(a, b *config.Config) bool {
	of := func(c *config.Config) map[string][]config.IPsecAttachment {
		m := map[string][]config.IPsecAttachment{}
		for _, v := range c.VRFs {
			if len(v.IPsecAttachments) > 0 {
				m[v.Name] = v.IPsecAttachments
			}
		}
		return m
	}
	am, bm := of(a), of(b)
	return reflect.DeepEqual(am, bm) &&
		(len(am) == 0 || a.IPsec.LocalAddress == b.IPsec.LocalAddress && a.IPsec.Encapsulation == b.IPsec.Encapsulation)
}
