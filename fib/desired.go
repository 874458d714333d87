package fib

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/mpls"
)

// desired is everything the reconciler has been told, and the
// bookkeeping that lets it build the next State without starting from
// scratch. Only the reconciler's goroutine touches it.
//
// BGP inputs are kept whether or not their VRF is configured: bgp and
// config reach the reconciler on different paths, so at start and on
// reload a VRF's routes and labels may arrive before or after the config
// that creates it, and BGP sends each route once. The State shows only
// configured VRFs; the rest waits here until its VRF is configured or bgp
// withdraws it (bgp withdraws every route of a VRF it stops importing
// into, so nothing waits forever in a consistent daemon).
type desired struct {
	cfg       Config
	vrfs      map[string]VRFConfig
	connected map[string][]Connected
	remote    map[string]map[netip.Prefix]Route      // by VRF, configured or not
	ce        map[string]map[netip.Prefix]netip.Addr // CE routes' next hops, by VRF, configured or not
	labels    map[mpls.Label]LabelUpdate
	attached  map[string]map[netip.Prefix]Route // up attachments' routes, by VRF
	tables    tableAlloc

	// cfgVersion is the Reconciler's number for cfg (State.TunnelsVersion).
	cfgVersion uint64

	dirtyVRFs    map[string]bool
	dirtyLabels  bool
	dirtyTunnels bool
	// reapply asks for an Apply of an unchanged State: the kernel lost
	// some of it (Reconciler.Reapply).
	reapply bool
}

func newDesired(firstTable uint32) *desired {
	return &desired{
		vrfs:      map[string]VRFConfig{},
		connected: map[string][]Connected{},
		remote:    map[string]map[netip.Prefix]Route{},
		ce:        map[string]map[netip.Prefix]netip.Addr{},
		labels:    map[mpls.Label]LabelUpdate{},
		attached:  map[string]map[netip.Prefix]Route{},
		tables:    tableAlloc{next: firstTable, byName: map[string]uint32{}},
		dirtyVRFs: map[string]bool{},
	}
}

// tableAlloc hands out routing table numbers, one per VRF name for the
// life of the process: a VRF removed and added back by reloads gets its
// old number, so nothing that outlived it (an operator's `ip rule`, a
// capture filter) silently changes meaning. Numbers are never reused.
type tableAlloc struct {
	next   uint32
	byName map[string]uint32
}

func (t *tableAlloc) get(name string) uint32 {
	if n, ok := t.byName[name]; ok {
		return n
	}
	n := t.next
	t.next++
	t.byName[name] = n
	return n
}

func (d *desired) changed() bool {
	return len(d.dirtyVRFs) > 0 || d.dirtyLabels || d.dirtyTunnels || d.reapply
}

// setConfig replaces the configuration. Only VRFs whose interfaces or
// static routes changed are rebuilt, so a reload (or new tunnel keys) does
// not copy every table.
func (d *desired) setConfig(c Config, version uint64) {
	d.cfgVersion = version
	seen := map[string]bool{}
	for _, vc := range c.VRFs {
		seen[vc.Name] = true
		d.tables.get(vc.Name) // in config order, so numbering follows the file
		if old, ok := d.vrfs[vc.Name]; ok && sameVRFConfig(old, vc) {
			continue
		}
		d.vrfs[vc.Name] = vc
		d.dirtyVRFs[vc.Name] = true
	}
	for name := range d.vrfs {
		if !seen[name] {
			delete(d.vrfs, name)
			d.dirtyVRFs[name] = true
		}
	}
	d.setAttached(c.Attachments)
	d.cfg = c
	d.dirtyTunnels = true
	d.dirtyLabels = true
}

// setAttached keeps each VRF's attachment routes, marking the VRFs whose
// routes changed (an attachment up or down, not a rekey).
func (d *desired) setAttached(atts []Attachment) {
	vrfs := map[string]bool{}
	for _, a := range atts {
		vrfs[a.VRF] = true
	}
	for vrf := range d.attached {
		vrfs[vrf] = true
	}
	for vrf := range vrfs {
		rs := attachmentRoutes(atts, vrf)
		if maps.EqualFunc(rs, d.attached[vrf], func(a, b Route) bool { return a.Attachment == b.Attachment }) {
			continue
		}
		if rs == nil {
			delete(d.attached, vrf)
		} else {
			d.attached[vrf] = rs
		}
		d.dirtyVRFs[vrf] = true
	}
}

func sameVRFConfig(a, b VRFConfig) bool {
	return a.Name == b.Name && slices.Equal(a.Interfaces, b.Interfaces) &&
		slices.Equal(a.StaticRoutes, b.StaticRoutes)
}

func (d *desired) setConnected(vrf string, conns []Connected) {
	if len(conns) == 0 {
		delete(d.connected, vrf)
	} else {
		d.connected[vrf] = conns
	}
	if _, ok := d.vrfs[vrf]; ok {
		d.dirtyVRFs[vrf] = true
	}
}

// updateRoute records a BGP route and reports whether its VRF is
// configured (if not, the route is held aside).
func (d *desired) updateRoute(u RouteUpdate) bool {
	tbl := d.remote[u.VRF]
	if u.Withdraw {
		delete(tbl, u.Prefix)
		if len(tbl) == 0 {
			delete(d.remote, u.VRF)
		}
	} else {
		if tbl == nil {
			tbl = map[netip.Prefix]Route{}
			d.remote[u.VRF] = tbl
		}
		tbl[u.Prefix] = Route{Prefix: u.Prefix, Remote: u.Remote, Labels: u.Labels, RD: u.RD}
	}
	_, ok := d.vrfs[u.VRF]
	if ok {
		d.dirtyVRFs[u.VRF] = true
	}
	return ok
}

// updateCERoute records a CE route and reports whether its VRF is
// configured (if not, the route is held aside).
func (d *desired) updateCERoute(u CERoute) bool {
	tbl := d.ce[u.VRF]
	if u.Withdraw {
		delete(tbl, u.Prefix)
		if len(tbl) == 0 {
			delete(d.ce, u.VRF)
		}
	} else {
		if tbl == nil {
			tbl = map[netip.Prefix]netip.Addr{}
			d.ce[u.VRF] = tbl
		}
		tbl[u.Prefix] = u.NextHop
	}
	_, ok := d.vrfs[u.VRF]
	if ok {
		d.dirtyVRFs[u.VRF] = true
	}
	return ok
}

func (d *desired) updateLabel(u LabelUpdate) bool {
	if u.Release {
		delete(d.labels, u.Label)
	} else {
		d.labels[u.Label] = u
	}
	d.dirtyLabels = true
	_, ok := d.vrfs[u.VRF]
	return ok || u.Release
}

// build returns the next State. It shares everything unchanged with prev
// (VRFs, the LFIB, the tunnel map), which is safe because no State is
// ever modified once built; a changed VRF gets a fresh copy of its
// routes, so a burst of route updates costs one copy per Apply, not one
// per update.
func (d *desired) build(prev *State) *State {
	s := &State{
		VRFs:         make(map[string]*VRF, len(d.vrfs)),
		Labels:       prev.Labels,
		Tunnels:      prev.Tunnels,
		Attachments:  prev.Attachments,
		LocalAddress: d.cfg.LocalAddress,
		// Copied with the config, never changed: shared by every State.
		UnprotectedPeers:     d.cfg.UnprotectedPeers,
		MPLSInterfaces:       d.cfg.MPLSInterfaces,
		TransportLabels:      d.cfg.TransportLabels,
		TunnelsVersion:       d.cfgVersion,
		LocalTransportLabels: d.cfg.LocalTransportLabels,
	}
	for name, vc := range d.vrfs {
		if v := prev.VRFs[name]; v != nil && !d.dirtyVRFs[name] {
			s.VRFs[name] = v
			continue
		}
		// A VRF's connected and static routes are computed here, for
		// the VRFs that changed only, rather than kept beside the
		// State's copy: at 2,000 idle VRFs a second copy of each
		// VRF's local routes was 2 KB of heap per VRF (issue 23).
		local := localRoutes(vc, d.connected[name])
		routes := make(map[netip.Prefix]Route, len(d.remote[name])+len(d.ce[name])+len(local))
		maps.Copy(routes, d.remote[name])
		unresolved := d.ceRoutes(routes, vc, name) // CE beats imported
		maps.Copy(routes, d.attached[name])        // an attachment beats both
		maps.Copy(routes, local)                   // connected and static beat all
		s.VRFs[name] = &VRF{
			Name:       name,
			Table:      d.tables.get(name),
			Interfaces: slices.Clone(vc.Interfaces),
			Routes:     routes,
			Unresolved: unresolved,
		}
	}
	if d.dirtyLabels || len(d.dirtyVRFs) > 0 {
		s.Labels = d.buildLabels(s)
	}
	if d.dirtyTunnels {
		s.Tunnels, s.Attachments = tunnelsOf(d.cfg, func(vrf string) bool { _, ok := d.vrfs[vrf]; return ok })
	}
	clear(d.dirtyVRFs)
	d.dirtyLabels, d.dirtyTunnels, d.reapply = false, false, false
	return s
}

// buildLabels resolves every label whose VRF is configured against the
// VRFs of s; see LabelUpdate for the rules.
func (d *desired) buildLabels(s *State) map[mpls.Label]LabelAction {
	out := make(map[mpls.Label]LabelAction, len(d.labels))
	for l, u := range d.labels {
		v := s.VRFs[u.VRF]
		if v == nil {
			continue
		}
		a := LabelAction{Kind: PopLookup, VRF: u.VRF}
		if r, ok := v.Routes[u.Prefix]; ok && u.Prefix.IsValid() && r.IsLocal() {
			a = LabelAction{Kind: PopForward, VRF: u.VRF, Interface: r.Interface, NextHop: r.NextHop}
		}
		out[l] = a
	}
	return out
}
