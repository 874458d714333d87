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

// routeChange is one prefix whose route differs between the old VRF and
// the new: what it was (if it was there) and what it is (if it is).
type routeChange struct {
	prefix      netip.Prefix
	was, is     fib.Route
	hadWas, has bool
}

// buildTable returns the table for newV, given old built from oldV (nil for
// a new VRF), and the routes it had to leave out. It keeps the next hops'
// reference counts (hops.go): every route of the new table holds its hop,
// and the old routes it replaces let theirs go.
func (d *dataplane) buildTable(old *routeTable, oldV, newV *fib.VRF) (*routeTable, []error) {
	var errs []error
	if oldV == nil || old == nil {
		return d.freshTable(newV, &errs), errs
	}
	var diff []routeChange
	kept := 0 // prefixes of newV that oldV has too
	for p, r := range newV.Routes {
		o, ok := oldV.Routes[p]
		if ok {
			kept++
			if sameRoute(o, r) {
				continue
			}
		}
		diff = append(diff, routeChange{prefix: p, was: o, hadWas: ok, is: r, has: true})
	}
	if kept < len(oldV.Routes) { // else nothing was withdrawn: skip the walk
		for p, o := range oldV.Routes {
			if _, ok := newV.Routes[p]; !ok {
				diff = append(diff, routeChange{prefix: p, was: o, hadWas: true})
			}
		}
	}
	if len(diff) == 0 {
		return old, nil
	}
	if len(diff) > persistThreshold && len(diff) >= len(newV.Routes)/4 {
		t := d.freshTable(newV, &errs) // hold the new hops before letting the old go
		for _, r := range oldV.Routes {
			d.unref(r)
		}
		return t, errs
	}
	changes := make([]change, len(diff))
	for i, c := range diff {
		changes[i].prefix = c.prefix
		if c.has {
			changes[i].hop = d.ref(c.is, &errs)
		}
		if c.hadWas {
			d.unref(c.was)
		}
	}
	if len(changes) <= persistThreshold {
		t := old
		for _, c := range changes {
			if c.hop == nil {
				t = t.DeletePersist(c.prefix)
			} else {
				t = t.InsertPersist(c.prefix, c.hop)
			}
		}
		return t, errs
	}
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

// freshTable builds v's table from scratch, holding each route's hop.
func (d *dataplane) freshTable(v *fib.VRF, errs *[]error) *routeTable {
	t := new(routeTable)
	for p, r := range v.Routes {
		if h := d.ref(r, errs); h != nil {
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
