package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/peregrine-net/peregrine/config"
	"github.com/peregrine-net/peregrine/ipsec/ike"
	"github.com/peregrine-net/peregrine/ipsec/keying"
)

// nattHook connects the userspace dataplane, which owns UDP 4500, to the
// IKE runner made after it: IKE messages the dataplane finds behind the
// non-ESP marker go to whichever runner is set.
type nattHook struct{ r atomic.Pointer[ike.Runner] }

func (h *nattHook) deliver(from netip.AddrPort, msg []byte) {
	if r := h.r.Load(); r != nil {
		r.HandleNATT(from, msg)
	}
}

// ikeSender is a dataplane that owns UDP port 4500 (the userspace backend
// or the kernel backend's ESP gateway), so IKE sends from it.
type ikeSender interface {
	SendIKE(to netip.AddrPort, msg []byte) error
}

// newIKERunner builds the IKE runner when the configuration has IKE
// peers; it returns nil otherwise. Where natt owns UDP 4500 (the
// userspace backend, the kernel backend's ESP gateway) the runner shares
// it with ESP through hook; otherwise (natt nil) it binds 4500 itself.
// The caller sets the runner's callbacks and runs it.
func newIKERunner(cfg *config.Config, log *slog.Logger, natt ikeSender, hook *nattHook) (*ike.Runner, error) {
	if len(cfg.IPsec.IKEPeers) == 0 && !cfg.HasAttachments() {
		return nil, nil
	}
	e, err := ike.NewEngine(keying.EngineConfig(cfg, log))
	if err != nil {
		return nil, err
	}
	local := cfg.IPsec.LocalAddress
	var runner *ike.Runner
	if natt != nil {
		c500, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 500)))
		if err != nil {
			return nil, fmt.Errorf("ike: binding UDP 500 on %s: %w", local, err)
		}
		runner, err = ike.NewRunnerSharedNATT(e, c500, natt.SendIKE)
		if err != nil {
			c500.Close()
			return nil, err
		}
	} else if runner, err = bindRunner(e, local); err != nil {
		return nil, err
	}
	hook.r.Store(runner)
	log.Info("ike started", "local", local, "peers", len(cfg.IPsec.IKEPeers), "attachments", len(keying.Attachments(cfg)), "nat-t", map[bool]string{true: "shared with the dataplane", false: "own socket"}[natt != nil])
	return runner, nil
}

// bindRunner binds UDP 500 and 4500 on local for a runner without a
// dataplane (backend "none").
func bindRunner(e *ike.Engine, local netip.Addr) (*ike.Runner, error) {
	c500, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 500)))
	if err != nil {
		return nil, fmt.Errorf("ike: binding UDP 500 on %s: %w", local, err)
	}
	c4500, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 4500)))
	if err != nil {
		c500.Close()
		return nil, fmt.Errorf("ike: binding UDP 4500 on %s: %w", local, err)
	}
	return ike.NewRunnerConns(e, c500, c4500)
}
