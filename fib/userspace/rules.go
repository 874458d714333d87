package userspace

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/vishvananda/netlink"
)

// RTProto is the routing protocol number on every rule and route the
// backend installs (`ip rule show protocol 204`, `ip route show table all
// proto 204`): how Apply finds its own, a crashed run's included. 204 is
// not registered in /etc/iproute2/rt_protos, which names 0-4, 8-18, 42, 99
// and 186-192.
const RTProto = 204

// DefaultRulePriority is the priority of the policy rules unless
// Options.RulePriority says otherwise: before the main table (32766).
const DefaultRulePriority = 1000

// unreachableMetric is the metric of each VRF table's unreachable default,
// the one the kernel's VRF documentation uses: any real default route wins.
const unreachableMetric = 4278198272

// system programs the kernel: policy rules and routes. Only Apply's
// goroutine (and Close) use it.
type system struct {
	log  *slog.Logger
	h    *netlink.Handle
	prio int
	// changes counts the rules and routes added, replaced or deleted,
	// for logs and for the test that a repeated Apply changes nothing.
	changes int
	// installed is what the last route sync left in the kernel, so that
	// the next changes only the difference; nil makes it dump the kernel
	// first (at start, after an error, and every fullSyncEvery syncs).
	installed map[routeKey]routeVal
	syncs     int
}

type ruleKey struct {
	family int
	iif    string
	table  int
}

// syncRules makes the backend's rules exactly those vrfs need: for each
// VRF, each of its CE interfaces and its TUN, in both families,
//
//	ip rule add iif IF lookup TABLE pref PRIO protocol 204
//
// and removes every other rule of protocol 204.
func (s *system) syncRules(vrfs map[string]*fib.VRF) error {
	want := map[ruleKey]bool{}
	for name, v := range vrfs {
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			for _, iif := range append(slices.Clone(v.Interfaces), fib.TUNName(name)) {
				want[ruleKey{fam, iif, int(v.Table)}] = true
			}
		}
	}
	var errs []error
	have := map[ruleKey]bool{}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := retryDump(func() ([]netlink.Rule, error) { return s.h.RuleList(fam) })
		if err != nil {
			return fmt.Errorf("listing rules: %w", err)
		}
		for _, r := range rules {
			if r.Protocol != RTProto {
				continue
			}
			k := ruleKey{fam, r.IifName, r.Table}
			if want[k] && r.Priority == s.prio && !have[k] {
				have[k] = true
				continue
			}
			s.changes++
			if err := s.h.RuleDel(&r); err != nil {
				errs = append(errs, fmt.Errorf("ip rule del iif %s lookup %d pref %d: %w", r.IifName, r.Table, r.Priority, err))
			}
		}
	}
	for k := range want {
		if have[k] {
			continue
		}
		r := netlink.NewRule()
		r.Family, r.IifName, r.Table = k.family, k.iif, k.table
		r.Priority, r.Protocol = s.prio, RTProto
		s.changes++
		if err := s.h.RuleAdd(r); err != nil {
			errs = append(errs, fmt.Errorf("ip rule add iif %s lookup %d pref %d: %w", k.iif, k.table, s.prio, err))
		}
	}
	return errors.Join(errs...)
}

// retryDump retries a netlink dump the kernel interrupted (the table
// changed under it), as vishvananda/netlink asks of its callers.
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range 5 {
		var out []T
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

// enableForwarding turns on IP forwarding, without which the kernel
// would route neither into nor out of the TUNs:
//
//	sysctl -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
func enableForwarding() error {
	var errs []error
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 && b[0] == '1' {
			continue
		}
		if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("enabling forwarding: %w", err))
		}
	}
	return errors.Join(errs...)
}
