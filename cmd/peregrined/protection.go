package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
)

// Protection per remote PE, as show output, metrics and the start-up log
// say it (fib.State.Protection): "protected" (ESP tunnel), "integrity-only"
// (AH tunnel), "unprotected" (plain MPLS, allowed by
// ipsec.unprotected-peers) or "none" (dropped).

// logProtection says at start which remote PEs may get plain MPLS.
func logProtection(cfg *config.Config, log *slog.Logger) {
	for i, t := range cfg.IPsec.Tunnels {
		if t.IsAH() {
			log.Warn("ipsec: AH tunnel: integrity only; the MPLS labels and the customer packets cross the core in the clear, readable by anyone on the path",
				"tunnel", fmt.Sprintf("ipsec.tunnels[%d]", i), "remote", t.Remote, "out-integrity", t.Out.Integrity.String(), "in-integrity", t.In.Integrity.String(),
				"transport", "IP protocol 51 whatever ipsec.encapsulation says: AH covers the outer addresses and cannot cross NAT")
		}
	}
	for i, p := range cfg.IPsec.IKEPeers {
		if p.IsAH() {
			log.Warn("ipsec: AH tunnel: integrity only; the MPLS labels and the customer packets cross the core in the clear, readable by anyone on the path",
				"ike-peer", fmt.Sprintf("ipsec.ike-peers[%d]", i), "name", p.Name, "remote", p.RemoteAddress,
				"transport", "IP protocol 51 whatever ipsec.encapsulation says: AH covers the outer addresses and cannot cross NAT")
		}
	}
	if len(cfg.IPsec.UnprotectedPeers) == 0 {
		return
	}
	var peers []string
	for _, p := range cfg.IPsec.UnprotectedPeers {
		peers = append(peers, p.String())
	}
	log.Warn("ipsec: unprotected peers: VRF traffic to these remote PEs leaves as plain MPLS, unencrypted",
		"unprotected-peers", peers, "mpls-interfaces", cfg.Dataplane.MPLSInterfaces)
}

// protection is how traffic to remote PE pe leaves by s on this
// dataplane.
func (dp *dataplane) protection(s *fib.State, pe netip.Addr) string {
	p := s.Protection(pe)
	if p == "none" && dp.trustedCore && !s.NamesPlainPeers() && len(s.Tunnels) == 0 {
		// The kernel backend with no IPsec configured at all: a
		// trusted MPLS core, every PE reached in clear (fib/kernel).
		return "unprotected"
	}
	return p
}

// remotePE is a remote PE that VRF routes lead to, and its protection.
type remotePE struct {
	addr       netip.Addr
	protection string
}

// remotePEs lists the remote PEs of vrf's routes (every VRF's if vrf is
// empty), sorted by address.
func (dp *dataplane) remotePEs(vrf string) []remotePE {
	if dp == nil || dp.fib == nil {
		return nil
	}
	s := dp.fib.State()
	seen := map[netip.Addr]bool{}
	var out []remotePE
	vrfs := s.VRFs
	if vrf != "" {
		// One VRF's: looked up, not found among all of them (show
		// vrf asks for each VRF in turn).
		vrfs = map[string]*fib.VRF{vrf: s.VRFs[vrf]}
	}
	for _, v := range vrfs {
		if v == nil {
			continue
		}
		for _, r := range v.Routes {
			if pe := r.Remote.Unmap(); r.IsRemote() && !seen[pe] {
				seen[pe] = true
				out = append(out, remotePE{pe, dp.protection(s, pe)})
			}
		}
	}
	slices.SortFunc(out, func(a, b remotePE) int { return a.addr.Compare(b.addr) })
	return out
}
