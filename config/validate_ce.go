package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

func (v *VRF) applyCEDefaults() {
	for i := range v.Neighbors {
		n := &v.Neighbors[i]
		if n.Port == 0 {
			n.Port = 179
		}
		if len(n.Families) == 0 && n.Address.IsValid() {
			n.Families = []string{"ipv4"}
			if !n.Address.Unmap().Is4() {
				n.Families = []string{"ipv6"}
			}
		}
		if n.HoldTime == 0 {
			n.HoldTime = DefaultHoldTime
		}
		if n.Keepalive == 0 {
			n.Keepalive = min(DefaultKeepalive, n.HoldTime/3)
		}
	}
}

// validateCENeighbors checks the CE sessions of VRF v (at path p). A CE
// address must be unique within its VRF only: red and blue may both have
// a CE at 10.0.0.2.
func (c *Config) validateCENeighbors(bad badFunc, p string, v VRF) {
	seen := map[netip.Addr]int{}
	for i, n := range v.Neighbors {
		np := fmt.Sprintf("%s.neighbors[%d]", p, i)
		switch {
		case !n.Address.IsValid():
			bad(np+".address", "", "required: the CE's IP address")
		case n.Address.IsUnspecified() || n.Address.IsMulticast() || n.Address.IsLoopback():
			bad(np+".address", n.Address.String(), "must be a unicast address on one of the VRF's interfaces")
		case n.Address.Zone() != "":
			bad(np+".address", n.Address.String(), "must not carry a zone: use an address from a subnet of the VRF's interfaces")
		default:
			if j, dup := seen[n.Address.Unmap()]; dup {
				bad(np+".address", n.Address.String(), "already used by %s.neighbors[%d]", p, j)
			}
			seen[n.Address.Unmap()] = i
		}
		switch {
		case n.ASN == 0:
			bad(np+".asn", "", "required: the CE's AS number, 1..4294967295")
		case n.ASN == c.Router.ASN:
			bad(np+".asn", fmt.Sprint(n.ASN), "is router.asn: a CE session is eBGP, so the CE needs an AS of its own (as-override lets sites share one)")
		}
		fams := map[string]bool{}
		for j, f := range n.Families {
			fp := fmt.Sprintf("%s.families[%d]", np, j)
			if !slices.Contains(ceFamilies, f) {
				bad(fp, strconv.Quote(f), "want ipv4 or ipv6: a CE session carries the customer's unicast routes")
			} else if fams[f] {
				bad(fp, strconv.Quote(f), "listed twice")
			}
			fams[f] = true
		}
		if n.LocalAddress.IsValid() && n.Address.IsValid() && n.LocalAddress.Unmap().Is4() != n.Address.Unmap().Is4() {
			bad(np+".local-address", n.LocalAddress.String(), "is not of the same address family as %s", n.Address)
		}
		if n.Passive {
			c.validateCEPassive(bad, np, v.Name, n)
		}
		validateTimers(bad, np, n.HoldTime, n.Keepalive)
		if n.AllowASIn > maxAllowASIn {
			bad(np+".allowas-in", fmt.Sprint(n.AllowASIn), "must be 0..%d", maxAllowASIn)
		}
		switch {
		case n.MaxPrefixesRestart == 0:
		case n.MaxPrefixes == 0:
			bad(np+".max-prefixes-restart", n.MaxPrefixesRestart.String(), "has no effect without max-prefixes")
		case n.MaxPrefixesRestart < 1e9 || n.MaxPrefixesRestart%1e9 != 0:
			bad(np+".max-prefixes-restart", n.MaxPrefixesRestart.String(), "must be whole seconds, at least 1s")
		}
		validatePrefixRules(bad, np+".import-prefixes", n.ImportPrefixes, n.Families)
		validatePrefixRules(bad, np+".export-prefixes", n.ExportPrefixes, n.Families)
	}
}

// CheckCEOnLink reports, for the VRF named vrf, each CE neighbor whose
// address is in none of connected, the subnets of the VRF's interfaces:
// such a session can never come up, or would run over the wrong link.
// The configuration names interfaces, not their addresses, so this is
// checked when the addresses are known (the daemon calls it each time
// they change) rather than at load time.
func (c *Config) CheckCEOnLink(vrf string, connected []netip.Prefix) Errors {
	var errs Errors
	for i, v := range c.VRFs {
		if v.Name != vrf {
			continue
		}
		for j, n := range v.Neighbors {
			a := n.Address.Unmap()
			if !a.IsValid() || slices.ContainsFunc(connected, func(p netip.Prefix) bool { return p.Contains(a) }) {
				continue
			}
			subnets := make([]string, len(connected))
			for k, p := range connected {
				subnets[k] = p.Masked().String()
			}
			have := "they have no addresses yet"
			if len(subnets) > 0 {
				have = "they have " + strings.Join(subnets, ", ")
			}
			errs = append(errs, &FieldError{
				Path:   fmt.Sprintf("vrfs[%d].neighbors[%d].address", i, j),
				Value:  n.Address.String(),
				Reason: fmt.Sprintf("is in no subnet of vrf %s's interfaces (%s)", v.Name, have),
			})
		}
	}
	return errs
}

// validateCEPassive checks what a passive CE session (the CE connects)
// needs so that this PE accepts it only in its own VRF (bgp/cepassive.go,
// where the same rules guard the speaker): the VRF listens on the PE's
// address on the CE's link, local-address, bound to the CE's interface;
// Linux opens such a listener only if the core's is not on the wildcard
// address of the same port, and the core must not listen on that
// address itself.
func (c *Config) validateCEPassive(bad badFunc, np, vrf string, n CENeighbor) {
	l := c.BGP.ListenAddress
	switch {
	case !l.IsValid():
		bad(np+".passive", "true", "needs bgp.listen-address: the core listening on every address would take the CE's connection, and Linux refuses vrf %s's listener beside it", vrf)
	case l.IsUnspecified():
		bad(np+".passive", "true", "needs bgp.listen-address to be a specific address, not %s: the core listening on every address would take the CE's connection, and Linux refuses vrf %s's listener beside it", l, vrf)
	case c.BGP.ListenPort == 0:
		bad(np+".passive", "true", "needs bgp.listen-port, the port the CE connects to")
	case !n.LocalAddress.IsValid():
		bad(np+".local-address", "", "required with passive: true: this PE's address on the CE's link, where vrf %s listens", vrf)
	case n.LocalAddress.Unmap() == l.Unmap():
		bad(np+".local-address", n.LocalAddress.String(), "is bgp.listen-address, where the core listens: a passive CE needs the PE's address on its own link")
	}
}
