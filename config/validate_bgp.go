package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Families a neighbor may negotiate, by their config names.
var knownFamilies = []string{"ipv4", "ipv6", "vpnv4", "vpnv6"}

// Session timer defaults, applied to neighbors that leave them out. The
// connect-retry is shorter than RFC 4271's suggested 120 s: a PE that has
// lost its route reflector should not wait two minutes to try again.
const (
	DefaultHoldTime     = 90 * time.Second
	DefaultKeepalive    = 30 * time.Second
	DefaultConnectRetry = 5 * time.Second
)

func (c *Config) applyNeighborDefaults() {
	for i := range c.BGP.Neighbors {
		n := &c.BGP.Neighbors[i]
		if n.Port == 0 {
			n.Port = 179
		}
		if len(n.Families) == 0 {
			n.Families = []string{"vpnv4", "vpnv6"}
		}
		if n.HoldTime == 0 {
			n.HoldTime = DefaultHoldTime
		}
		if n.Keepalive == 0 {
			n.Keepalive = min(DefaultKeepalive, n.HoldTime/3)
		}
		if n.ConnectRetry == 0 {
			n.ConnectRetry = DefaultConnectRetry
		}
		n.applyGracefulRestartDefaults()
	}
}

func (c *Config) validateBGP(bad badFunc) {
	b := c.BGP
	if b.ListenAddress.IsValid() && b.ListenAddress.Zone() != "" {
		bad("bgp.listen-address", b.ListenAddress.String(), "must not carry a zone")
	}
	c.validateBGPAPI(bad)
	c.validateGracefulRestart(bad)
	seen := map[string]int{}
	for i, n := range b.Neighbors {
		p := fmt.Sprintf("bgp.neighbors[%d]", i)
		switch {
		case !n.Address.IsValid():
			bad(p+".address", "", "required: the neighbor's IP address")
		case n.Address.IsUnspecified() || n.Address.IsMulticast():
			bad(p+".address", n.Address.String(), "must be a unicast address")
		default:
			if j, dup := seen[n.Address.String()]; dup {
				bad(p+".address", n.Address.String(), "already used by bgp.neighbors[%d]", j)
			}
			seen[n.Address.String()] = i
		}
		if n.ASN == 0 {
			bad(p+".asn", "", "required: the neighbor's AS number, 1..4294967295")
		}
		fams := map[string]bool{}
		for j, f := range n.Families {
			fp := fmt.Sprintf("%s.families[%d]", p, j)
			if !slices.Contains(knownFamilies, f) {
				bad(fp, strconv.Quote(f), "want one of ipv4, ipv6, vpnv4, vpnv6")
			} else if fams[f] {
				bad(fp, strconv.Quote(f), "listed twice")
			}
			fams[f] = true
		}
		if l := b.ListenAddress; l.IsValid() && n.Address.IsValid() && l.Unmap().Is4() != n.Address.Unmap().Is4() {
			bad("bgp.listen-address", l.String(), "listens on %s only, so %s.address %s cannot connect to it; leave bgp.listen-address unset to listen on IPv4 and IPv6",
				familyName(l), p, n.Address)
		}
		if n.LocalAddress.IsValid() && n.Address.IsValid() && n.LocalAddress.Is4() != n.Address.Is4() {
			bad(p+".local-address", n.LocalAddress.String(), "is not of the same address family as %s", n.Address)
		}
		if n.RouteReflectorClient && n.ASN != 0 && n.ASN != c.Router.ASN {
			bad(p+".route-reflector-client", "true", "only an iBGP neighbor (asn %d) can be a route-reflector client", c.Router.ASN)
		}
		validateTimers(bad, p, n.HoldTime, n.Keepalive)
		validateWholeSeconds(bad, p+".connect-retry", n.ConnectRetry)
		if n.PasswordFile != "" && n.PasswordEnv != "" {
			bad(p+".password-env", strconv.Quote(n.PasswordEnv), "set password-file or password-env, not both")
		}
	}
}

// validateTimers checks a session's hold-time and keepalive, under path p.
func validateTimers(bad badFunc, p string, hold, keepalive time.Duration) {
	if validateWholeSeconds(bad, p+".hold-time", hold) && hold > 0 && hold < 3*time.Second {
		bad(p+".hold-time", hold.String(), "must be 0 (no keepalives) or at least 3s (RFC 4271 section 4.2)")
	}
	if validateWholeSeconds(bad, p+".keepalive", keepalive) && hold > 0 && keepalive >= hold {
		bad(p+".keepalive", keepalive.String(), "must be shorter than hold-time (%s)", hold)
	}
}

// validateWholeSeconds reports whether d fits a BGP timer: whole seconds,
// at most 65535 (a 16-bit field on the wire).
func validateWholeSeconds(bad badFunc, path string, d time.Duration) bool {
	if d%time.Second != 0 || d > 65535*time.Second {
		bad(path, d.String(), "must be whole seconds, at most 65535s")
		return false
	}
	return true
}

// validateBGPAPI keeps GoBGP's unauthenticated gRPC API local unless the
// operator says otherwise in so many words.
func (c *Config) validateBGPAPI(bad badFunc) {
	b := c.BGP
	switch {
	case !b.API.IsValid():
		if b.APIWrite {
			bad("bgp.api-write", "true", "has no effect without bgp.api")
		}
		if b.APIInsecureRemote {
			bad("bgp.api-insecure-remote", "true", "has no effect without bgp.api")
		}
	case b.API.Port() == 0:
		bad("bgp.api", b.API.String(), "needs a port, such as 127.0.0.1:50051")
	case !b.API.Addr().IsLoopback() && !b.APIInsecureRemote:
		bad("bgp.api", b.API.String(), "is not a loopback address: the API has no authentication; "+
			"use 127.0.0.1 or ::1, or set bgp.api-insecure-remote: true to expose it")
	}
}

// familyName is "IPv4" or "IPv6", as an operator says it.
func familyName(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "IPv4"
	}
	return "IPv6"
}
