package userspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"github.com/peregrine-net/peregrine/mpls"
)

// Gateway is the userspace ESP path for a kernel that switches labels
// itself: the kernel backend (fib/kernel) on a PE whose configuration
// protects the traffic between PEs. The kernel keeps the VRFs, pushes the
// VPN labels and pops them; the Gateway only seals and opens:
//
//	CE --> vrf-VRF --> route "encap mpls LABEL dev pgesp-N" (the remote PE's TUN)
//	   --> Gateway: read the MPLS packet, seal ESP (next header 137), send
//	   --> remote PE
//
//	remote PE --> UDP 4500 or raw ESP socket --> Gateway: open ESP
//	   --> TUN pgesp-in (MPLS input on): the kernel's LFIB pops the label
//	       into vrf-VRF --> CE
//
// IPsec attachments take a TUN per VRF of their own, carrying IP
// (gateway_attach.go).
//
// The PE TUNs carry MPLS (mplsTUN); one per remote PE tells the Gateway
// which tunnel a packet takes. A remote PE with no tunnel or no outbound
// SA still has its TUN, and what it reads there is dropped and counted:
// protected traffic is never sent in clear. The sockets, SAs, IKE hook and
// counters are the userspace Backend's; the Gateway touches no rules or
// routes, which are the kernel backend's (it only enslaves its attachment
// TUNs to their VRF devices, before it writes into them).
type Gateway struct {
	b     *Backend
	in    *mplsTUN
	peers map[netip.Addr]*gwPeer // guarded by b.mu
	seq   int                    // names pgesp-0, pgesp-1, ...; guarded by b.mu
	// attVRFs are the VRFs of the dataplane's State (attachmentState);
	// their TUNs are b.tuns. Guarded by b.mu.
	attVRFs map[string]attachmentVRF
}

type gwPeer struct {
	dev *mplsTUN
	// more are dev's other queues (tunQueues in all), each with its own
	// reader: queue q seals with the SA of lane q (outboundLabeledLane).
	more []*mplsTUN
	v    *vrf // counters
	p    *peer
}

// close closes every queue of gp's TUN; the kernel then deletes it.
func (gp *gwPeer) close() error {
	errs := []error{gp.dev.Close()}
	for _, q := range gp.more {
		errs = append(errs, q.Close())
	}
	return errors.Join(errs...)
}

// GatewayInbound is the TUN the Gateway writes opened MPLS packets into
// (fib.ESPGatewayInbound, named there for the kernel backend).
const GatewayInbound = fib.ESPGatewayInbound

// gatewayDevicePrefix starts the name of each remote PE's TUN.
const gatewayDevicePrefix = "pgesp-"

// NewGateway returns a Gateway working in the calling goroutine's network
// namespace. opts.MTU is the largest IP packet it carries (the TUNs' MTU
// leaves room for two labels on top); the kernel answers larger ones with
// ICMP in their VRF. opts.IKE and Backend.SendIKE work as for a Backend.
func NewGateway(log *slog.Logger, opts Options) (*Gateway, error) {
	b, err := New(log, opts)
	if err != nil {
		return nil, err
	}
	v := &vrf{name: GatewayInbound}
	v.routes.Store(new(routeTable))
	b.dp.labeled = v
	return &Gateway{b: b, peers: map[netip.Addr]*gwPeer{}, attVRFs: map[string]attachmentVRF{}}, nil
}

// Apply brings the Gateway to s's tunnels and attachments, with a TUN for
// each PE of remotes (those VRF routes lead to), one for each VRF an
// attachment enters (gateway_attach.go; s's VRF devices must exist) and
// the sockets on s.LocalAddress. It returns the TUN name of each remote PE
// and of each such VRF that has one, so the caller routes into them; the
// attachment TUNs it holds are named even when it fails, since the
// caller moves any other interface out of its VRF devices.
func (g *Gateway) Apply(ctx context.Context, s *fib.State, remotes []netip.Addr) (map[netip.Addr]string, map[string]string, error) {
	b := g.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return nil, nil, errors.New("gateway: Apply after Close")
	}
	if err := fib.CheckDeviceNames(s.VRFNames(), fib.AttachmentTUN); err != nil {
		return nil, g.attachmentTUNs(), fmt.Errorf("gateway: %w", err)
	}
	local := s.LocalAddress
	var errs []error
	if g.in == nil {
		t, err := openMPLSTUN(b.sys.h, GatewayInbound, g.devMTU())
		if err != nil {
			errs = append(errs, err)
		} else {
			g.in = t
			b.dp.labeled.dev.Store(&device{Device: t})
		}
	}
	// The remote PEs with a TUN keep their peers (gwPeer.p), tunnel or
	// not; the dataplane forgets the others.
	want := map[netip.Addr]bool{}
	for _, r := range remotes {
		want[r.Unmap()] = true
	}
	b.dp.pinned = want
	gs := attachmentState(s, g.attVRFs)
	fresh, terrs := g.openAttachmentTUNs(gs)
	errs = append(errs, terrs...)
	if _, _, err := b.dp.update(gs, b.devicesOf(fresh)); err != nil {
		errs = append(errs, err)
	}
	g.startAttachmentReaders(fresh)
	errs = append(errs, g.closeAttachmentTUNs(gs), g.setICMPSources(s, gs))
	if err := ctx.Err(); err != nil {
		return nil, g.attachmentTUNs(), errors.Join(append(errs, err)...)
	}
	names := map[netip.Addr]string{}
	for _, r := range remotes {
		r = r.Unmap()
		gp := g.peers[r]
		if gp == nil {
			name := gatewayDevicePrefix + strconv.Itoa(g.seq)
			g.seq++
			queues, err := openMPLSTUNQueues(b.sys.h, name, g.devMTU(), tunQueues())
			if err != nil {
				errs = append(errs, fmt.Errorf("remote PE %s: %w", r, err))
				continue
			}
			gp = &gwPeer{dev: queues[0], more: queues[1:], v: &vrf{name: name}, p: b.dp.peer(r)}
			g.peers[r] = gp
			b.wg.Add(len(queues))
			for lane, q := range queues {
				go g.readPeer(gp, lane, q)
			}
			b.log.Info("ESP gateway device", "remote", r, "dev", name)
		}
		names[r] = gp.dev.name
	}
	for r, gp := range g.peers {
		if !want[r] {
			errs = append(errs, gp.close())
			delete(g.peers, r)
		}
	}
	errs = append(errs, b.setLocal(local))
	if err := errors.Join(errs...); err != nil {
		return names, g.attachmentTUNs(), fmt.Errorf("gateway: %w", err)
	}
	return names, g.attachmentTUNs(), nil
}

// devMTU is the TUNs' MTU: an IP packet of Options.MTU under two labels.
func (g *Gateway) devMTU() int { return g.b.mtu + 2*mpls.EntrySize }

// readPeer is a remote PE's outbound goroutine for queue lane of its
// TUN, dev: it reads MPLS packets from dev until it is closed, seals each
// with lane's SA and sends it.
func (g *Gateway) readPeer(gp *gwPeer, lane int, dev *mplsTUN) {
	b := g.b
	defer b.wg.Done()
	blk := takeBufs(1, outBufSize(maxDatagram-outHeadroom-outTailroom))
	defer blk.release()
	bufs := blk.bufs
	sizes := make([]int, 1)
	send := esptransport.NewSendBatch(1)
	for {
		if _, err := dev.Read(bufs, sizes, outHeadroom); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			b.log.Warn("reading TUN", "dev", dev.name, "err", err)
			continue
		}
		pkt, t, why := b.dp.outboundLabeledLane(gp.v, gp.p, lane, bufs[0], outHeadroom, sizes[0])
		if why != dropNone {
			continue
		}
		send.Reset(false)
		send.Add(pkt, &t.dst)
		var lost int
		if t.ah != nil {
			lost = b.sendAH(send)
		} else {
			lost = b.net.Load().Send(send)
		}
		if lost > 0 {
			gp.v.cnt.outDrops[dropTx].Add(uint64(lost))
		}
	}
}

// outboundLabeled seals one MPLS packet, buf[off:off+n] as mplsTUN.Read
// left it, for peer p, counting on v. It returns the ESP packet (in buf)
// and its tunnel, or why it dropped the packet. It allocates nothing.
func (d *dataplane) outboundLabeled(v *vrf, p *peer, buf []byte, off, n int) (pkt []byte, to *tunnelOut, why drop) {
	return d.outboundLabeledLane(v, p, 0, buf, off, n)
}

// outboundLabeledLane is outboundLabeled for a packet read from queue
// lane of the peer's TUN: a tunnel with several outbound SAs (RFC 9611
// resources) seals it with that lane's SA (tunnelOut.forSeal), as the
// VRF path does (outboundLane).
func (d *dataplane) outboundLabeledLane(v *vrf, p *peer, lane int, buf []byte, off, n int) (pkt []byte, to *tunnelOut, why drop) {
	if !isMPLS(buf, off) || n < mpls.EntrySize || off < esp.Headroom || off+n+outTailroom > len(buf) {
		return nil, nil, v.dropOut(dropMalformed)
	}
	t := p.out.Load()
	if t == nil {
		return nil, nil, v.dropOut(dropNoTunnel)
	}
	var err error
	switch {
	case t.ah != nil: // an AH tunnel (ah.go): the labels stay readable
		pkt, err = t.ah.SealTunnel(buf, off, n, ah.NextHeaderMPLS, t.src, t.remote)
	case t.sa == nil:
		return nil, nil, v.dropOut(dropNoSA)
	default:
		pkt, err = t.forSeal(lane).Seal(buf, off, n, esp.NextHeaderMPLS)
	}
	if err != nil {
		return nil, nil, v.dropOut(dropSealError)
	}
	v.cnt.outLanes.add(uint32(lane), n) // each queue's reader in its own shard
	return pkt, t, dropNone
}

// Stats returns a snapshot of the counters, the TUNs' under Devices.
func (g *Gateway) Stats() fib.Stats {
	b := g.b
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.dp.stats()
	s.Devices = map[string]fib.VRFCounters{GatewayInbound: b.dp.labeled.stats()}
	for _, gp := range g.peers {
		s.Devices[gp.dev.name] = gp.v.stats()
	}
	for name, t := range b.tuns {
		if v := b.dp.vrfs[name]; v != nil {
			s.Devices[t.name] = v.stats()
		}
	}
	return s
}

// SendIKE sends an IKE message from UDP port 4500 (Backend.SendIKE).
func (g *Gateway) SendIKE(to netip.AddrPort, msg []byte) error { return g.b.SendIKE(to, msg) }

// Close stops the Gateway and removes its TUNs (and with them the
// kernel's routes through them). It leaves rules and routes alone.
func (g *Gateway) Close() error {
	b := g.b
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return nil
	}
	b.done = true
	errs := []error{b.net.Swap(nil).Close()}
	for r, gp := range g.peers {
		errs = append(errs, gp.close())
		delete(g.peers, r)
	}
	if g.in != nil {
		errs = append(errs, g.in.Close())
	}
	errs = append(errs, closeTUNs(slices.Collect(maps.Values(b.tuns))))
	clear(b.tuns)
	b.mu.Unlock()
	b.wg.Wait()
	b.sys.h.Close()
	return errors.Join(errs...)
}
