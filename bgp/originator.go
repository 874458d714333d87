package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/peregrine-net/peregrine/bgp/vpn"
	"github.com/peregrine-net/peregrine/mpls"
)

// advert is one VPN path this PE originates.
type advert struct {
	rd    vpn.RD
	label mpls.Label
	rts   []vpn.RT
	// ce is set for a route a CE announced: its carried attributes.
	ce *ceRoute
}

func (a advert) equal(b advert) bool {
	return a.rd == b.rd && a.label == b.label && slices.Equal(a.rts, b.rts) && sameCarried(a.ce, b.ce)
}

// sameCarried reports whether two adverts carry the same attributes: none
// (a static or connected prefix) or a CE's with equal encodings, most
// often one shared set (cecarried.go).
func sameCarried(a, b *ceRoute) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ceCarried == b.ceCarried || a.key == b.key
}

func (a advert) encode(p netip.Prefix, withdraw bool) (*api.Path, error) {
	if a.ce == nil {
		return encodePath(a.rd, p, a.label, a.rts, withdraw)
	}
	return a.ce.encode(a.rd, p, a.label, a.rts, withdraw)
}

// originator keeps GoBGP's locally originated VPN paths equal to what the
// VRFs' configuration and connected prefixes call for, and binds their
// labels.
type originator struct {
	srv     *server.BgpServer
	book    *labelBook
	emit    func(Event)
	adverts map[string]map[netip.Prefix]advert     // VRF -> prefix -> advertised path
	ce      map[string]map[netip.Prefix]*ceRoute   // VRF -> best path from its CEs
	ceFIB   map[string]map[netip.Prefix]netip.Addr // VRF -> CE routes given to the FIB (cefib.go)
	labels  map[string]map[mpls.Label]netip.Prefix // VRF -> bound labels (zero prefix: per-VRF)
	// attached are the up IPsec attachments' site prefixes, by VRF
	// (attached.go): exported as static routes are.
	attached map[string][]netip.Prefix
	// dirty are the prefixes whose CE route changed since their VRF was
	// last reconciled, for syncCE (cesync.go).
	dirty   map[string]map[netip.Prefix]struct{}
	carried ceCarriedTable // the CE routes' attributes, shared (cecarried.go)
}

// newOriginator binds labels with alloc, kept in memory only.
func newOriginator(srv *server.BgpServer, alloc *mpls.Allocator, emit func(Event)) *originator {
	return newBookOriginator(srv, &labelBook{alloc: alloc}, emit)
}

func newBookOriginator(srv *server.BgpServer, book *labelBook, emit func(Event)) *originator {
	return &originator{
		srv: srv, book: book, emit: emit,
		adverts:  map[string]map[netip.Prefix]advert{},
		ce:       map[string]map[netip.Prefix]*ceRoute{},
		ceFIB:    map[string]map[netip.Prefix]netip.Addr{},
		labels:   map[string]map[mpls.Label]netip.Prefix{},
		attached: map[string][]netip.Prefix{},
		dirty:    map[string]map[netip.Prefix]struct{}{},
	}
}

// sync makes one VRF's advertisements match cfg and its connected
// prefixes, reading every prefix of the VRF: for a VRF added, removed or
// changed, or connected prefixes that changed. A batch of CE routes
// alone takes syncCE, which reads only the prefixes it changed. A nil cfg
// removes the VRF.
func (o *originator) sync(ctx context.Context, name string, cfg *VRF, connected []netip.Prefix) error {
	delete(o.dirty, name)
	o.emitCE(name, cfg != nil)
	want, wantLabels, err := o.wanted(name, cfg, connected)
	if err != nil {
		return err
	}
	// The labels are on disk before any route carries them. If they
	// cannot be, the labels bound above for no route give way: kept, they
	// would stay unsaved and fail every later flush (every reload) until
	// the disk has room.
	if err := o.book.flush(); err != nil {
		have := o.labels[name]
		for l, p := range wantLabels {
			if hp, ok := have[l]; !ok || hp != p {
				o.book.release(l)
			}
		}
		return fmt.Errorf("vrf %s: %w", name, err)
	}
	have := o.adverts[name]
	for p, a := range have {
		if w, ok := want[p]; !ok || w.rd != a.rd {
			if err := o.withdraw(ctx, p, a); err != nil {
				return err
			}
		}
	}
	for p, w := range want {
		if a, ok := have[p]; ok && a.equal(w) {
			continue
		}
		path, err := w.encode(p, false)
		if err != nil {
			return err
		}
		if _, err := o.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path}); err != nil {
			return fmt.Errorf("vrf %s: advertise %s: %w", name, p, err)
		}
	}
	o.rebind(name, wantLabels)
	if cfg == nil {
		delete(o.adverts, name)
		delete(o.ce, name)
	} else {
		o.adverts[name] = want
	}
	return nil
}

// wanted is what sync advertises for one VRF: an advert for each of its
// prefixes (connected, static, attached, then its CE routes'), with the
// labels they bind, each bound now if it was not already. A nil cfg
// wants nothing.
func (o *originator) wanted(name string, cfg *VRF, connected []netip.Prefix) (map[netip.Prefix]advert, map[mpls.Label]netip.Prefix, error) {
	want := map[netip.Prefix]advert{}
	wantLabels := map[mpls.Label]netip.Prefix{}
	if cfg == nil {
		return want, wantLabels, nil
	}
	prefixes := slices.Clone(connected)
	prefixes = append(prefixes, cfg.StaticRoutes...)
	prefixes = append(prefixes, o.attached[name]...)
	for _, p := range prefixes {
		if _, dup := want[p]; dup {
			continue
		}
		l, bound, err := o.label(name, cfg.LabelMode, p)
		if err != nil {
			return nil, nil, fmt.Errorf("vrf %s prefix %s: %w", name, p, err)
		}
		wantLabels[l] = bound
		want[p] = advert{rd: cfg.RD, label: l, rts: cfg.ExportTargets}
	}
	// A CE's route to a prefix the VRF already exports as static or
	// connected is not exported: the configuration says where that
	// prefix is, and a CE must not move it.
	for p, r := range o.ce[name] {
		if _, dup := want[p]; dup {
			continue
		}
		l, bound, err := o.label(name, cfg.LabelMode, p)
		if err != nil {
			return nil, nil, fmt.Errorf("vrf %s prefix %s from CE %s: %w", name, p, r.nextHop, err)
		}
		wantLabels[l] = bound
		want[p] = advert{rd: cfg.RD, label: l, rts: cfg.ExportTargets, ce: r}
	}
	return want, wantLabels, nil
}

func (o *originator) withdraw(ctx context.Context, p netip.Prefix, a advert) error {
	path, err := a.encode(p, true)
	if err != nil {
		return err
	}
	if err := o.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Path: path}); err != nil {
		return fmt.Errorf("withdraw %s %s: %w", a.rd, p, err)
	}
	return nil
}

// label returns the label for prefix p of a VRF and the prefix it binds
// (the zero prefix for a per-VRF label).
func (o *originator) label(vrf, mode string, p netip.Prefix) (mpls.Label, netip.Prefix, error) {
	a, err := o.book.allocator()
	if err != nil {
		return 0, netip.Prefix{}, err
	}
	if mode == "per-prefix" {
		l, err := a.ForPrefix(vrf, p)
		return l, p, err
	}
	l, err := a.ForVRF(vrf)
	return l, netip.Prefix{}, err
}

// rebind releases labels the VRF no longer uses and announces new ones.
func (o *originator) rebind(vrf string, want map[mpls.Label]netip.Prefix) {
	have := o.labels[vrf]
	for l, p := range have {
		if wp, ok := want[l]; ok && wp == p {
			continue
		}
		o.book.release(l)
		o.emit(Event{Kind: LabelDel, VRF: vrf, Prefix: p, Label: l})
	}
	for l, p := range want {
		if hp, ok := have[l]; ok && hp == p {
			continue
		}
		o.emit(Event{Kind: LabelAdd, VRF: vrf, Prefix: p, Label: l})
	}
	if len(want) == 0 {
		delete(o.labels, vrf)
	} else {
		o.labels[vrf] = want
	}
}

// routes lists what a VRF originates, sorted by prefix.
func (o *originator) routes(vrf string) []Route {
	out := make([]Route, 0, len(o.adverts[vrf]))
	for p, a := range o.adverts[vrf] {
		r := Route{Prefix: p, Label: a.label, RD: a.rd, Local: true}
		if a.ce != nil {
			r.NextHop = a.ce.nextHop // learned from that CE
		}
		out = append(out, r)
	}
	slices.SortFunc(out, comparePrefix)
	return out
}
