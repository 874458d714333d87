package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
)

// kernelESP is a Backend's kernel-resident protected path (see
// "Kernel-resident ESP" in the package documentation): per remote PE an
// mplsip tunnel whose protocol-137 packets XFRM seals and opens in
// transport mode, the kernel forwarding every packet.
type kernelESP struct {
	log *slog.Logger
	// h speaks NETLINK_ROUTE and NETLINK_XFRM in the backend's namespace.
	h    *netlink.Handle
	seqs *seqstore.Store
	mu   struct {
		sync.Mutex
		peers map[netip.Addr]*installedPeer
		// paths is the path each remote PE was last logged on, so that
		// the log says it once per change, not once per Apply.
		paths map[netip.Addr]string
		// failed are installs that failed, not tried again until the
		// tunnel changes: each try of a manual key reserves a new block
		// of its sequence numbers.
		failed map[netip.Addr]failedInstall
	}
	stop chan struct{}
	done chan struct{}
}

// installedPeer is a kernelPeer the kernel has, and the sequence store's
// hold on its manually keyed outbound SA (nil for an IKE child).
type installedPeer struct {
	plan *kernelPeer
	seq  *kernelSeq
	res  *seqstore.Reservation
}

// probeKernelESP reports why the kernel in h's namespace cannot run the
// kernel path, or nil: it makes and deletes an mplsip tunnel
// (`ip link add pgmplsprobe type ipip mode mplsip`) and lists the XFRM
// policies.
func probeKernelESP(h *netlink.Handle) error {
	const name = "pgmplsprobe"
	l := &netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: name}, Proto: ipProtoMPLS, Ttl: 64, PMtuDisc: 1,
		Local: netip.MustParseAddr("127.0.0.1").AsSlice(), Remote: netip.MustParseAddr("127.0.0.2").AsSlice()}
	if old, err := h.LinkByName(name); err == nil {
		_ = h.LinkDel(old) // left by a probe that did not finish
	}
	if err := h.LinkAdd(l); err != nil {
		return fmt.Errorf("no mplsip tunnel (ip link add type ipip mode mplsip: %v; modprobe ipip)", err)
	}
	got, err := h.LinkByName(name)
	if err == nil {
		_ = h.LinkDel(got)
		if t, ok := got.(*netlink.Iptun); !ok || t.Proto != ipProtoMPLS {
			return errors.New("the kernel made an ipip tunnel but not in mode mplsip")
		}
	}
	if _, err := h.XfrmPolicyList(netlink.FAMILY_V4); err != nil {
		return fmt.Errorf("no XFRM (%v; modprobe xfrm_user esp4)", err)
	}
	return nil
}

func newKernelESP(log *slog.Logger, h *netlink.Handle, seqs *seqstore.Store) *kernelESP {
	k := &kernelESP{log: log, h: h, seqs: seqs, stop: make(chan struct{}), done: make(chan struct{})}
	k.mu.peers = map[netip.Addr]*installedPeer{}
	k.mu.paths = map[netip.Addr]string{}
	k.mu.failed = map[netip.Addr]failedInstall{}
	go k.watchSequences()
	return k
}

// close stops the sequence watcher and lets go of the reservations. What
// the kernel has stays: the path keeps forwarding, sealed, and a manually
// keyed SA stops at its hard limit, the mark on disk (kxfrm_seq.go).
func (k *kernelESP) close() {
	close(k.stop)
	<-k.done
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range k.mu.peers {
		p.res.Release()
	}
	k.h.Close()
}

// apply installs the kernel path for every tunnel that can take it and
// returns its device by remote PE; rest are the tunnels it left to the
// ESP gateway (kernelPathRefusal, or an install that failed: logged).
func (k *kernelESP) apply(local netip.Addr, tunnels map[netip.Addr]*fib.Tunnel) (devs map[netip.Addr]string, rest map[netip.Addr]*fib.Tunnel) {
	k.mu.Lock()
	defer k.mu.Unlock()
	devs, rest = map[netip.Addr]string{}, map[netip.Addr]*fib.Tunnel{}
	for _, remote := range slices.SortedFunc(maps.Keys(tunnels), netip.Addr.Compare) {
		t := tunnels[remote]
		why := kernelPathRefusal(local, t, k.seqs != nil)
		if why == "" {
			p := newKernelPeer(local, t)
			if f, ok := k.mu.failed[p.remote]; ok && f.plan.same(p) {
				why = f.why
			} else if err := k.install(p); err != nil {
				why = "installing it failed: " + err.Error()
				k.rollback(p)
				k.mu.failed[p.remote] = failedInstall{plan: p, why: why}
			} else {
				delete(k.mu.failed, p.remote)
			}
		}
		if why != "" {
			rest[remote] = t
			k.logPath(remote.Unmap(), "userspace ESP gateway", why)
			continue
		}
		devs[remote.Unmap()] = kernelDev(remote)
		k.logPath(remote.Unmap(), "kernel", kernelDev(remote))
	}
	for remote := range k.mu.failed {
		if _, ok := tunnels[remote]; !ok {
			delete(k.mu.failed, remote)
		}
	}
	return devs, rest
}

// failedInstall is a plan the kernel refused, and the reason.
type failedInstall struct {
	plan *kernelPeer
	why  string
}

func (k *kernelESP) logPath(remote netip.Addr, path, detail string) {
	if k.mu.paths[remote] == path+detail {
		return
	}
	k.mu.paths[remote] = path + detail
	if path == "kernel" {
		k.log.Info("protected path: kernel-resident ESP (XFRM, mplsip)", "remote", remote, "device", detail)
	} else {
		k.log.Info("protected path: "+path, "remote", remote, "reason", detail)
	}
}

// install brings the kernel to p, in kernelPeer's order. On an error
// apply rolls back (the tunnel goes to the gateway).
func (k *kernelESP) install(p *kernelPeer) error {
	prev := k.mu.peers[p.remote]
	if prev != nil && prev.plan.same(p) {
		return k.device(p) // the states stay; the device may have been deleted by hand
	}
	for _, pol := range p.policies() {
		if err := k.h.XfrmPolicyUpdate(pol); err != nil {
			return fmt.Errorf("ip xfrm policy update dir %v proto 137: %w", pol.Dir, err)
		}
	}
	ins, err := p.inStates()
	if err != nil {
		return err
	}
	for _, st := range ins {
		if err := k.putState(st); err != nil {
			return err
		}
	}
	ip := &installedPeer{plan: p}
	var out *netlink.XfrmState
	if p.out.PersistSequence {
		out, ip.seq, ip.res, err = k.persistedOut(p, prev)
	} else {
		out, err = p.outState(0, 0)
	}
	if err != nil {
		return err
	}
	if err := k.putState(out); err != nil {
		ip.res.Release()
		return err
	}
	if prev != nil && prev.res != ip.res {
		prev.res.Release()
	}
	k.mu.peers[p.remote] = ip
	return k.device(p)
}

// rollback removes what install made of p, device first, policies
// last, and lets go of its sequence reservation, so that the gateway,
// which takes the tunnel instead, can attach the same manual key.
func (k *kernelESP) rollback(p *kernelPeer) {
	var errs []error
	if l, err := k.h.LinkByName(kernelDev(p.remote)); err == nil {
		errs = append(errs, k.h.LinkDel(l))
	}
	states, _ := p.inStates()
	if out, err := p.outState(0, 0); err == nil {
		states = append(states, out)
	}
	for _, st := range states {
		if _, err := k.h.XfrmStateGet(st); err == nil {
			errs = append(errs, k.h.XfrmStateDel(st))
		}
	}
	for _, pol := range p.policies() {
		if err := k.h.XfrmPolicyDel(pol); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
		}
	}
	if ip := k.mu.peers[p.remote]; ip != nil {
		ip.res.Release()
		delete(k.mu.peers, p.remote)
	}
	if err := errors.Join(errs...); err != nil {
		k.log.Warn("kernel ESP path: removing a failed install", "remote", p.remote, "err", err)
	}
}

// putState makes st, keeping a state of the same SPI that has the same
// keys (its counters and replay window go on) and replacing one that has
// other keys.
func (k *kernelESP) putState(st *netlink.XfrmState) error {
	if have, err := k.h.XfrmStateGet(st); err == nil {
		if sameKeys(have, st) && have.Reqid == st.Reqid && have.Mode == st.Mode {
			return nil
		}
		if err := k.h.XfrmStateDel(have); err != nil {
			return fmt.Errorf("ip xfrm state delete spi 0x%08x: %w", st.Spi, err)
		}
	}
	if err := k.h.XfrmStateAdd(st); err != nil {
		return fmt.Errorf("ip xfrm state add src %s dst %s spi 0x%08x mode transport: %w", st.Src, st.Dst, st.Spi, err)
	}
	return nil
}

func sameKeys(a, b *netlink.XfrmState) bool {
	k := func(x *netlink.XfrmStateAlgo) string {
		if x == nil {
			return ""
		}
		return x.Name + "\x00" + string(x.Key)
	}
	return k(a.Aead) == k(b.Aead) && k(a.Crypt) == k(b.Crypt) && k(a.Auth) == k(b.Auth) && a.ESN == b.ESN
}

// device makes (or finds) p's tunnel and brings it up:
//
//	ip link add pgmpls-RRRRRRRR mtu 1400 type ipip mode mplsip local L remote R ttl 64
func (k *kernelESP) device(p *kernelPeer) error {
	name := kernelDev(p.remote)
	if l, err := k.h.LinkByName(name); err == nil {
		if t, ok := l.(*netlink.Iptun); ok && t.Proto == ipProtoMPLS && t.Local.Equal(p.local.AsSlice()) && t.Remote.Equal(p.remote.AsSlice()) {
			return k.h.LinkSetUp(l)
		}
		if err := k.h.LinkDel(l); err != nil {
			return fmt.Errorf("replacing %s: %w", name, err)
		}
	}
	l := &netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: kernelTunnelMTU}, Proto: ipProtoMPLS, Ttl: 64, PMtuDisc: 1,
		Local: p.local.AsSlice(), Remote: p.remote.AsSlice()}
	if err := k.h.LinkAdd(l); err != nil {
		return fmt.Errorf("ip link add %s type ipip mode mplsip local %s remote %s: %w", name, p.local, p.remote, err)
	}
	got, err := k.h.LinkByName(name)
	if err != nil {
		return err
	}
	return k.h.LinkSetUp(got)
}

// kernelTunnelMTU leaves room in a 1500-byte core for the outer IPv4
// header (20), ESP's header, IV, padding, trailer and ICV (at most 8 + 16
// + 15 + 2 + 32 = 73 with AES-CBC and HMAC-SHA-512) and 7 bytes to
// spare; the route's MPLS encapsulation takes its labels from it. The
// outer header has DF set (the tunnel's pmtudisc), and the kernel answers
// a larger inner packet with "fragmentation needed" from the VRF route.
const kernelTunnelMTU = 1400

// xfrmStates lists the XFRM states of both families.
func (k *kernelESP) xfrmStates() ([]netlink.XfrmState, error) {
	v4, err4 := k.h.XfrmStateList(netlink.FAMILY_V4)
	v6, err6 := k.h.XfrmStateList(netlink.FAMILY_V6)
	return append(v4, v6...), errors.Join(err4, err6)
}

// removeStale deletes what the kernel path has and keep does not name,
// in the reverse order of install: the device (its routes go with it;
// Apply moved them first), then the states, then the policies.
func (k *kernelESP) removeStale(keep map[netip.Addr]string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	links, err := k.h.LinkList()
	errs = append(errs, err)
	wantDev := map[string]bool{}
	for _, d := range keep {
		wantDev[d] = true
	}
	for _, l := range links {
		if _, ok := l.(*netlink.Iptun); ok && strings.HasPrefix(l.Attrs().Name, kernelDevPrefix) && !wantDev[l.Attrs().Name] {
			errs = append(errs, k.h.LinkDel(l))
		}
	}
	wantSPI := map[[2]netip.Addr]map[uint32]bool{} // (src, dst) -> SPIs
	for remote, ip := range k.mu.peers {
		if _, ok := keep[remote]; !ok {
			ip.res.Release()
			delete(k.mu.peers, remote)
			continue
		}
		p := ip.plan
		wantSPI[[2]netip.Addr{p.local, p.remote}] = map[uint32]bool{p.out.SPI: true}
		in := map[uint32]bool{}
		for _, sa := range p.in {
			in[sa.SPI] = true
		}
		wantSPI[[2]netip.Addr{p.remote, p.local}] = in
	}
	states, err := k.xfrmStates()
	errs = append(errs, err)
	for i := range states {
		st := &states[i]
		if st.Reqid != kernelReqid || st.Mode != netlink.XFRM_MODE_TRANSPORT {
			continue
		}
		if !wantSPI[pair(st.Src, st.Dst)][uint32(st.Spi)] {
			errs = append(errs, k.h.XfrmStateDel(st))
		}
	}
	pols4, err4 := k.h.XfrmPolicyList(netlink.FAMILY_V4)
	pols6, err6 := k.h.XfrmPolicyList(netlink.FAMILY_V6)
	pols := append(pols4, pols6...)
	errs = append(errs, err4, err6)
	for i := range pols {
		pol := &pols[i]
		if len(pol.Tmpls) != 1 || pol.Tmpls[0].Reqid != kernelReqid || pol.Src == nil || pol.Dst == nil {
			continue
		}
		if _, ok := wantSPI[pair(pol.Src.IP, pol.Dst.IP)]; !ok {
			errs = append(errs, k.h.XfrmPolicyDel(pol))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kernel ESP path: removing what no tunnel asks for: %w", err)
	}
	return nil
}

func pair(src, dst []byte) [2]netip.Addr {
	s, _ := netip.AddrFromSlice(src)
	d, _ := netip.AddrFromSlice(dst)
	return [2]netip.Addr{s.Unmap(), d.Unmap()}
}

// watchSequences is the sequence store's view of the kernel's counters:
// every watchInterval it reads each manually keyed outbound state's
// output sequence number, asks the store for more numbers half way
// through the block (as esp.SA's Seal does), and raises the state's hard
// packet limit once the store has written a new mark (kxfrm_seq.go).
func (k *kernelESP) watchSequences() {
	defer close(k.done)
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-tick.C:
		}
		k.mu.Lock()
		for remote, ip := range k.mu.peers {
			if ip.seq != nil {
				if err := ip.seq.sync(k.h, ip.plan); err != nil {
					k.log.Warn("kernel ESP path: sequence watch", "remote", remote, "err", err)
				}
			}
		}
		k.mu.Unlock()
	}
}

// watchInterval: at half a block (2^19 numbers) of slack, polling five
// times a second keeps up with 2.6 million packets a second on one SA.
const watchInterval = 200 * time.Millisecond

// stats are the kernel path's SAs as `ip -s xfrm state` counts them, for
// show output, the metrics and the keying service's byte limits: an
// outbound state's packets, bytes and output sequence number, an inbound
// one's packets, bytes, replays and integrity failures.
func (k *kernelESP) stats() []fib.SACounters {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.mu.peers) == 0 {
		return nil
	}
	locals := map[netip.Addr]bool{}
	for _, ip := range k.mu.peers {
		locals[ip.plan.local] = true
	}
	states, err := k.xfrmStates()
	if err != nil {
		k.log.Warn("kernel ESP path: listing the XFRM states for their counters", "err", err)
		return nil
	}
	var out []fib.SACounters
	for i := range states {
		st := &states[i]
		if st.Reqid != kernelReqid || st.Mode != netlink.XFRM_MODE_TRANSPORT {
			continue
		}
		ends := pair(st.Src, st.Dst)
		c := fib.SACounters{SPI: uint32(st.Spi)}
		if locals[ends[0]] {
			c.Outbound, c.Remote = true, ends[1]
			c.SealedPackets, c.SealedBytes = st.Statistics.Packets, st.Statistics.Bytes
			if st.Replay != nil {
				c.LastSeq = uint64(st.Replay.OSeq)
			}
		} else {
			c.Remote = ends[0]
			c.OpenedPackets, c.OpenedBytes = st.Statistics.Packets, st.Statistics.Bytes
			c.Replayed, c.AuthFailed = uint64(st.Statistics.Replay), uint64(st.Statistics.Failed)
		}
		out = append(out, c)
	}
	return out
}
