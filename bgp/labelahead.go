package bgp

import (
	"net/netip"

	"github.com/peregrine-net/peregrine/mpls"
)

// bindAhead binds the labels that sync will ask for, for every VRF of
// vrfs, and saves them with one flush, so that each sync's own flush
// then finds nothing new to write. Without it an apply that adds N VRFs
// wrote the label file N times, each write (and its two fsyncs) as long
// as the file: bring-up quadratic in the VRFs (issue 23; 2,000 VRFs
// rewrote a growing file 2,000 times).
//
// It changes nothing sync does or the order labels are handed out in
// (the same VRFs, prefixes and order as the syncs that follow). A label
// it cannot bind stops it there: that VRF's sync meets the same error
// in its turn, after the VRFs before it applied, as without bindAhead.
// A flush that fails releases what it bound for no route, as sync does,
// and the syncs then bind and flush one by one as before, each failing
// or not on its own.
func (o *originator) bindAhead(vrfs []VRF, connected map[string][]netip.Prefix) {
	var fresh []mpls.Label
	for i := range vrfs {
		v := &vrfs[i]
		_, labels, err := o.wanted(v.Name, v, connected[v.Name])
		if err != nil {
			break
		}
		have := o.labels[v.Name]
		for l, p := range labels {
			if hp, ok := have[l]; !ok || hp != p {
				fresh = append(fresh, l)
			}
		}
	}
	if err := o.book.flush(); err != nil {
		for _, l := range fresh {
			o.book.release(l)
		}
	}
}
