package bgp

import "net/netip"

// emitCE tells the forwarding plane which of vrf's CE best paths changed
// since it last did: a CERouteAdd for each new path or new next hop, a
// CERouteDel for each path gone. live false (the VRF removed) withdraws
// them all.
//
// Every CE best path goes to the FIB, including one for a prefix the VRF
// also has as static or connected and therefore does not export: the FIB
// ranks them (connected, static, then the CE's) and keeps the loser for
// when the winner goes. Events for one prefix are emitted in order on
// the owner goroutine, as every event is.
func (o *originator) emitCE(vrf string, live bool) {
	have := o.ceFIB[vrf]
	var want map[netip.Prefix]*ceRoute
	if live {
		want = o.ce[vrf]
	}
	for p := range have {
		if _, ok := want[p]; !ok {
			o.emit(Event{Kind: CERouteDel, VRF: vrf, Prefix: p})
			delete(have, p)
		}
	}
	for p := range want {
		o.emitCEPrefix(vrf, p, want)
	}
	if len(o.ceFIB[vrf]) == 0 {
		delete(o.ceFIB, vrf)
	}
}

// emitCEPrefix tells the forwarding plane about vrf's CE route to p, if
// it changed since it last did: want holds the VRF's CE best paths.
func (o *originator) emitCEPrefix(vrf string, p netip.Prefix, want map[netip.Prefix]*ceRoute) {
	have := o.ceFIB[vrf]
	nh, had := have[p]
	r := want[p]
	switch {
	case r == nil && had:
		o.emit(Event{Kind: CERouteDel, VRF: vrf, Prefix: p})
		delete(have, p)
		if len(have) == 0 {
			delete(o.ceFIB, vrf)
		}
	case r != nil && (!had || nh != r.nextHop):
		o.emit(Event{Kind: CERouteAdd, VRF: vrf, Prefix: p, NextHop: r.nextHop})
		if have == nil {
			have = map[netip.Prefix]netip.Addr{}
			o.ceFIB[vrf] = have
		}
		have[p] = r.nextHop
	}
}
