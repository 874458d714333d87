package fib

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
)

// ConnectedFunc receives a VRF's connected prefixes, with the interface
// each is on, each time they change.
type ConnectedFunc func(vrf string, conns []Connected)

// WatchConnected reports the connected prefixes of each VRF's CE-facing
// interfaces (ifaces maps interface name to VRF) now and whenever an
// address is added or removed, until ctx ends. An interface that does not
// exist yet contributes nothing until it appears with an address.
// IPv6 link-local prefixes are left out: they are never exported.
//
// Equivalent to watching `ip -o addr show dev IF` for each interface.
func WatchConnected(ctx context.Context, log *slog.Logger, ifaces map[string]string, fn ConnectedFunc) error {
	updates := make(chan netlink.AddrUpdate, 64)
	err := netlink.AddrSubscribeWithOptions(updates, ctx.Done(), netlink.AddrSubscribeOptions{
		ErrorCallback: func(err error) { log.Warn("address watch", "error", err) },
	})
	if err != nil {
		return err
	}
	last := map[string][]Connected{}
	scan := func() {
		now := connectedByVRF(ifaces)
		for _, vrf := range vrfNames(ifaces) {
			if !slices.Equal(now[vrf], last[vrf]) {
				fn(vrf, now[vrf])
			}
		}
		last = now
	}
	scan()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-updates:
				if !ok {
					return
				}
				scan()
			}
		}
	}()
	return nil
}

func vrfNames(ifaces map[string]string) []string {
	var out []string
	for _, vrf := range ifaces {
		if !slices.Contains(out, vrf) {
			out = append(out, vrf)
		}
	}
	slices.Sort(out)
	return out
}

// connectedByVRF lists each VRF's connected prefixes, sorted.
func connectedByVRF(ifaces map[string]string) map[string][]Connected {
	out := map[string][]Connected{}
	for name, vrf := range ifaces {
		link, err := netlink.LinkByName(name)
		if err != nil {
			continue
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if ip.IsLinkLocalUnicast() {
				continue
			}
			ones, _ := a.Mask.Size()
			c := Connected{Interface: name, Prefix: netip.PrefixFrom(ip, ones).Masked()}
			if !slices.Contains(out[vrf], c) {
				out[vrf] = append(out[vrf], c)
			}
		}
	}
	for vrf := range out {
		slices.SortFunc(out[vrf], func(a, b Connected) int {
			if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
				return c
			}
			if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
				return c
			}
			return strings.Compare(a.Interface, b.Interface)
		})
	}
	return out
}
