package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/peregrine-net/peregrine/bgp"
	"github.com/peregrine-net/peregrine/bgp/bgpconfig"
	"github.com/peregrine-net/peregrine/bgp/fibfeed"
	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/fib/kernel"
	"github.com/peregrine-net/peregrine/fib/userspace"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
	"github.com/peregrine-net/peregrine/mpls"
)

// newBackend builds the configured dataplane backend, or nil for "none".
// "auto" picks the kernel backend where the kernel has MPLS forwarding and
// VRF devices, else userspace, and says why. The kernel backend carries
// IPsec-protected traffic through a userspace ESP gateway. IKE messages
// arriving on the dataplane's UDP 4500 go to hook, and natt, the part of
// the backend that owns that port (nil if none does), sends IKE's.
// Manually keyed outbound SAs reserve their sequence numbers in seqs.
func newBackend(cfg *config.Config, log *slog.Logger, hook *nattHook, seqs *seqstore.Store) (b fib.Backend, natt ikeSender, err error) {
	mode, err := mpls.ParseTTLMode(cfg.MPLS.TTLMode)
	if err != nil {
		return nil, nil, err
	}
	opts := userspace.Options{TTLMode: mode, MTU: cfg.Dataplane.MTU, IKE: hook.deliver, Sequences: seqs}
	switch cfg.Dataplane.Backend {
	case "none":
		log.Info("dataplane: none (control plane only)")
		return nil, nil, nil
	case "kernel":
		log.Info("dataplane: kernel", "esp", espPath(cfg))
		return newKernelBackend(cfg, log, opts, seqs)
	case "auto":
		ok, reason := kernel.Supported()
		if ok {
			log.Info("dataplane: kernel", "picked-by", "auto", "reason", reason, "esp", espPath(cfg))
			return newKernelBackend(cfg, log, opts, seqs)
		}
		log.Info("dataplane: userspace", "picked-by", "auto", "reason", reason)
	default:
		log.Info("dataplane: userspace")
	}
	ub, err := userspace.New(log.With("component", "userspace"), opts)
	if err != nil {
		return nil, nil, fmt.Errorf("dataplane: %w", err)
	}
	return ub, ub, nil
}

// newKernelBackend is the kernel backend, with an ESP gateway if the
// configuration protects traffic between PEs; the gateway owns UDP 4500.
func newKernelBackend(cfg *config.Config, log *slog.Logger, opts userspace.Options, seqs *seqstore.Store) (fib.Backend, ikeSender, error) {
	ko := kernel.Options{KernelESP: usesIPsec(cfg) && cfg.Dataplane.KernelESP != "off", Sequences: seqs}
	var g *userspace.Gateway
	if usesIPsec(cfg) {
		var err error
		g, err = userspace.NewGateway(log.With("component", "esp-gateway"), opts)
		if err != nil {
			return nil, nil, fmt.Errorf("dataplane: %w", err)
		}
		ko.ESP = g
	}
	b, err := kernel.New(log.With("component", "kernel"), ko)
	if err != nil {
		if g != nil {
			g.Close()
		}
		return nil, nil, err
	}
	if g == nil {
		return b, nil, nil // not a nil *Gateway in the interface
	}
	return b, g, nil
}

// espPath says where the kernel backend's protected traffic goes.
func espPath(cfg *config.Config) string {
	if usesIPsec(cfg) && cfg.Dataplane.KernelESP != "off" {
		return "kernel XFRM (pgmpls-* mplsip tunnels) where it can, else userspace gateway (pgesp-* TUNs)"
	}
	if usesIPsec(cfg) {
		return "userspace gateway (pgesp-* TUNs)"
	}
	return "none: no IPsec configured"
}

// usesIPsec reports whether the configuration protects traffic to any
// remote PE.
func usesIPsec(cfg *config.Config) bool {
	return len(cfg.IPsec.Tunnels) > 0 || len(cfg.IPsec.IKEPeers) > 0 || cfg.HasAttachments()
}

// fibConfig is the part of the configuration the FIB needs.
func fibConfig(cfg *config.Config) fib.Config {
	fc := fib.Config{LocalAddress: cfg.IPsec.LocalAddress, MPLSInterfaces: cfg.Dataplane.MPLSInterfaces}
	for _, p := range cfg.IPsec.UnprotectedPeers {
		fc.UnprotectedPeers = append(fc.UnprotectedPeers, p.Prefix)
	}
	for _, tl := range cfg.Dataplane.TransportLabels {
		if fc.TransportLabels == nil {
			fc.TransportLabels = map[netip.Addr]mpls.Label{}
		}
		fc.TransportLabels[tl.Remote] = mpls.Label(tl.Label) // validated: 16..2^20-1
	}
	for _, l := range cfg.Dataplane.LocalTransportLabels {
		fc.LocalTransportLabels = append(fc.LocalTransportLabels, mpls.Label(l)) // validated: 16..2^20-1
	}
	for _, v := range cfg.VRFs {
		vc := fib.VRFConfig{Name: v.Name, Interfaces: v.Interfaces}
		for _, r := range v.StaticRoutes {
			vc.StaticRoutes = append(vc.StaticRoutes, fib.StaticRoute{Prefix: r.Prefix, NextHop: r.NextHop})
		}
		fc.VRFs = append(fc.VRFs, vc)
	}
	for _, t := range cfg.IPsec.Tunnels {
		ft := fib.Tunnel{Remote: t.Remote, UDP: cfg.IPsec.Encapsulation == "udp"}
		ft.Out = saParams(t.Out, cfg.IPsec.ReplayWindow)
		ft.Out.PersistSequence, ft.Out.ResetSequence = true, t.ResetSequence
		ft.In = saParams(t.In, cfg.IPsec.ReplayWindow)
		if t.IsAH() {
			// AH is IP protocol 51 whatever ipsec.encapsulation says.
			ft.UDP = false
			ft.Out.Cipher, ft.Out.AH = 0, t.Out.Integrity
			ft.In.Cipher, ft.In.AH = 0, t.In.Integrity
			ft.In.NoAntiReplay = false // AH's window is always on
		}
		for _, r := range t.Resources { // ESP only (validated)
			rp := fib.SAPair{Out: saParams(r.Out, cfg.IPsec.ReplayWindow), In: saParams(r.In, cfg.IPsec.ReplayWindow)}
			rp.Out.PersistSequence, rp.Out.ResetSequence = true, t.ResetSequence
			ft.Resources = append(ft.Resources, rp)
		}
		fc.Tunnels = append(fc.Tunnels, ft)
	}
	return fc
}

func saParams(sa config.SA, window int) *fib.SAParams {
	return &fib.SAParams{SPI: sa.SPI, Cipher: sa.Cipher, Key: sa.Key.Bytes(), ReplayWindow: window, NoAntiReplay: window == 0}
}

// bgpConnected is conns as the BGP speaker takes them: it exports the
// prefixes and binds CE sessions to the interfaces.
func bgpConnected(conns []fib.Connected) []bgp.Connected {
	out := make([]bgp.Connected, 0, len(conns))
	for _, c := range conns {
		out = append(out, bgp.Connected{Interface: c.Interface, Prefix: c.Prefix})
	}
	return out
}

// bgpConfig is the speaker's configuration for cfg over backend b: with
// the kernel backend, CE sessions are bound to their VRF's device, whose
// name only the FIB knows.
func bgpConfig(cfg *config.Config, b fib.Backend) *bgp.Config {
	bc := bgpconfig.Translate(cfg)
	if _, ok := b.(*kernel.Backend); ok {
		for i := range bc.VRFs {
			bc.VRFs[i].Device = fib.VRFDevice(bc.VRFs[i].Name)
		}
	}
	return bc
}

// connectedPrefixes drops the interface names, for logs and the
// configuration's on-link check.
func connectedPrefixes(conns []fib.Connected) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.Prefix)
	}
	return out
}

// startFIB starts the reconciler over the configured backend; all are nil
// with backend "none". The keying service gives the reconciler its
// configuration. natt is as newBackend's.
func startFIB(ctx context.Context, cfg *config.Config, log *slog.Logger, hook *nattHook, seqs *seqstore.Store) (*fib.Reconciler, fib.Backend, ikeSender, error) {
	b, natt, err := newBackend(cfg, log, hook, seqs)
	if err != nil || b == nil {
		return nil, nil, nil, err
	}
	logProtection(cfg, log)
	r := fib.NewReconciler(b, fib.Options{Logger: log.With("component", "fib")})
	go func() { _ = r.Run(ctx) }()
	return r, b, natt, nil
}

// fibSink is r for the bgp feed, or nil (not a nil *fib.Reconciler in
// the interface) with backend "none".
func fibSink(r *fib.Reconciler) fibfeed.Sink {
	if r == nil {
		return nil
	}
	return r
}
