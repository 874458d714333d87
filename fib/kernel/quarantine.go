package kernel

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
)

// QuarantineDevice is the VRF device that holds the CE interfaces of a
// VRF the State no longer has. Deleting a VRF device hands its
// interfaces back to the main table, where a CE's packets would leave in
// clear by whatever route the host has (in containerlab, a default route
// out of the management interface); so before Apply deletes one, it
// moves the device's interfaces here:
//
//	ip link add pg-quarantine type vrf table 2147483646; ip link set pg-quarantine up
//	ip link set CE-IF master pg-quarantine
//	ip route replace unreachable default table 2147483646 metric 4278198272 proto 204   (IPv4 and IPv6)
//
// Its table has nothing but the unreachable defaults: the interfaces'
// packets are dropped. An interface stays until a State puts it in a VRF
// again, or until the first Apply of a new Backend (a daemon restarted
// with a configuration that no longer names it), which releases it:
//
//	ip link set CE-IF nomaster
//
// An operator can do the same by hand. The name does not start with
// "vrf-", so no VRF's device can be mistaken for it.
const QuarantineDevice = "pg-quarantine"

// QuarantineTable is QuarantineDevice's table: far above those the
// reconciler hands out (counting up from fib.Options.FirstTable).
const QuarantineTable = 2147483646

// retireUnnamed takes out of the VRF devices (ours, "vrf-...") every
// interface named does not list: the CE interfaces of a VRF the State no
// longer has, or that a VRF no longer lists. It moves them into
// QuarantineDevice, or, with release (a new Backend's first Apply: the
// daemon restarted with a configuration that no longer names them),
// hands them back to the main table. Interfaces named are in their VRFs
// already (Apply enslaves them first).
func (b *Backend) retireUnnamed(named map[string]bool, release bool) error {
	links, err := b.h.LinkList()
	if err != nil {
		return err
	}
	ours := map[int]string{}
	for _, l := range links {
		if _, ok := l.(*netlink.Vrf); ok && strings.HasPrefix(l.Attrs().Name, "vrf-") {
			ours[l.Attrs().Index] = l.Attrs().Name
		}
	}
	q := 0
	var errs []error
	for _, l := range links {
		vrf, ok := ours[l.Attrs().MasterIndex]
		if !ok || named[l.Attrs().Name] {
			continue
		}
		if release {
			b.log.Info("releasing a CE interface the configuration no longer names", "interface", l.Attrs().Name, "vrf-device", vrf)
			if err := b.h.LinkSetNoMaster(l); err != nil {
				errs = append(errs, fmt.Errorf("ip link set %s nomaster: %w", l.Attrs().Name, err))
			}
			continue
		}
		if q == 0 {
			if q, err = b.quarantineDevice(); err != nil {
				return errors.Join(append(errs, err)...)
			}
		}
		b.log.Warn("CE interface left its VRF: its packets are dropped until the daemon restarts without it",
			"interface", l.Attrs().Name, "vrf-device", vrf)
		if err := b.h.LinkSetMasterByIndex(l, q); err != nil {
			errs = append(errs, fmt.Errorf("ip link set %s master %s: %w", l.Attrs().Name, QuarantineDevice, err))
		}
	}
	return errors.Join(errs...)
}

// quarantineDevice makes QuarantineDevice and its unreachable defaults
// (if missing) and returns its index. The routes are there before any
// interface is: an empty VRF table would let lookups fall through to the
// main table.
func (b *Backend) quarantineDevice() (int, error) {
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		if err := b.h.RouteReplace(quarantineRoute(fam)); err != nil {
			return 0, fmt.Errorf("ip route replace unreachable default table %d: %w", QuarantineTable, err)
		}
	}
	if l, err := b.h.LinkByName(QuarantineDevice); err == nil {
		return l.Attrs().Index, b.h.LinkSetUp(l)
	}
	l := &netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: QuarantineDevice}, Table: QuarantineTable}
	if err := b.h.LinkAdd(l); err != nil {
		return 0, fmt.Errorf("ip link add %s type vrf table %d: %w", QuarantineDevice, QuarantineTable, err)
	}
	nl, err := b.h.LinkByName(QuarantineDevice)
	if err != nil {
		return 0, err
	}
	return nl.Attrs().Index, b.h.LinkSetUp(nl)
}

func quarantineRoute(fam int) *netlink.Route {
	return &netlink.Route{Table: QuarantineTable, Family: fam, Type: unix.RTN_UNREACHABLE,
		Priority: fib.UnreachableMetric, Protocol: RTProto, Dst: defaultDst(fam)}
}

// releaseQuarantine, on a new Backend's first Apply, hands the
// quarantined interfaces s does not name back to the main table.
// Interfaces s names are moved into their VRFs by Apply's enslave.
func (b *Backend) releaseQuarantine(named map[string]bool) error {
	q, err := b.h.LinkByName(QuarantineDevice)
	if err != nil {
		return nil // none
	}
	links, err := b.h.LinkList()
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range links {
		if l.Attrs().MasterIndex != q.Attrs().Index || named[l.Attrs().Name] {
			continue
		}
		b.log.Info("releasing a quarantined CE interface the configuration no longer names", "interface", l.Attrs().Name)
		if err := b.h.LinkSetNoMaster(l); err != nil {
			errs = append(errs, fmt.Errorf("ip link set %s nomaster: %w", l.Attrs().Name, err))
		}
	}
	return errors.Join(errs...)
}
