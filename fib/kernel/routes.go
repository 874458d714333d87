package kernel

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"runtime"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
)

// wantRoutes lists every route of protocol 204 s asks for, keyed by what
// identifies a route to the kernel.
// A remote route goes into its PE's ESP Gateway TUN (espDevs) where the
// backend has a Gateway, else over the core.
func (b *Backend) wantRoutes(s *fib.State, devs map[string]int, espDevs map[netip.Addr]string) (map[string]*netlink.Route, []error) {
	var errs []error
	neighbors := map[string]bool{} // IPv4-mapped neighbors set in this Apply
	want := map[string]*netlink.Route{}
	add := func(r *netlink.Route) { want[routeKey(r)] = r }
	ifIndex := func(name string) (int, error) {
		l, err := b.h.LinkByName(name)
		if err != nil {
			return 0, err
		}
		return l.Attrs().Index, nil
	}
	type hop struct {
		gw  net.IP
		oif int
		err error
	}
	hops := map[netip.Addr]hop{} // one route lookup per remote PE, not per route
	resolve := func(pe netip.Addr) (net.IP, int, error) {
		h, ok := hops[pe]
		if !ok {
			h.gw, h.oif, h.err = b.routeTo(pe)
			hops[pe] = h
		}
		return h.gw, h.oif, h.err
	}
	for name, v := range s.VRFs {
		if _, ok := devs[name]; !ok {
			continue
		}
		table := int(v.Table)
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			add(&netlink.Route{Table: table, Family: fam, Type: unix.RTN_UNREACHABLE, Priority: fib.UnreachableMetric,
				Protocol: RTProto, Dst: defaultDst(fam)})
		}
		for p, r := range v.Routes {
			rt := &netlink.Route{Table: table, Protocol: RTProto, Dst: ipNet(p), Family: family(p)}
			switch {
			case r.IsRemote() && b.esp != nil:
				dev, ok := espDevs[r.Remote.Unmap()]
				if !ok {
					errs = append(errs, fmt.Errorf("vrf %s route %s: no ESP gateway device for remote PE %s", name, p, r.Remote))
					continue
				}
				oif, err := ifIndex(dev)
				if err != nil {
					errs = append(errs, fmt.Errorf("vrf %s route %s: %w", name, p, err))
					continue
				}
				rt.Encap = &netlink.MPLSEncap{Labels: mplsLabels(r)}
				rt.LinkIndex, rt.Scope = oif, netlink.SCOPE_LINK
			case r.IsRemote():
				gw, oif, err := resolve(r.Remote)
				if err != nil {
					errs = append(errs, fmt.Errorf("vrf %s route %s: %w", name, p, err))
					continue
				}
				rt.Encap = &netlink.MPLSEncap{Labels: mplsLabels(r)}
				rt.LinkIndex = oif
				switch {
				case p.Addr().Is6() && gw.To4() != nil: // 6VPE: see the package documentation
					mapped, err := b.mappedNeighbor(gw, oif, neighbors)
					if err != nil {
						errs = append(errs, fmt.Errorf("vrf %s route %s: %w", name, p, err))
						continue
					}
					rt.Gw, rt.Flags = mapped, int(netlink.FLAG_ONLINK)
				case p.Addr().Is4() == (gw.To4() != nil):
					rt.Gw = gw
				default:
					rt.Via = via(gw)
				}
			case r.Interface != "":
				oif, err := ifIndex(r.Interface)
				if err != nil {
					errs = append(errs, fmt.Errorf("vrf %s route %s: %w", name, p, err))
					continue
				}
				rt.LinkIndex = oif
				if r.NextHop.IsValid() {
					rt.Gw = r.NextHop.AsSlice()
				} else {
					rt.Scope = netlink.SCOPE_LINK
				}
			default:
				continue
			}
			add(rt)
		}
	}
	for l, act := range s.Labels {
		label := int(l)
		rt := &netlink.Route{Family: netlink.FAMILY_MPLS, MPLSDst: &label, Protocol: RTProto}
		switch act.Kind {
		case fib.PopLookup:
			idx, ok := devs[act.VRF]
			if !ok {
				continue
			}
			rt.LinkIndex = idx
		case fib.PopForward:
			oif, err := ifIndex(act.Interface)
			if err != nil {
				errs = append(errs, fmt.Errorf("label %d: %w", l, err))
				continue
			}
			rt.LinkIndex = oif
			if act.NextHop.IsValid() {
				rt.Via = via(act.NextHop.AsSlice())
			}
		}
		add(rt)
	}
	return want, errs
}

// mappedNeighbor returns gw, an IPv4 next hop on interface oif, as an
// IPv4-mapped IPv6 address with a permanent neighbor entry carrying gw's
// MAC from the ARP table, set once per Apply (done): the next hop an IPv6
// route over an IPv4 core can take. Until gw's MAC is known the route
// cannot be installed, and the error makes the reconciler retry.
func (b *Backend) mappedNeighbor(gw net.IP, oif int, done map[string]bool) (net.IP, error) {
	mapped := gw.To16()
	key := fmt.Sprint(oif, mapped)
	if done[key] {
		return mapped, nil
	}
	ns, err := b.h.NeighList(oif, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("reading the ARP table: %w", err)
	}
	var mac net.HardwareAddr
	for _, n := range ns {
		if n.IP.Equal(gw) && len(n.HardwareAddr) > 0 && n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) == 0 {
			mac = n.HardwareAddr
		}
	}
	if mac == nil {
		return nil, fmt.Errorf("next hop %s has no ARP entry yet", gw)
	}
	// By hand: vishvananda/netlink sends an IPv4-mapped address as 4 bytes.
	req := nl.NewNetlinkRequest(unix.RTM_NEWNEIGH, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	req.AddData(&netlink.Ndmsg{Family: unix.AF_INET6, Index: uint32(oif), State: netlink.NUD_PERMANENT})
	req.AddData(nl.NewRtAttr(unix.NDA_DST, []byte(mapped)))
	req.AddData(nl.NewRtAttr(unix.NDA_LLADDR, []byte(mac)))
	if err := b.inNS(func() error { _, err := req.Execute(unix.NETLINK_ROUTE, 0); return err }); err != nil {
		return nil, fmt.Errorf("ip -6 neigh replace ::ffff:%s lladdr %s: %w", gw, mac, err)
	}
	done[key] = true
	return mapped, nil
}

func mplsLabels(r fib.Route) []int {
	labels := make([]int, len(r.Labels))
	for i, l := range r.Labels {
		labels[i] = int(l)
	}
	return labels
}

// syncRoutes replaces the routes of want and deletes every other route of
// protocol 204 (in the VRF tables and the MPLS table).
func (b *Backend) syncRoutes(want map[string]*netlink.Route) error {
	var errs []error
	have := map[string]bool{}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6, netlink.FAMILY_MPLS} {
		rs, err := b.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: RTProto},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing routes: %w", err))
			continue
		}
		for i := range rs {
			r := &rs[i]
			if fam == netlink.FAMILY_MPLS {
				r.Family = netlink.FAMILY_MPLS
			}
			k := routeKey(r)
			if w, ok := want[k]; ok && sameRoute(w, r) {
				have[k] = true
				continue
			}
			if _, ok := want[k]; ok {
				continue // replaced below
			}
			if err := b.h.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("deleting %s: %w", k, err))
			}
		}
	}
	var replace []*netlink.Route
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if !have[k] {
			replace = append(replace, want[k])
		}
	}
	errs = append(errs, b.replaceRoutes(replace))
	return errors.Join(errs...)
}

// routeKey is what makes two routes the same route to the kernel:
// family, table, destination (or label) and metric.
func routeKey(r *netlink.Route) string {
	if r.Family == netlink.FAMILY_MPLS || r.MPLSDst != nil {
		if r.MPLSDst == nil {
			return "mpls ?"
		}
		return fmt.Sprintf("mpls %d", *r.MPLSDst)
	}
	dst := "default"
	if r.Dst != nil {
		dst = r.Dst.String()
	}
	fam := "inet"
	if r.Family == netlink.FAMILY_V6 || (r.Dst != nil && r.Dst.IP.To4() == nil) {
		fam = "inet6"
	}
	return fmt.Sprintf("%s %s table %d metric %d", fam, dst, r.Table, r.Priority)
}

// sameRoute compares what the backend sets: type, interface, gateway and
// label stack.
func sameRoute(want, got *netlink.Route) bool {
	if want.Type != 0 && want.Type != got.Type || want.LinkIndex != got.LinkIndex {
		return false
	}
	if !ipEqual(want.Gw, got.Gw) {
		return false
	}
	if (want.Via == nil) != (got.Via == nil) || want.Via != nil && want.Via.String() != got.Via.String() {
		return false
	}
	return encapString(want.Encap) == encapString(got.Encap)
}

func encapString(e netlink.Encap) string {
	if e == nil {
		return ""
	}
	if m, ok := e.(*netlink.MPLSEncap); ok {
		return fmt.Sprint(m.Labels)
	}
	return e.String()
}

func ipEqual(a, b net.IP) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return a.Equal(b)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func defaultDst(fam int) *net.IPNet {
	if fam == netlink.FAMILY_V4 {
		return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	}
	return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
}

// via is an MPLS or cross-family next hop; netlink v1.3.1 wants a 4-byte
// address for IPv4 (PEERS.md).
func via(ip net.IP) *netlink.Via {
	if v4 := ip.To4(); v4 != nil {
		return &netlink.Via{AddrFamily: netlink.FAMILY_V4, Addr: v4}
	}
	return &netlink.Via{AddrFamily: netlink.FAMILY_V6, Addr: ip}
}

// onThreadIn runs f on a locked OS thread switched into ns and back.
func onThreadIn(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
	}()
	return <-errc
}
