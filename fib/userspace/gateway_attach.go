package userspace

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/peregrine-net/peregrine/fib"
	"golang.zx2c4.com/wireguard/tun"
)

// IPsec attachments through the Gateway (the kernel backend's; see
// attach.go for the checks, which are the userspace Backend's, the same
// code):
//
//	CE --> vrf-VRF --> route "SITE-PREFIX dev pga-VRF" (fib.AttachmentTUN)
//	   --> Gateway: readTUN, outbound: the attachment routes alone
//	       (LPM -> attachment -> toAttachment: tunnel-mode ESP) --> site gateway
//
//	site gateway --> UDP 4500 --> Gateway: attachment SPI -> fromAttachment
//	   (inner source within the site selectors, destination within the
//	   local ones, else ts-violation) --> TUN pga-VRF, enslaved to
//	   vrf-VRF with MPLS input off --> the kernel routes it in the VRF
//
// A VRF has its TUN while the State has an attachment into it. The
// Gateway enslaves the TUN to the VRF's device before the dataplane may
// write to it, so an opened packet is never routed by the main table; a
// TUN that cannot be enslaved is closed, and the site's packets are
// dropped and counted (no device). The Gateway's VRF tables hold only the
// attachment routes: a packet the kernel sends into pga-VRF for any other
// destination is dropped (no route), never sealed for a PE.

// attachmentState is the State the Gateway's dataplane runs: s's tunnels
// and attachments, and for each VRF an attachment enters, that VRF with
// its attachment routes alone. cache keeps each such VRF while s's is the
// same (by pointer), so that an unchanged VRF's table is not rebuilt.
func attachmentState(s *fib.State, cache map[string]attachmentVRF) *fib.State {
	gs := &fib.State{Tunnels: s.Tunnels, LocalAddress: s.LocalAddress, TunnelsVersion: s.TunnelsVersion,
		Attachments: s.Attachments, VRFs: map[string]*fib.VRF{}}
	for _, a := range s.Attachments {
		fv := s.VRFs[a.VRF]
		if fv == nil || gs.VRFs[a.VRF] != nil {
			continue // updateAttachments names a VRF the State lacks
		}
		c, ok := cache[a.VRF]
		if !ok || c.from != fv {
			c = attachmentVRF{from: fv, vrf: &fib.VRF{Name: fv.Name, Table: fv.Table, Routes: map[netip.Prefix]fib.Route{}}}
			for p, r := range fv.Routes {
				if r.Attachment != "" {
					c.vrf.Routes[p] = r
				}
			}
			cache[a.VRF] = c
		}
		gs.VRFs[a.VRF] = c.vrf
	}
	for name := range cache {
		if gs.VRFs[name] == nil {
			delete(cache, name)
		}
	}
	return gs
}

// attachmentVRF is a VRF of the Gateway's State and the State's VRF it
// was filtered from.
type attachmentVRF struct {
	from, vrf *fib.VRF
}

// openAttachmentTUNs makes the TUN of each VRF of gs that has none yet
// and enslaves it to the VRF's device, returning the new ones by VRF for
// dataplane.update. Called with b.mu held.
func (g *Gateway) openAttachmentTUNs(gs *fib.State) (map[string]tun.Device, []error) {
	b := g.b
	var errs []error
	fresh := map[string]tun.Device{}
	for name := range gs.VRFs {
		if t := b.tuns[name]; t != nil {
			// A VRF device made again (its table changed) has
			// released the TUN into the main table's domain.
			if err := g.enslave(t, fib.VRFDevice(name)); err != nil {
				errs = append(errs, fmt.Errorf("vrf %s: %w", name, errors.Join(err, g.dropAttachmentTUN(name))))
			}
			continue
		}
		dev := fib.AttachmentTUN(name)
		t, err := createTUN(b.sys.h, dev, g.attachmentMTU(), b.queues)
		if err != nil {
			errs = append(errs, fmt.Errorf("vrf %s: %w", name, err))
			continue
		}
		if err := g.enslave(t, fib.VRFDevice(name)); err != nil {
			errs = append(errs, fmt.Errorf("vrf %s: %w", name, errors.Join(err, t.close())))
			continue
		}
		b.tuns[name], fresh[name] = t, t.queues[0]
		b.log.Info("attachment gateway device", "vrf", name, "dev", dev)
	}
	return fresh, errs
}

// attachmentMTU is the attachment TUNs' MTU: Options.MTU, so that the
// kernel itself answers a larger packet with ICMP, from and in the VRF
// (as for the PE TUNs, devMTU), rather than the fast path, which has no
// address in the VRF here; without Options.MTU, the jumbo tunDeviceMTU.
func (g *Gateway) attachmentMTU() int {
	if g.b.mtu > 0 {
		return g.b.mtu
	}
	return tunDeviceMTU
}

// dropAttachmentTUN stops writing into VRF name's TUN and closes it
// (the next Apply makes it again): a TUN that is not in its VRF must
// carry nothing.
func (g *Gateway) dropAttachmentTUN(name string) error {
	b := g.b
	if v := b.dp.vrfs[name]; v != nil {
		v.dev.Store(nil)
	}
	t := b.tuns[name]
	delete(b.tuns, name)
	return t.close()
}

// enslave is `ip link set TUN master VRF-DEV`, unless it is so already:
// until it is done the TUN is in the main table's domain, so nothing is
// written to it before.
func (g *Gateway) enslave(t *tunDev, vrfDev string) error {
	h := g.b.sys.h
	master, err := h.LinkByName(vrfDev)
	if err != nil {
		return fmt.Errorf("no VRF device %s for %s: %w", vrfDev, t.name, err)
	}
	link, err := h.LinkByName(t.name)
	if err == nil && link.Attrs().MasterIndex == master.Attrs().Index {
		return nil
	}
	if err == nil {
		err = h.LinkSetMasterByIndex(link, master.Attrs().Index)
	}
	if err != nil {
		return fmt.Errorf("ip link set %s master %s: %w", t.name, vrfDev, err)
	}
	return nil
}

// startAttachmentReaders starts the outbound goroutines of the TUNs
// update took (fresh), one per queue, as the Backend's.
func (g *Gateway) startAttachmentReaders(fresh map[string]tun.Device) {
	b := g.b
	for name := range fresh {
		b.startReaders(b.dp.vrfs[name], b.tuns[name])
	}
}

// closeAttachmentTUNs closes the TUNs of the VRFs gs no longer has. The
// dataplane forgot their routes first (update): what the kernel still
// sends there meanwhile is dropped, and closing the TUN takes its kernel
// routes with it.
func (g *Gateway) closeAttachmentTUNs(gs *fib.State) error {
	b := g.b
	var gone []*tunDev
	for name, t := range b.tuns {
		if gs.VRFs[name] == nil {
			gone = append(gone, t)
			delete(b.tuns, name)
		}
	}
	return closeTUNs(gone)
}

// setICMPSources gives each VRF of gs the addresses of its CE interfaces
// in s, the source of the ICMP errors the fast path writes into its TUN
// (toobig.go): for a suite with more overhead than an AEAD's, packets the
// TUN's MTU lets through are still too big for the SA, and without a
// source they would vanish unanswered.
func (g *Gateway) setICMPSources(s, gs *fib.State) error {
	if len(gs.VRFs) == 0 {
		return nil
	}
	host, err := g.b.sys.readHost()
	if err != nil {
		return err
	}
	for name := range gs.VRFs {
		if v := g.b.dp.vrfs[name]; v != nil {
			v.addrs.Store(host.localAddrs(s.VRFs[name].Interfaces))
		}
	}
	return nil
}

// attachmentTUNs names each VRF's attachment TUN.
func (g *Gateway) attachmentTUNs() map[string]string {
	m := make(map[string]string, len(g.b.tuns))
	for name, t := range g.b.tuns {
		m[name] = t.name
	}
	return m
}
