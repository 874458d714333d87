package fib

import (
	"net/netip"
	"slices"
)

// localRoutes computes a VRF's routes toward its own CEs from its config
// and connected prefixes: a route out of each interface for each of its
// connected prefixes (the VRF's table is not the main table, so the
// kernel does not put them there by itself), then the static routes,
// resolved as StaticRoute documents. Connected beats static.
func localRoutes(vc VRFConfig, conns []Connected) map[netip.Prefix]Route {
	out := map[netip.Prefix]Route{}
	usable := usableConnected(vc, conns)
	for _, c := range usable {
		if _, dup := out[c.Prefix]; !dup {
			out[c.Prefix] = Route{Prefix: c.Prefix, Interface: c.Interface}
		}
	}
	for _, sr := range vc.StaticRoutes {
		p := sr.Prefix.Masked()
		if !p.IsValid() || !sr.NextHop.IsValid() {
			continue
		}
		if _, taken := out[p]; taken {
			continue
		}
		out[p] = Route{Prefix: p, Interface: resolveNextHop(usable, sr.NextHop), NextHop: sr.NextHop}
	}
	return out
}

// usableConnected keeps the connected prefixes that are on one of the
// VRF's interfaces (an interface moved to another VRF by a reload may
// still be reported for a moment), filling in the interface when the
// watcher did not give it and the VRF has only one.
func usableConnected(vc VRFConfig, conns []Connected) []Connected {
	var out []Connected
	for _, c := range conns {
		if c.Interface == "" && len(vc.Interfaces) == 1 {
			c.Interface = vc.Interfaces[0]
		}
		if !c.Prefix.IsValid() || !slices.Contains(vc.Interfaces, c.Interface) {
			continue
		}
		c.Prefix = c.Prefix.Masked()
		out = append(out, c)
	}
	return out
}

// resolveNextHop returns the interface of the longest connected prefix
// holding nh, or "" if none does.
func resolveNextHop(conns []Connected, nh netip.Addr) string {
	best, bits := "", -1
	for _, c := range conns {
		if c.Prefix.Contains(nh) && c.Prefix.Bits() > bits {
			best, bits = c.Interface, c.Prefix.Bits()
		}
	}
	return best
}

// ceRoutes adds VRF name's CE routes to routes, each via its CE on the
// interface whose connected prefix holds the CE's address, and returns
// those it could not resolve (nil if none); see CERoute.
func (d *desired) ceRoutes(routes map[netip.Prefix]Route, vc VRFConfig, name string) map[netip.Prefix]netip.Addr {
	ce := d.ce[name]
	if len(ce) == 0 {
		return nil
	}
	usable := usableConnected(vc, d.connected[name])
	var unresolved map[netip.Prefix]netip.Addr
	for p, nh := range ce {
		ifn := resolveNextHop(usable, nh)
		if ifn == "" {
			if unresolved == nil {
				unresolved = map[netip.Prefix]netip.Addr{}
			}
			unresolved[p] = nh
			continue
		}
		routes[p] = Route{Prefix: p, Interface: ifn, NextHop: nh}
	}
	return unresolved
}
