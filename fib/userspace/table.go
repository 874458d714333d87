package userspace

import (
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/fib"
)

// Route table updates. A VRF's table is immutable once published; an
// update builds its successor from the difference between the State's old
// and new VRF:
//
//   - a few changes (up to persistThreshold): bart's InsertPersist and
//     DeletePersist, which copy only the nodes on each prefix's path and
//     share the rest with the old table;
//   - more, but under a quarter of the table: Clone, then change the clone
//     in place;
//   - otherwise: build from scratch.
//
// The reconciler hands over the same *fib.VRF for an unchanged VRF, which
// costs nothing here (update compares pointers first).
const persistThreshold = 64

// change is one prefix to insert (hop set) or delete (hop nil).
type change struct {
	prefix netip.Prefix
	hop    *nextHop
}

// buildTable returns the table for newV, given old built from oldV (nil for
// a new VRF), and the routes it had to leave out.
func (d *dataplane) buildTable(old *routeTable, oldV, newV *fib.VRF) (*routeTable, []error) {
	var errs []error
	hopOf := func(r fib.Route) *nextHop {
		h, err := d.hop(r)
		if err != nil {
			errs = append(errs, err)
		}
		return h
	}
	if oldV == nil || old == nil {
		return d.freshTable(newV, hopOf), errs
	}
	var changes []change
	kept := 0 // prefixes of newV that oldV has too
	for p, r := range newV.Routes {
		o, ok := oldV.Routes[p]
		if ok {
			kept++
			if sameRoute(o, r) {
				continue
			}
		}
		changes = append(changes, change{p, hopOf(r)})
	}
	if kept < len(oldV.Routes) { // else nothing was withdrawn: skip the walk
		for p := range oldV.Routes {
			if _, ok := newV.Routes[p]; !ok {
				changes = append(changes, change{prefix: p})
			}
		}
	}
	switch {
	case len(changes) == 0:
		return old, errs
	case len(changes) <= persistThreshold:
		t := old
		for _, c := range changes {
			if c.hop == nil {
				t = t.DeletePersist(c.prefix)
			} else {
				t = t.InsertPersist(c.prefix, c.hop)
			}
		}
		return t, errs
	case len(changes) < len(newV.Routes)/4:
		t := old.Clone()
		for _, c := range changes {
			if c.hop == nil {
				t.Delete(c.prefix)
			} else {
				t.Insert(c.prefix, c.hop)
			}
		}
		return t, errs
	}
	errs = nil // freshTable reports them again
	return d.freshTable(newV, hopOf), errs
}

func (d *dataplane) freshTable(v *fib.VRF, hopOf func(fib.Route) *nextHop) *routeTable {
	t := new(routeTable)
	for p, r := range v.Routes {
		if h := hopOf(r); h != nil {
			t.Insert(p, h)
		}
	}
	return t
}

// sameRoute reports whether two routes forward alike (RD is for show).
func sameRoute(a, b fib.Route) bool {
	return a.Prefix == b.Prefix && a.Interface == b.Interface && a.NextHop == b.NextHop &&
		a.Remote == b.Remote && slices.Equal(a.Labels, b.Labels)
}
