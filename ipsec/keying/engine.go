package keying

import (
	"log/slog"
	"net/netip"
	"runtime"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// EngineConfig translates the configuration's IKE peers for the engine.
func EngineConfig(cfg *config.Config, log *slog.Logger) ike.Config {
	// The userspace dataplane receives ESP-in-UDP on one socket per TUN
	// queue, one per CPU (fib/userspace's tunQueues): per-resource
	// children's inbound SPIs are spread over them.
	ec := ike.Config{Logger: log, ReceiveQueues: runtime.GOMAXPROCS(0)}
	encap := cfg.IPsec.Encapsulation == "udp"
	for _, p := range cfg.IPsec.IKEPeers {
		pc := peerConfig(p.Name, p, encap)
		pc.Mode = ike.Transport // between the PE addresses: see ipsec/ike's doc
		if p.IsAH() {
			// AH is IP protocol 51, never in UDP (ike.PeerConfig.AH).
			pc.AH, pc.ForceUDPEncap = p.AHProposals, false
		}
		pc.Resources = p.Resources
		// Each resource's child and its successor while rekeying, and
		// one more for a rekey collision: room beyond the default 8.
		ec.MaxChildSAs = max(ec.MaxChildSAs, 2*p.Resources+1)
		ec.Peers = append(ec.Peers, pc)
	}
	if ec.MaxChildSAs <= 8 {
		ec.MaxChildSAs = 0 // the engine's default
	}
	for _, v := range cfg.VRFs {
		for _, a := range v.IPsecAttachments {
			if a.Kind == config.AttachmentPool {
				ec.Peers = append(ec.Peers, poolPeer(a, encap))
				continue
			}
			ec.Peers = append(ec.Peers, attachmentPeer(a, encap))
		}
	}
	return ec
}

// peerConfig is the engine's form of a configured IKE peer named name.
func peerConfig(name string, p config.IKEPeer, encap bool) ike.PeerConfig {
	lid, _ := config.ParseIKEIdentity(p.LocalID) // validated at load
	rid, _ := config.ParseIKEIdentity(p.RemoteID)
	return ike.PeerConfig{
		Name: name, LocalAddr: p.LocalAddress, RemoteAddr: p.RemoteAddress,
		LocalID: lid, RemoteID: rid, PSK: ike.NewPSK([]byte(p.PSK.Reveal())), Cert: p.Cert,
		IKE: p.IKEProposals, ESP: p.ESPProposals,
		IKELifetime:   ike.Lifetime{Soft: p.IKELifetime.Soft, Hard: p.IKELifetime.Hard},
		ChildLifetime: ike.Lifetime{Soft: p.ChildLifetime.Soft, Hard: p.ChildLifetime.Hard, SoftBytes: p.ChildLifetime.SoftBytes, HardBytes: p.ChildLifetime.HardBytes},
		DPDInterval:   p.DPDInterval,
		ForceUDPEncap: encap,
		Initiate:      p.InitiateOrDefault(),
	}
}

// Remotes maps each configured IKE peer's name to its remote PE address,
// for Options.Remotes.
func Remotes(cfg *config.Config) map[string]netip.Addr {
	m := make(map[string]netip.Addr, len(cfg.IPsec.IKEPeers))
	for _, p := range cfg.IPsec.IKEPeers {
		m[p.Name] = p.RemoteAddress
	}
	return m
}

// Watch has r report its child SAs and events to s. Call it before r.Run.
func (s *Service) Watch(r *ike.Runner) {
	r.OnChildSA(s.ChildUp)
	r.AwaitInstalled(s.WaitInstalled, s.opts.InstallTimeout)
	r.OnChildSADeleted(s.ChildDown)
	r.OnEvent(s.Event)
}
