package userspace

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Core interfaces and next hops for plain MPLS (plain.go). Apply opens a
// packet socket on each of State.MPLSInterfaces (and closes those it no
// longer names), with a reader goroutine each; the resolver goroutine
// finds, for each unprotected peer, the main table's route to it (which
// must leave by a core interface), and its next hop's MAC address in the
// kernel's neighbour table, asking the kernel to resolve it while it is
// missing. Both hold Backend.mu: the netlink handle and the maps are
// shared with Apply.

// resolveEvery is how often the resolver looks again at next hops that
// are resolved (a MAC or route may change); resolvePending while one is
// not, so that traffic starts soon after ARP or ND answers.
const (
	resolveEvery   = time.Second
	resolvePending = 50 * time.Millisecond
)

// syncCores opens sockets on the interfaces of names that have none and
// closes those of interfaces names no longer lists. An interface that
// does not exist yet is an error; the next Apply tries again.
func (b *Backend) syncCores(names []string) error {
	var errs []error
	want := map[string]bool{}
	for _, name := range names {
		want[name] = true
		if b.cores[name] != nil {
			continue
		}
		link, err := b.sys.h.LinkByName(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("mpls interface %s: %w", name, err))
			continue
		}
		c := &coreIface{name: name, index: link.Attrs().Index}
		copy(c.mac[:], link.Attrs().HardwareAddr)
		if c.sock, err = openCoreSocket(c.index); err != nil {
			errs = append(errs, fmt.Errorf("mpls interface %s: %w", name, err))
			continue
		}
		b.cores[name] = c
		b.wg.Add(1)
		go b.readCore(c)
		b.log.Info("plain MPLS accepted on core interface", "interface", name)
	}
	for name, c := range b.cores {
		if !want[name] {
			errs = append(errs, c.sock.Close())
			delete(b.cores, name)
		}
	}
	if len(b.dp.plains) > 0 && !b.resolverOn {
		b.resolverOn = true
		b.resolverWG.Add(1)
		go b.resolver()
	}
	b.resolveLocked()
	return errors.Join(errs...)
}

// resolver re-resolves the unprotected peers' next hops until Close.
func (b *Backend) resolver() {
	defer b.resolverWG.Done()
	t := time.NewTimer(resolvePending)
	defer t.Stop()
	for {
		select {
		case <-b.resolverQuit:
			return
		case <-t.C:
		}
		b.mu.Lock()
		if b.done {
			b.mu.Unlock()
			return
		}
		b.tunMu.Lock() // resolveLocked reads dp.plains
		pending := b.resolveLocked()
		b.tunMu.Unlock()
		b.mu.Unlock()
		if pending {
			t.Reset(resolvePending)
		} else {
			t.Reset(resolveEvery)
		}
	}
}

// resolveLocked resolves every unprotected peer's next hop once, with
// b.mu held, and reports whether any is still unresolved.
func (b *Backend) resolveLocked() (pending bool) {
	byIndex := map[int]*coreIface{}
	for _, c := range b.cores {
		byIndex[c.index] = c
	}
	for remote, po := range b.dp.plains {
		h, err := b.resolveHop(remote, byIndex)
		cur := po.l2.Load()
		switch {
		case err != nil:
			pending = true
			if cur != nil || !b.unresolved[remote] {
				b.log.Info("plain MPLS next hop unresolved: dropping", "remote", remote, "reason", err)
			}
			b.unresolved[remote] = true
			po.l2.Store(nil)
		case cur == nil || *cur != *h:
			delete(b.unresolved, remote)
			po.l2.Store(h)
			b.log.Info("plain MPLS next hop", "remote", remote, "via", h.gw, "dev", h.core.name,
				"lladdr", net.HardwareAddr(h.hdr[0:6]).String())
		}
	}
	for remote := range b.unresolved {
		if b.dp.plains[remote] == nil {
			delete(b.unresolved, remote)
		}
	}
	b.publishSources()
	return pending
}

// publishSources gives each core the MAC addresses it takes labelled
// frames from: those of the resolved next hops toward the unprotected
// peers that leave by it (plain.go). A core with none takes nothing.
func (b *Backend) publishSources() {
	for _, c := range b.cores {
		macs := sourceMACs{}
		for _, po := range b.dp.plains {
			if h := po.l2.Load(); h != nil && h.core == c {
				macs = append(macs, [6]byte(h.hdr[0:6]))
			}
		}
		slices.SortFunc(macs, func(a, b [6]byte) int { return bytes.Compare(a[:], b[:]) })
		macs = slices.Compact(macs)
		if cur := c.sources.Load(); cur != nil && slices.Equal(*cur, macs) {
			continue
		}
		c.sources.Store(&macs)
		names := make([]string, len(macs))
		for i, m := range macs {
			names[i] = net.HardwareAddr(m[:]).String()
		}
		b.log.Info("plain MPLS taken only from these next hops", "interface", c.name, "lladdr", names)
	}
}

// resolveHop is remote's next hop: `ip route get REMOTE` in the main
// table, which must leave by a core interface, and the gateway's (or, on
// a link shared with the remote PE, its own) MAC address from
// `ip neigh show dev CORE`. A missing entry is asked for and reported.
func (b *Backend) resolveHop(remote netip.Addr, cores map[int]*coreIface) (*l2Hop, error) {
	rs, err := b.sys.h.RouteGet(remote.AsSlice())
	if err != nil || len(rs) == 0 {
		return nil, fmt.Errorf("no route to %s in the main table: %v", remote, err)
	}
	c := cores[rs[0].LinkIndex]
	if c == nil {
		return nil, fmt.Errorf("the route to %s leaves by interface %d, not one of the MPLS interfaces", remote, rs[0].LinkIndex)
	}
	gw := remote
	if rs[0].Gw != nil {
		a, _ := netip.AddrFromSlice(rs[0].Gw)
		gw = a.Unmap()
	}
	fam := netlink.FAMILY_V4
	if gw.Is6() {
		fam = netlink.FAMILY_V6
	}
	ns, err := b.sys.h.NeighList(c.index, fam)
	if err != nil {
		return nil, fmt.Errorf("reading the neighbour table of %s: %w", c.name, err)
	}
	for _, n := range ns {
		a, _ := netip.AddrFromSlice(n.IP)
		if a.Unmap() != gw || len(n.HardwareAddr) != 6 || n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED|netlink.NUD_NONE) != 0 {
			continue
		}
		return &l2Hop{core: c, hdr: makeEthHeader([6]byte(n.HardwareAddr), c.mac), gw: gw}, nil
	}
	b.probe(gw, c)
	return nil, fmt.Errorf("next hop %s on %s has no neighbour entry yet (resolving)", gw, c.name)
}

// probe asks the kernel to resolve gw on c: a neighbour entry marked in
// use (NTF_USE, `ip neigh replace GW dev CORE use`), which starts ARP or
// neighbour discovery as a packet toward it would.
func (b *Backend) probe(gw netip.Addr, c *coreIface) {
	fam := unix.AF_INET
	if gw.Is6() {
		fam = unix.AF_INET6
	}
	err := b.sys.h.NeighSet(&netlink.Neigh{LinkIndex: c.index, Family: fam, IP: gw.AsSlice(),
		State: netlink.NUD_NONE, Flags: netlink.NTF_USE})
	if err != nil {
		b.log.Debug("neighbour probe", "gw", gw, "dev", c.name, "err", err)
	}
}

// readCore is core c's inbound goroutine: it receives batches of frames
// until the socket is closed and writes each VRF's packets to its TUN.
func (b *Backend) readCore(c *coreIface) {
	defer b.wg.Done()
	blk := takeBufs(batchSize, inHeadroom+maxFrame)
	defer blk.release()
	bufs := blk.bufs
	m := newFrameBatch(batchSize)
	m.setBufs(bufs, inHeadroom)
	w := newTUNWriter(0)
	for {
		n, err := c.sock.recv(m)
		if errors.Is(err, errSocketClosed) {
			return
		}
		if err != nil {
			b.log.Warn("receiving MPLS frames", "interface", c.name, "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for i := range n {
			v, io, il, _ := b.dp.inboundFrame(c, bufs[i], inHeadroom, m.length(i), m.pktType(i))
			if v != nil {
				w.inPlace(v, 0, bufs[i][io-tunOffset:io+il])
			}
		}
		w.flush()
	}
}

// maxFrame is the largest frame a core reader takes whole (a jumbo
// frame's 9000 bytes and the header); larger ones arrive truncated and are
// dropped as malformed.
const maxFrame = 9216

// stopResolver stops the resolver and waits for it; Close calls it
// before taking b.mu, which the resolver takes.
func (b *Backend) stopResolver() {
	select {
	case <-b.resolverQuit:
	default:
		close(b.resolverQuit)
	}
	b.resolverWG.Wait()
}

// closeCores closes every core socket; with b.mu held.
func (b *Backend) closeCores() error {
	var errs []error
	for name, c := range b.cores {
		errs = append(errs, c.sock.Close())
		delete(b.cores, name)
	}
	return errors.Join(errs...)
}
