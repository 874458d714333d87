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
	targets map[string][]vpn.RT  // VRF -> import RTs
	tables  map[string]*vrfTable // VRF -> prefix -> candidates
	emit    func(Event)
	// scratch holds one prefix's candidates while place works on them.
	scratch []candidate
	// remote lists the current remote best paths, for re-evaluating a
	// VRF whose import targets change.
	remote func() []vpnPath
}

func newImporter(emit func(Event), remote func() []vpnPath) *importer {
	return &importer{
		targets: map[string][]vpn.RT{},
		tables:  map[string]*vrfTable{},
		emit:    emit,
		remote:  remote,
	}
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
	for vrf, targets := range im.targets {
		im.place(vrf, p.key, !p.withdraw && matches(targets, p.rts), p)
	}
}

// place adds (in) or removes (!in) path key's candidate in vrf and emits
// what changed in the installed route.
func (im *importer) place(vrf string, key pathKey, in bool, p vpnPath) {
	table := im.tables[vrf]
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
	if old, ok := im.targets[vrf]; ok && slices.Equal(old, targets) {
		return
	}
	im.targets[vrf] = slices.Clone(targets)
	if im.tables[vrf] == nil {
		im.tables[vrf] = newVRFTable()
	}
	// Paths the VRF imported and no longer matches drop out; those it
	// now matches come in. A path withdrawn meanwhile is in neither list
	// nor table, or its withdrawal is queued behind this.
	for _, p := range im.remote() {
		im.place(vrf, p.key, matches(targets, p.rts), p)
	}
}

// removeVRF withdraws everything a VRF imported.
func (im *importer) removeVRF(vrf string) {
	if t := im.tables[vrf]; t != nil {
		t.installed(func(prefix netip.Prefix, _ candidate) {
			im.emit(Event{Kind: RouteDel, VRF: vrf, Prefix: prefix})
		})
	}
	delete(im.tables, vrf)
	delete(im.targets, vrf)
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
	table, ok := im.tables[vrf]
	if !ok {
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
