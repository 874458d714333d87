package bgp

import (
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// importer turns best VPN paths into VRF routes by route target (RFC 4364
// section 4.3.1). It keeps no copy of the paths themselves: GoBGP's RIB
// has them, and the rare change of a VRF's import targets asks it again
// (remote), which saves a third of the memory a route costs here.
type importer struct {
	vrfs map[string]*importVRF
	// order is vrfs in the order they were configured: the events one
	// path causes leave in that order, not in map order, so the FIB and
	// the tests see them the same way each time.
	order []*importVRF
	emit  func(Event)
	// scratch holds one prefix's candidates while place works on them.
	scratch []candidate
	// remote lists the current remote best paths, for re-evaluating a
	// VRF whose import targets change.
	remote func() []vpnPath
}

// importVRF is one VRF's import targets and imported routes.
type importVRF struct {
	name    string
	targets []vpn.RT
	table   *vrfTable
}

func newImporter(emit func(Event), remote func() []vpnPath) *importer {
	return &importer{vrfs: map[string]*importVRF{}, emit: emit, remote: remote}
}

// table is vrf's table, nil if the importer has no such VRF.
func (im *importer) table(vrf string) *vrfTable {
	if v := im.vrfs[vrf]; v != nil {
		return v.table
	}
	return nil
}

// matches reports whether a path carrying rts is imported by a VRF with targets.
func matches(targets, rts []vpn.RT) bool {
	for _, rt := range rts {
		if slices.Contains(targets, rt) {
			return true
		}
	}
	return false
}

// update applies one best-path change.
func (im *importer) update(p vpnPath) {
	if p.local {
		return
	}
	for _, v := range im.order {
		im.place(v, p.key, !p.withdraw && matches(v.targets, p.rts), p)
	}
}

// place adds (in) or removes (!in) path key's candidate in vrf and emits
// what changed in the installed route.
func (im *importer) place(v *importVRF, key pathKey, in bool, p vpnPath) {
	table, vrf := v.table, v.name
	k := packPrefix(key.prefix)
	cands := table.candidates(k, im.scratch[:0])
	before, had := best(cands)
	cands = slices.DeleteFunc(cands, func(c candidate) bool { return c.rd == key.rd })
	if in {
		cands = append(cands, candidate{rd: key.rd, nextHop: packAddr(p.nextHop), label: p.label})
	}
	table.store(k, cands)
	im.scratch = cands[:0]
	after, has := best(cands)
	switch {
	case has && (!had || after != before):
		im.emit(Event{Kind: RouteAdd, VRF: vrf, Prefix: key.prefix, NextHop: after.nextHop.addr(), Label: after.label, RD: after.rd})
	case had && !has:
		im.emit(Event{Kind: RouteDel, VRF: vrf, Prefix: key.prefix})
	}
}

// setVRF adds a VRF or changes its import targets, re-evaluating every
// known path against the new targets.
func (im *importer) setVRF(vrf string, targets []vpn.RT) {
	v := im.vrfs[vrf]
	if v != nil && slices.Equal(v.targets, targets) {
		return
	}
	if v == nil {
		v = &importVRF{name: vrf, table: newVRFTable()}
		im.vrfs[vrf] = v
		im.order = append(im.order, v)
	}
	v.targets = slices.Clone(targets)
	// Paths the VRF imported and no longer matches drop out; those it
	// now matches come in. A path withdrawn meanwhile is in neither list
	// nor table, or its withdrawal is queued behind this.
	for _, p := range im.remote() {
		im.place(v, p.key, matches(targets, p.rts), p)
	}
}

// removeVRF withdraws everything a VRF imported.
func (im *importer) removeVRF(vrf string) {
	v := im.vrfs[vrf]
	if v == nil {
		return
	}
	v.table.installed(func(prefix netip.Prefix, _ candidate) {
		im.emit(Event{Kind: RouteDel, VRF: vrf, Prefix: prefix})
	})
	delete(im.vrfs, vrf)
	im.order = slices.DeleteFunc(im.order, func(o *importVRF) bool { return o == v })
}

// Route is one installed VRF route, for show commands and tests.
type Route struct {
	Prefix  netip.Prefix `json:"prefix"`
	NextHop netip.Addr   `json:"next-hop"`
	Label   mpls.Label   `json:"label"`
	RD      vpn.RD       `json:"rd"`
	Local   bool         `json:"local,omitempty"` // originated by this PE
}

// routes lists a VRF's installed routes sorted by prefix.
func (im *importer) routes(vrf string) ([]Route, bool) {
	table := im.table(vrf)
	if table == nil {
		return nil, false
	}
	out := make([]Route, 0, table.len())
	table.installed(func(prefix netip.Prefix, b candidate) {
		out = append(out, Route{Prefix: prefix, NextHop: b.nextHop.addr(), Label: b.label, RD: b.rd})
	})
	slices.SortFunc(out, comparePrefix)
	return out, true
}

func comparePrefix(a, b Route) int {
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	return a.Prefix.Bits() - b.Prefix.Bits()
}
