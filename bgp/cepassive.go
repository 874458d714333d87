package bgp

import (
	"errors"
	"fmt"
)

// ErrCEPassive is returned for a CE neighbor with passive: true. A
// passive session needs a listener in the VRF's CE server that accepts
// only connections arriving on the VRF's own interfaces, and GoBGP
// v3.37.0 can bind its listeners to one device (Global.BindToDevice,
// SO_BINDTODEVICE), but that is not enough here:
//
//   - Linux refuses a device-bound listener on 0.0.0.0:179 beside the
//     core's unbound one (EADDRINUSE: TestCEPassiveBindConflict measures
//     it). Linux is documented to allow it for a VRF (l3mdev) device
//     with tcp_l3mdev_accept 0, which only the kernel backend has; not
//     verified here (this host has no vrf module) and the VRF's device
//     name does not reach package bgp yet;
//   - under the userspace backend a VRF has no device of its own, only
//     its CE interfaces, possibly several, and GoBGP binds one;
//   - a listener on the PE's CE-facing address instead would not bind
//     beside the core's wildcard either, and in the userspace backend's
//     single stack the core's listener would accept on that address too.
//
// Rather than a listener that could take a session into the wrong VRF
// (or the core), passive CE sessions are refused: configure the PE side
// active (the default) and the CE passive or active.
//
// The way forward, measured in a network namespace with veth pairs
// (SO_REUSEADDR set, as Go sets it): with the core on specific addresses
// (bgp.listen-address) rather than the wildcard, a listener on the PE's
// CE-facing address bound to the CE interface binds, and so does another
// VRF's listener on the same address bound to its own interface; beside
// the core's wildcard the first fails with EADDRINUSE. GoBGP creates its
// listeners once, in StartBgp, with one BindToDevice for all of them, so
// such a CE server would need local-address on each passive CE, a single
// CE interface (or the VRF device), and a restart of the VRF's CE server
// when those change.
var ErrCEPassive = errors.New("passive CE sessions are not supported: a listener cannot yet be bound to the VRF's interfaces alone; leave passive unset (this PE connects)")

// cePassive reports the first passive CE neighbor of cfg.
func cePassive(cfg *Config) error {
	for i, v := range cfg.VRFs {
		for j, n := range v.Neighbors {
			if n.Passive {
				return fmt.Errorf("vrfs[%d].neighbors[%d].passive (vrf %s, CE %s): %w", i, j, v.Name, n.Address, ErrCEPassive)
			}
		}
	}
	return nil
}
