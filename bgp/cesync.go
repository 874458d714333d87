package bgp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peregrine-net/peregrine/mpls"
)

// syncCE reconciles the prefixes of vrf whose CE route changed since its
// last reconciliation (setCE, unsetCE mark them) and no other, so that a
// batch of CE paths costs what its prefixes cost, not what the VRF holds:
// a CE's full table, which GoBGP hands over a few hundred paths at a
// time, is then exported in time linear in its size (sync, reading the
// whole VRF per batch, made it quadratic).
//
// Per prefix it does what sync does for the whole VRF: the FIB is told
// of the CE route (emitCEPrefix); the VPN path is advertised with the
// VRF's RD, export targets and label, replaced or withdrawn, unless the
// prefix is the VRF's static or connected one, which is what the VRF
// then keeps exporting (its advert carries no CE route); labels are on
// disk before a path carries them, and bound and released as sync's
// rebind would. cfg is the VRF's configuration, the one its last sync
// applied: a change of configuration or of connected prefixes goes
// through sync.
//
// A prefix that fails (no label left, GoBGP refusing the path) stays
// dirty, to be tried again by the VRF's next syncCE or sync; the others
// go on.
func (o *originator) syncCE(ctx context.Context, name string, cfg *VRF) error {
	dirty := o.dirty[name]
	delete(o.dirty, name)
	if len(dirty) == 0 || cfg == nil {
		return nil
	}
	have := o.adverts[name]
	if have == nil {
		have = map[netip.Prefix]advert{}
		o.adverts[name] = have
	}
	ces := o.ce[name]
	var (
		errs      []error
		failed    []netip.Prefix
		withdraws []netip.Prefix
		adds      []netip.Prefix
		want      = make(map[netip.Prefix]advert, len(dirty))
		newLabels = map[mpls.Label]netip.Prefix{}
	)
	for p := range dirty {
		o.emitCEPrefix(name, p, ces)
		a, advertised := have[p]
		if advertised && a.ce == nil {
			continue // static or connected: the configuration says where it is
		}
		r := ces[p]
		if r == nil {
			if advertised {
				withdraws = append(withdraws, p)
			}
			continue
		}
		l, bound, err := o.label(name, cfg.LabelMode, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("vrf %s prefix %s from CE %s: %w", name, p, r.nextHop, err))
			failed = append(failed, p)
			continue
		}
		w := advert{rd: cfg.RD, label: l, rts: cfg.ExportTargets, ce: r}
		if b, ok := o.labels[name][l]; !ok || b != bound {
			newLabels[l] = bound
		}
		if advertised && a.equal(w) {
			have[p] = w // the same path; the CE may be another (show route vrf)
			continue
		}
		if advertised && a.rd != w.rd {
			withdraws = append(withdraws, p)
		}
		want[p] = w
		adds = append(adds, p)
	}
	// The labels are on disk before any route carries them.
	if err := o.book.flush(); err != nil {
		o.redirty(name, dirty)
		return fmt.Errorf("vrf %s: %w", name, err)
	}
	var released []mpls.Label
	for _, p := range withdraws {
		a := have[p]
		if err := o.withdraw(ctx, p, a); err != nil {
			errs = append(errs, err)
			failed = append(failed, p)
			delete(want, p) // not added over a path still there
			continue
		}
		delete(have, p)
		released = append(released, a.label)
	}
	for _, p := range adds {
		w, ok := want[p]
		if !ok {
			continue
		}
		path, err := w.encode(p, false)
		if err == nil {
			_, err = o.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vrf %s: advertise %s: %w", name, p, err))
			failed = append(failed, p)
			continue
		}
		have[p] = w
	}
	o.rebindChanged(name, released, newLabels)
	for _, p := range failed {
		o.markDirty(name, p)
	}
	return errors.Join(errs...)
}

// redirty marks every prefix of dirty again, after a syncCE that
// advertised nothing.
func (o *originator) redirty(vrf string, dirty map[netip.Prefix]struct{}) {
	for p := range maps.Keys(dirty) {
		o.markDirty(vrf, p)
	}
}

// rebindChanged is rebind for the labels a syncCE touched, leaving the
// VRF's labels what rebind would make them: the labels its adverts
// carry. released are the labels of withdrawn paths, each let go once no
// advert uses it (a per-prefix label at once, the per-VRF label, bound
// to the zero prefix, with the VRF's last path); added are labels bound
// since, announced once an advert carries them.
func (o *originator) rebindChanged(vrf string, released []mpls.Label, added map[mpls.Label]netip.Prefix) {
	bound, adverts := o.labels[vrf], o.adverts[vrf]
	carried := func(l mpls.Label, p netip.Prefix) bool {
		if !p.IsValid() {
			return len(adverts) > 0
		}
		a, ok := adverts[p]
		return ok && a.label == l
	}
	for _, l := range released {
		if p, ok := bound[l]; ok && !carried(l, p) {
			o.book.release(l)
			o.emit(Event{Kind: LabelDel, VRF: vrf, Prefix: p, Label: l})
			delete(bound, l)
		}
	}
	for l, p := range added {
		if !carried(l, p) {
			continue // its path was not advertised; the prefix stays dirty
		}
		if bound == nil {
			bound = map[mpls.Label]netip.Prefix{}
			o.labels[vrf] = bound
		}
		bound[l] = p
		o.emit(Event{Kind: LabelAdd, VRF: vrf, Prefix: p, Label: l})
	}
	if len(bound) == 0 {
		delete(o.labels, vrf)
	}
}
