package kernel

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
)

// The route step of Apply is two halves, so that the first can be tested
// without root or a VM (desired_test.go drives it through a fake
// kernelView, as Tailscale's router tests drive a fake command runner):
//
//	translate: fib.State + kernelView (reads only)  ->  desired
//	apply:     desired  ->  ip -6 neigh replace ...; ip route replace ...; ip route del ...  (routes.go)

// kernelView is what the translation reads from the kernel, and all it
// reads: *netlink.Handle implements it, a test's fake drives it.
type kernelView interface {
	// LinkByName is `ip link show NAME`: the index of a CE, core or
	// pgesp-N interface.
	LinkByName(name string) (netlink.Link, error)
	// RouteGet is `ip route get DST` in the main table: how a remote PE
	// is reached.
	RouteGet(dst net.IP) ([]netlink.Route, error)
	// NeighList is `ip neigh show dev INDEX` for family: the ARP table a
	// 6VPE route's gateway MAC comes from.
	NeighList(linkIndex, family int) ([]netlink.Neigh, error)
}

var _ kernelView = (*netlink.Handle)(nil)

// routeDevices is what Apply made before the routes: the devices the
// routes point into.
type routeDevices struct {
	// VRFs maps a VRF to its VRF device's index; a VRF without one gets
	// no routes and its labels none either (the device step has said why).
	VRFs map[string]int
	// ESP is set when the backend has an ESP Gateway: every route to a
	// remote PE goes into that PE's TUN (ESPTUNs), never over the core.
	ESP bool
	// ESPTUNs maps a remote PE to its Gateway TUN (pgesp-N).
	ESPTUNs map[netip.Addr]string
	// AttachmentTUNs maps a VRF to the Gateway's TUN for its IPsec
	// attachments (pga-VRF, enslaved to the VRF's device).
	AttachmentTUNs map[string]string
}

// desired is what a State asks of the kernel's forwarding, before any
// write: the routes of protocol 204 keyed by routeKey, and the permanent
// neighbor entries the 6VPE routes go through.
type desired struct {
	routes map[string]*netlink.Route
	// neighbors by neighborKey, each set once however many routes use it.
	neighbors map[string]*mappedNeighbor
	// errs are the routes the State asks for that cannot be made, named
	// (the reconciler retries).
	errs []error
}

// mappedNeighbor is
//
//	ip -6 neigh replace ::ffff:GW lladdr MAC dev INDEX nud permanent
//
// the entry that lets an IPv6 route take an IPv4 next hop (6VPE, see the
// package documentation), and the routes through it: if writing it fails,
// the apply step withholds them.
type mappedNeighbor struct {
	LinkIndex int
	IP        net.IP // 16 bytes: ::ffff:GW
	MAC       net.HardwareAddr
	users     []neighborUser
}

// neighborUser is a route through a mappedNeighbor: its key in
// desired.routes and what names it in an error.
type neighborUser struct {
	key, what string
}

func neighborKey(oif int, mapped net.IP) string { return fmt.Sprint(oif, " ", mapped.To16()) }

// translate lists every route of protocol 204 s asks for (and
// QuarantineDevice's), and the neighbor entries they need, reading only
// what kernelView offers. A remote route goes
//
//   - to an unprotected PE (State.IsUnprotected): over the core by the
//     main table's route to the PE, which must leave by one of
//     State.MPLSInterfaces when the State names them;
//   - else where devs.ESP: into its PE's ESP Gateway TUN (the Gateway
//     drops and counts what it cannot seal);
//   - else, where the State lists unprotected peers or MPLS interfaces
//     (State.NamesPlainPeers: the operator says which PEs may have plain
//     MPLS, and this one is not among them): a blackhole, never the core;
//   - else (no IPsec, no unprotected peer, no MPLS interface configured: a
//     trusted MPLS core): over the core, as unprotected ones.
func translate(s *fib.State, devs routeDevices, k kernelView) *desired {
	t := &translation{k: k, d: &desired{routes: map[string]*netlink.Route{}, neighbors: map[string]*mappedNeighbor{}},
		hops: map[netip.Addr]hop{}, arp: map[string]arpResult{}, links: map[string]linkResult{}}
	for name, v := range s.VRFs {
		if _, ok := devs.VRFs[name]; !ok {
			continue
		}
		table := int(v.Table)
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			t.add(&netlink.Route{Table: table, Family: fam, Type: unix.RTN_UNREACHABLE, Priority: fib.UnreachableMetric,
				Protocol: RTProto, Dst: defaultDst(fam)})
		}
		for p, r := range v.Routes {
			rt := t.a.route()
			rt.Table, rt.Protocol, rt.Dst, rt.Family = table, RTProto, t.a.prefix(p), family(p)
			var mapped *mappedNeighbor
			var err error
			switch {
			case r.IsRemote() && s.IsUnprotected(r.Remote):
				r.Labels = s.PlainLabels(r.Remote, r.Labels) // a copy: s stays as it is
				mapped, err = t.overCore(rt, r, s.MPLSInterfaces)
			case r.IsRemote() && devs.ESP:
				err = t.intoESP(rt, r, devs.ESPTUNs)
			case r.IsRemote() && s.NamesPlainPeers():
				blackhole(rt) // neither protected nor unprotected: see translate
			case r.IsRemote():
				mapped, err = t.overCore(rt, r, s.MPLSInterfaces)
			case r.Attachment != "":
				err = t.intoAttachment(rt, name, devs.AttachmentTUNs)
			case r.Interface != "":
				err = t.toCE(rt, r)
			default:
				continue
			}
			if err != nil {
				t.d.errs = append(t.d.errs, fmt.Errorf("vrf %s route %s: %w", name, p, err))
				continue
			}
			key := t.add(rt)
			if mapped != nil {
				mapped.users = append(mapped.users, neighborUser{key: key, what: fmt.Sprintf("vrf %s route %s", name, p)})
			}
		}
	}
	for l, act := range s.Labels {
		label := int(l)
		rt := &netlink.Route{Family: netlink.FAMILY_MPLS, MPLSDst: &label, Protocol: RTProto}
		switch act.Kind {
		case fib.PopLookup:
			idx, ok := devs.VRFs[act.VRF]
			if !ok {
				continue
			}
			rt.LinkIndex = idx
		case fib.PopForward:
			oif, err := t.ifIndex(act.Interface)
			if err != nil {
				t.d.errs = append(t.d.errs, fmt.Errorf("label %d: %w", l, err))
				continue
			}
			rt.LinkIndex = oif
			if act.NextHop.IsValid() {
				rt.Via = via(act.NextHop.AsSlice())
			} else if idx, ok := devs.VRFs[act.VRF]; ok {
				// A connected prefix: with no via the kernel sends the
				// popped packet to the interface's own MAC address,
				// which no CE takes; the VRF's table finds the host.
				rt.LinkIndex = idx
			}
		}
		t.add(rt)
	}
	// Our own transport labels: popped to lo, where MPLS input is on
	// (sysctlWrites), so the kernel takes the packet in again and looks
	// the VPN label beneath up as above. Linux pops one label per route
	// and forwards what is left; a route without a via sends it to the
	// device itself.
	if len(s.LocalTransportLabels) > 0 {
		lo, err := t.ifIndex("lo")
		if err != nil {
			t.d.errs = append(t.d.errs, fmt.Errorf("local transport labels: %w", err))
		}
		for _, l := range s.LocalTransportLabels {
			if _, isVPN := s.Labels[l]; isVPN || err != nil {
				continue // config keeps them apart; the VPN label wins
			}
			label := int(l)
			t.add(&netlink.Route{Family: netlink.FAMILY_MPLS, MPLSDst: &label, Protocol: RTProto, LinkIndex: lo})
		}
	}
	// While QuarantineDevice exists, its table's routes are ours too:
	// without them the sync would delete them (quarantine.go).
	if _, err := k.LinkByName(QuarantineDevice); err == nil {
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			t.add(quarantineRoute(fam))
		}
	}
	return t.d
}

// translation is one translate call's working state: what it read from
// the kernel, once per remote PE, per gateway and per interface rather
// than per route.
type translation struct {
	a     routeArena
	k     kernelView
	d     *desired
	hops  map[netip.Addr]hop
	arp   map[string]arpResult  // by neighborKey
	links map[string]linkResult // by interface name
}

type linkResult struct {
	index int
	err   error
}

type hop struct {
	gw  net.IP
	oif int
	err error
}

type arpResult struct {
	mac net.HardwareAddr
	err error
}

func (t *translation) add(r *netlink.Route) string {
	k := routeKey(r)
	t.d.routes[k] = r
	return k
}

// ifIndex is an interface's index, read from the kernel once per
// translation: a VRF's CE routes all leave by its CE interface, and one
// request per route made an Apply of 2,000 VRFs send 20,000.
func (t *translation) ifIndex(name string) (int, error) {
	if r, ok := t.links[name]; ok {
		return r.index, r.err
	}
	var r linkResult
	if l, err := t.k.LinkByName(name); err != nil {
		r.err = err
	} else {
		r.index = l.Attrs().Index
	}
	t.links[name] = r
	return r.index, r.err
}

// intoESP: ip route replace PREFIX encap mpls LABEL dev pgesp-N.
func (t *translation) intoESP(rt *netlink.Route, r fib.Route, tuns map[netip.Addr]string) error {
	dev, ok := tuns[r.Remote.Unmap()]
	if !ok {
		return fmt.Errorf("no ESP gateway device for remote PE %s", r.Remote)
	}
	oif, err := t.ifIndex(dev)
	if err != nil {
		return err
	}
	rt.Encap = t.a.encap(r.Labels)
	rt.LinkIndex, rt.Scope = oif, netlink.SCOPE_LINK
	return nil
}

// intoAttachment: ip route replace SITE-PREFIX dev pga-VRF, the
// Gateway's TUN for VRF's attachments, which seals for the site; with no
// such TUN (no Gateway, or it could not make or enslave one) a
// blackhole: the site's traffic never leaves in clear.
func (t *translation) intoAttachment(rt *netlink.Route, vrf string, tuns map[string]string) error {
	dev, ok := tuns[vrf]
	if !ok {
		blackhole(rt)
		return nil
	}
	oif, err := t.ifIndex(dev)
	if err != nil {
		return err
	}
	rt.LinkIndex, rt.Scope = oif, netlink.SCOPE_LINK
	return nil
}

// overCore: ip route replace PREFIX encap mpls LABEL via GW dev CORE-IF,
// GW and CORE-IF from the main table's route to the remote PE; for an
// IPv6 prefix over an IPv4 core, via ::ffff:GW onlink through the
// neighbor entry it returns. With cores named, CORE-IF must be one of
// them: plain MPLS leaves by the interfaces the operator named or not at
// all.
func (t *translation) overCore(rt *netlink.Route, r fib.Route, cores []string) (*mappedNeighbor, error) {
	gw, oif, err := t.resolve(r.Remote)
	if err != nil {
		return nil, err
	}
	if len(cores) > 0 && !t.isCore(oif, cores) {
		return nil, fmt.Errorf("remote PE %s is reached by interface %d, not one of dataplane.mpls-interfaces %v", r.Remote, oif, cores)
	}
	rt.Encap = t.a.encap(r.Labels)
	rt.LinkIndex = oif
	switch {
	case rt.Family == netlink.FAMILY_V6 && gw.To4() != nil: // 6VPE: see the package documentation
		n, err := t.mappedNeighbor(gw, oif)
		if err != nil {
			return nil, err
		}
		rt.Gw, rt.Flags = n.IP, int(netlink.FLAG_ONLINK)
		return n, nil
	case (rt.Family == netlink.FAMILY_V4) == (gw.To4() != nil):
		rt.Gw = gw
	default:
		rt.Via = via(gw)
	}
	return nil, nil
}

// isCore reports whether interface oif is one of cores.
func (t *translation) isCore(oif int, cores []string) bool {
	for _, c := range cores {
		if i, err := t.ifIndex(c); err == nil && i == oif {
			return true
		}
	}
	return false
}

// blackhole: ip route replace blackhole PREFIX (a route to a remote PE
// that is neither protected nor unprotected).
func blackhole(rt *netlink.Route) {
	rt.Type = unix.RTN_BLACKHOLE
}

// toCE: ip route replace PREFIX [via CE] dev CE-IF.
func (t *translation) toCE(rt *netlink.Route, r fib.Route) error {
	oif, err := t.ifIndex(r.Interface)
	if err != nil {
		return err
	}
	rt.LinkIndex = oif
	if r.NextHop.IsValid() {
		rt.Gw = r.NextHop.AsSlice()
	} else {
		rt.Scope = netlink.SCOPE_LINK
	}
	return nil
}

// resolve is routeTo, once per remote PE.
func (t *translation) resolve(pe netip.Addr) (net.IP, int, error) {
	h, ok := t.hops[pe]
	if !ok {
		h.gw, h.oif, h.err = routeTo(t.k, pe)
		t.hops[pe] = h
	}
	return h.gw, h.oif, h.err
}

// routeTo resolves a remote PE through the main table: the gateway and
// interface its packets leave by.
func routeTo(k kernelView, pe netip.Addr) (gw net.IP, oif int, err error) {
	rs, err := k.RouteGet(pe.AsSlice())
	if err != nil || len(rs) == 0 {
		return nil, 0, fmt.Errorf("no route to remote PE %s in the main table: %v", pe, err)
	}
	gw = rs[0].Gw
	if gw == nil {
		gw = pe.AsSlice() // directly connected
	}
	if v4 := gw.To4(); v4 != nil {
		gw = v4
	}
	return gw, rs[0].LinkIndex, nil
}

// mappedNeighbor returns the neighbor entry for gw, an IPv4 next hop on
// interface oif, as an IPv4-mapped IPv6 address carrying gw's MAC from
// the ARP table: the next hop an IPv6 route over an IPv4 core can take.
// Until gw's MAC is known the route cannot be installed, and the error
// makes the reconciler retry.
func (t *translation) mappedNeighbor(gw net.IP, oif int) (*mappedNeighbor, error) {
	mapped := gw.To16()
	key := neighborKey(oif, mapped)
	if n, ok := t.d.neighbors[key]; ok {
		return n, nil
	}
	a, ok := t.arp[key]
	if !ok {
		a.mac, a.err = t.arpMAC(gw, oif)
		t.arp[key] = a
	}
	if a.err != nil {
		return nil, a.err
	}
	n := &mappedNeighbor{LinkIndex: oif, IP: mapped, MAC: a.mac}
	t.d.neighbors[key] = n
	return n, nil
}

// arpMAC is gw's MAC in oif's ARP table, from an entry that is neither
// incomplete nor failed.
func (t *translation) arpMAC(gw net.IP, oif int) (net.HardwareAddr, error) {
	ns, err := t.k.NeighList(oif, netlink.FAMILY_V4)
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
	return mac, nil
}
