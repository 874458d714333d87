package fib

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

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
	return watchConnected(ctx, log, hostAddrs, addrSubscribe, ifaces, fn)
}

// addrSubscribe is netlink's address subscription; tests replace it.
var addrSubscribe = func(ctx context.Context, ch chan<- netlink.AddrUpdate, onErr func(error)) error {
	return netlink.AddrSubscribeWithOptions(ch, ctx.Done(), netlink.AddrSubscribeOptions{ErrorCallback: onErr})
}

// watchConnected is WatchConnected over src and subscribe. netlink ends
// a subscription on its first receive error (an overrun socket buffer
// after a burst of address changes, say) by closing the channel; the
// watch then subscribes again and reads every address afresh, so no
// change is lost for good: a silent end would leave the VRFs' exports
// and CE bindings at whatever the addresses were then.
//
// A read that fails (a dump the kernel keeps interrupting while a
// backend makes its thousands of TUNs: each new device restarts every
// address dump) is tried again after rescanFirst, then less often up
// to rescanMax, until one succeeds. Waiting for the next address change
// instead left every VRF without its connected prefixes when the first
// read failed and no address changed after it (issue 23: at 2,000
// VRFs, now and then no CE subnet was routed back to its CE).
func watchConnected(ctx context.Context, log *slog.Logger, src addrSource, subscribe func(context.Context, chan<- netlink.AddrUpdate, func(error)) error, ifaces map[string]string, fn ConnectedFunc) error {
	onErr := watchErrors(log, "address watch")
	updates := make(chan netlink.AddrUpdate, 64)
	if err := subscribe(ctx, updates, onErr); err != nil {
		return err
	}
	last := map[string][]Connected{}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	var backoff time.Duration
	scan := func() {
		now, ok := connectedByVRF(src, ifaces)
		if !ok {
			backoff = min(max(2*backoff, rescanFirst), rescanMax)
			log.Debug("address watch: reading the addresses failed; reading again later", "in", backoff)
			retry.Reset(backoff)
			return
		}
		backoff = 0
		retry.Stop()
		for _, vrf := range vrfNames(ifaces) {
			if !slices.Equal(now[vrf], last[vrf]) {
				fn(vrf, now[vrf])
			}
		}
		last = now
	}
	scan()
	go func() {
		defer retry.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-retry.C:
				scan()
				continue
			case _, ok := <-updates:
				if ok {
					// One scan for a burst: a scan reads every
					// address, whatever changed.
					ok = drain(updates)
				}
				if ok {
					scan()
					continue
				}
			}
			// The subscription ended: subscribe again, then read what
			// changed meanwhile.
			var ok bool
			if updates, ok = resubscribe(ctx, log, "address watch", subscribe, onErr); !ok {
				return
			}
			scan()
		}
	}()
	return nil
}

// rescanFirst and rescanMax bound the wait before the address watch
// reads again after a read failed.
var (
	rescanFirst = 100 * time.Millisecond
	rescanMax   = 5 * time.Second
)

// drain takes the updates already queued; false if the channel closed.
func drain(updates <-chan netlink.AddrUpdate) bool {
	for {
		select {
		case _, ok := <-updates:
			if !ok {
				return false
			}
		default:
			return true
		}
	}
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

// addrSource is what connectedByVRF reads: *netlink.Handle (the zero
// value works in the caller's namespace), or a test's fake.
type addrSource interface {
	LinkByName(name string) (netlink.Link, error)
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
}

// hostAddrs reads the calling thread's namespace.
var hostAddrs addrSource = &netlink.Handle{}

// dumpRetries bounds the retries of an address dump the kernel
// interrupted (NLM_F_DUMP_INTR: the addresses changed during the dump,
// as they do while a backend brings up its devices).
const dumpRetries = 10

// connectedByVRF lists each VRF's connected prefixes, sorted, from one
// dump of the host's addresses: a dump per interface, each as long as
// the host's addresses, made every scan quadratic in the VRFs (issue
// 23). ok is false if the dump failed: the caller keeps what it had.
func connectedByVRF(src addrSource, ifaces map[string]string) (_ map[string][]Connected, ok bool) {
	out := map[string][]Connected{}
	all, err := RetryDump(1+dumpRetries, func() ([]netlink.Addr, error) { return src.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, false
	}
	byIndex := map[int][]netlink.Addr{}
	for _, a := range all {
		byIndex[a.LinkIndex] = append(byIndex[a.LinkIndex], a)
	}
	for name, vrf := range ifaces {
		link, err := src.LinkByName(name)
		var missing netlink.LinkNotFoundError
		switch {
		case errors.As(err, &missing):
			continue // no such interface: no prefixes
		case link != nil && (err == nil || errors.Is(err, netlink.ErrDumpInterrupted)):
		default:
			// A failed lookup is no answer: leaving the interface out
			// would withdraw its prefixes until the next change.
			return nil, false
		}
		for _, a := range byIndex[link.Attrs().Index] {
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
	return out, true
}
