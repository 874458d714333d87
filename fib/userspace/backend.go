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
	"sync"
	"sync/atomic"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
	"github.com/peregrine-net/peregrine/ipsec/wire"
	"github.com/peregrine-net/peregrine/mpls"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// Options configure a Backend. The zero value is ready to use.
type Options struct {
	// MTU is the largest inner packet the fast path carries whole over
	// a tunnel with an AEAD suite (less for AES-CBC, see DefaultMTU);
	// it answers larger ones that must not be fragmented with ICMP "too
	// big" into the VRF (toobig.go). 0 means DefaultMTU.
	MTU int
	// TTLMode is how TTLs cross between IP and labels (RFC 3443); the
	// zero value is mpls.Uniform.
	TTLMode mpls.TTLMode
	// RulePriority is the priority of the policy rules; 0 means
	// DefaultRulePriority. The backend also uses the 514 before (the
	// mark tree's among them: marks.go) and the
	// next three (rules.go), all after 0 and before the main table's
	// 32766: others' rules there may be skipped by the host's packets.
	RulePriority int
	// IKE, if set, receives each IKE message that arrives on UDP port
	// 4500 behind a non-ESP marker (RFC 3948), on the receiving
	// goroutine: copy msg to keep it. Send replies with SendIKE, since
	// the backend owns the port.
	IKE func(from netip.AddrPort, msg []byte)
	// Sequences persists the sequence numbers of manually keyed outbound
	// SAs (fib.SAParams.PersistSequence), so a restart never reuses a
	// nonce; without it such SAs are refused and their tunnels closed.
	// The caller closes it after the backend.
	Sequences *seqstore.Store
}

// DefaultMTU leaves room, in a 1500-byte core MTU, for an outer IPv6 header,
// UDP, ESP with an AEAD's IV and trailer and a two-label stack. A tunnel
// whose suite adds more (AES-CBC with HMAC-SHA2: up to 36 bytes more)
// carries that much less (pathMTU).
const DefaultMTU = 1400

// Backend is the userspace fib.Backend. Apply and Close are for one
// goroutine (the reconciler's); Stats and SendIKE are safe from
// any.
type Backend struct {
	log *slog.Logger
	mtu int
	dp  *dataplane
	// queues is how many queues (and reader goroutines) a VRF's TUN has.
	queues int
	sys    *system
	net    atomic.Pointer[esptransport.Sockets] // read by the TUN readers
	ahSock atomic.Pointer[ahSocket]             // AH, IP protocol 51 (ahsock.go)
	wg     sync.WaitGroup                       // reader goroutines
	mu     sync.Mutex                           // held by Apply, Close and Stats
	// tunMu guards dp's state (dataplane.go) and tunClosed. Apply takes
	// it inside mu for its fast-path update only, not its route work,
	// so that ApplyTunnels, which takes tunMu alone, installs a rekey's
	// SAs while a long Apply runs (fib.TunnelApplier).
	tunMu     sync.Mutex
	tunClosed bool
	tuns      map[string]*tunDev // by VRF name; guarded by mu
	done      bool               // Close was called; guarded by mu
	// held are the CE interfaces of the last State applied, and
	// quarantined those a later State dropped (a VRF removed on reload,
	// an interface taken out of its VRF): their packets go on being
	// dropped until the backend closes. A new Backend starts with
	// neither, so its first Apply releases a previous run's quarantine
	// of every interface its State does not name. Guarded by mu.
	held, quarantined map[string]bool
	// applied: Apply ran at least once. Close before that (a start that
	// failed first) leaves the rules as it found them: a previous run's
	// quarantine is not this Backend's to release.
	applied bool
	// cores are the MPLS interfaces' packet sockets by name, unresolved
	// the unprotected peers whose next hop is unknown (logged once), and
	// resolverOn says the resolver runs (cores.go). Guarded by mu.
	cores      map[string]*coreIface
	unresolved map[netip.Addr]bool
	resolverOn bool
	// resolverQuit, closed by Close before it takes mu, stops the
	// resolver, and resolverWG waits for it: the resolver takes mu, so
	// Close must not wait for it while holding mu.
	resolverQuit chan struct{}
	resolverWG   sync.WaitGroup
	// batches lends the TUN readers their buffers (readbatch.go).
	batches *batchPool
	// poller watches the idle TUN queues and starts their readers
	// (tunpoll.go).
	poller *queuePoller
	// marks numbers the VRFs for the rule tree, wantMarks is what the
	// last planRules asked of the map (interface -> the VRF's mark),
	// and nft sets the marks
	// (marks.go, nftmarks.go); nftWarned: a failure was logged as a
	// warning. Guarded by mu.
	marks     markTable
	wantMarks map[string]uint32
	nft       nftMarks
	nftWarned bool
	// validMark are the interfaces whose src_valid_mark this Backend set
	// (marks.go says why); it is left set when they leave: without a
	// mark on their packets it changes nothing. Guarded by mu.
	validMark map[string]bool
}

var (
	_ fib.Backend       = (*Backend)(nil)
	_ fib.Counterer     = (*Backend)(nil)
	_ fib.TunnelCarrier = (*Backend)(nil)
	_ fib.TunnelApplier = (*Backend)(nil)
)

// New returns a Backend that works in the calling goroutine's network
// namespace. It changes nothing in the system until the first Apply.
func New(log *slog.Logger, opts Options) (*Backend, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !opts.TTLMode.IsValid() {
		return nil, fmt.Errorf("userspace: Options.TTLMode: %v", opts.TTLMode)
	}
	if opts.MTU == 0 {
		opts.MTU = DefaultMTU
	}
	if opts.MTU < 576 || opts.MTU > maxDatagram-outHeadroom {
		return nil, fmt.Errorf("userspace: Options.MTU: %d out of range", opts.MTU)
	}
	if opts.RulePriority == 0 {
		opts.RulePriority = DefaultRulePriority
	}
	if opts.RulePriority+hostSkipRuleOffset < 1 || opts.RulePriority+otherToCERuleOffset >= mainRulePriority {
		return nil, fmt.Errorf("userspace: Options.RulePriority: %d out of range %d-%d", opts.RulePriority, 1-hostSkipRuleOffset, mainRulePriority-otherToCERuleOffset-1)
	}
	// Only rtnetlink: a handle for every family would need nfnetlink,
	// which a kernel without netfilter (the VM's) lacks.
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("userspace: netlink: %w", err)
	}
	watch, err := newHostWatch()
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("userspace: %w", err)
	}
	dp := newDataplane(opts.TTLMode, opts.IKE, opts.MTU)
	dp.seqs = opts.Sequences
	b := &Backend{
		log:    log,
		mtu:    opts.MTU,
		dp:     dp,
		queues: tunQueues(),
		sys:    &system{log: log, h: h, prio: opts.RulePriority, watch: watch},
		tuns:   map[string]*tunDev{},
		held:   map[string]bool{}, quarantined: map[string]bool{},
		cores: map[string]*coreIface{}, unresolved: map[netip.Addr]bool{},
		resolverQuit: make(chan struct{}),
	}
	b.batches = newBatchPool(outBufSize(b.tunMTU()))
	if b.poller, err = newQueuePoller(log, b.startReader); err != nil {
		h.Close()
		watch.close()
		return nil, fmt.Errorf("userspace: %w", err)
	}
	return b, nil
}

// tunIndexes are the interface indexes of the TUNs the backend holds.
func (b *Backend) tunIndexes() map[int32]bool {
	own := make(map[int32]bool, len(b.tuns))
	for _, t := range b.tuns {
		if t.index > 0 {
			own[int32(t.index)] = true
		}
	}
	return own
}

// startReader runs the reader of a queue its poller woke.
func (b *Backend) startReader(e *parked) {
	b.wg.Add(1)
	go b.readTUN(e.v, e.lane, e.q, e)
}

// startReaders gives each queue of t, v's TUN, to the poller, which
// starts its reader at its first packet; a queue the poller cannot take
// gets a reader now, for its whole life.
func (b *Backend) startReaders(v *vrf, t *tunDev) {
	for lane, q := range t.queues {
		if err := b.poller.add(q, v, lane); err != nil {
			b.log.Warn("TUN queue: no idle poller, reading it with a goroutine of its own", "dev", t.name, "queue", lane, "err", err)
			b.wg.Add(1)
			go b.readTUN(v, lane, q, nil)
		}
	}
}

// Apply converges the TUN devices, policy rules, routes and the fast path
// to s. See the package documentation for what it installs.
func (b *Backend) Apply(ctx context.Context, s *fib.State) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return errors.New("userspace: Apply after Close")
	}
	// Two VRFs whose TUN names meet would share one multi-queue device,
	// and so their traffic: refuse the State, keep the applied one.
	if err := fib.CheckDeviceNames(s.VRFNames(), fib.TUNName); err != nil {
		return fmt.Errorf("userspace: %w", err)
	}
	// Forwarding before the TUNs: turning it on sets every interface's
	// own IPv6 forwarding flag, which createTUN clears on the TUN.
	errs := []error{enableForwarding()}
	fresh := map[string]tun.Device{}
	for name := range s.VRFs {
		if b.tuns[name] != nil {
			continue
		}
		t, err := createTUN(b.sys.h, fib.TUNName(name), b.tunMTU(), b.queues)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.tuns[name], fresh[name] = t, t.queues[0]
	}
	if err := ctx.Err(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	b.tunMu.Lock()
	_, removed, err := b.dp.update(s, b.devicesOf(fresh))
	b.tunMu.Unlock()
	errs = append(errs, err)
	for name := range fresh {
		b.startReaders(b.dp.vrfs[name], b.tuns[name])
	}
	// One read of the host's links, addresses and local routes serves
	// every VRF, and later Applies while no link or address changes
	// (hostview.go).
	host, err := b.sys.host(b.tunIndexes())
	if err != nil {
		return fmt.Errorf("userspace: %w", errors.Join(append(errs, err)...))
	}
	for name, fv := range s.VRFs {
		if v := b.dp.vrfs[name]; v != nil {
			v.addrs.Store(host.localAddrs(fv.Interfaces))
		}
	}
	errs = append(errs, b.setLocal(s.LocalAddress))
	b.tunMu.Lock() // syncCores reads dp.plains
	errs = append(errs, b.syncCores(s.MPLSInterfaces))
	b.tunMu.Unlock()
	if err := ctx.Err(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	tunIndex := map[string]int{}
	for name, t := range b.tuns {
		tunIndex[name] = t.index
	}
	before := b.sys.changes
	b.applied = true
	rules := b.planRules(s.VRFs, host)
	addCoreSkip(rules, b.sys.prio, host.ifaceOf(s.LocalAddress.Unmap()), func(ifname string) bool {
		return b.held[ifname] || b.quarantined[ifname] || slices.ContainsFunc(slices.Collect(maps.Values(b.tuns)), func(t *tunDev) bool { return t.name == ifname })
	})
	// Rules first, then routes, then away with the stale rules: a VRF's
	// interfaces are quarantined before its table empties, and a new
	// VRF's table is full before anything is pruned.
	errs = append(errs, b.sys.syncRules(rules, false))
	b.syncMarks()
	errs = append(errs, b.sys.syncRoutes(s.VRFs, tunIndex, host), b.sys.syncRules(rules, true))
	b.log.Debug("kernel rules and routes synced", "changes", b.sys.changes-before, "vrfs", len(s.VRFs))
	for _, v := range removed {
		if t := b.tuns[v.name]; t != nil {
			errs = append(errs, t.close())
			delete(b.tuns, v.name)
		}
	}
	for name, t := range b.tuns { // a TUN made for a VRF update could not keep
		if _, ok := s.VRFs[name]; !ok {
			errs = append(errs, t.close())
			delete(b.tuns, name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("userspace: %w", err)
	}
	return nil
}

// planRules moves the CE interfaces vrfs no longer holds into the
// quarantine and returns the rules for vrfs and the quarantine.
func (b *Backend) planRules(vrfs map[string]*fib.VRF, host *hostView) ruleSet {
	next := map[string]bool{}
	for _, v := range vrfs {
		for _, ifname := range v.Interfaces {
			next[ifname] = true
		}
	}
	for ifname := range b.held {
		if !next[ifname] {
			b.quarantined[ifname] = true
		}
		if !next[ifname] && !b.done {
			b.log.Warn("CE interface left its VRF: its packets are dropped until the daemon restarts without it", "interface", ifname)
		}
	}
	for ifname := range next {
		delete(b.quarantined, ifname)
	}
	b.held = next
	q := slices.Sorted(maps.Keys(b.quarantined))
	set := planRules(b.sys.prio, vrfs, q, host.ifAddrs(append(slices.Sorted(maps.Keys(next)), q...)))
	vrfMarks := b.marks.assign(slices.Collect(maps.Keys(vrfs)))
	b.wantMarks = interfaceMarks(vrfs, vrfMarks)
	addMarkTree(set, b.sys.prio, vrfs, vrfMarks)
	return set
}

// srcValidMark sets net.ipv4.conf.IF.src_valid_mark on each marked
// interface it has not set it on yet: the source check's lookup of a
// forwarded IPv4 packet then carries the packet's mark and finds its
// leaf (marks.go). It changes no lookup's outcome: the leaf looks up the
// same table as the fallback rule of the interface the check names.
func (b *Backend) srcValidMark() error {
	if b.validMark == nil {
		b.validMark = map[string]bool{}
	}
	var errs []error
	for ifname := range b.validMark {
		if _, ok := b.wantMarks[ifname]; !ok {
			delete(b.validMark, ifname)
		}
	}
	for ifname := range b.wantMarks {
		if b.validMark[ifname] {
			continue
		}
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+ifname+"/src_valid_mark", []byte("1"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("src_valid_mark: %w", err))
			continue
		}
		b.validMark[ifname] = true
	}
	return errors.Join(errs...)
}

// syncMarks makes the nftables map of marks what the last planRules
// asked. A failure (a kernel without nf_tables) costs the rule tree's
// speed, not isolation: the packets go unmarked to the fallback rules
// (marks.go). So it is logged, as a warning the first time, and not
// returned; the next Apply tries again.
func (b *Backend) syncMarks() {
	err := errors.Join(b.nft.sync(b.wantMarks), b.srcValidMark())
	switch {
	case err == nil:
	case !b.nftWarned:
		b.nftWarned = true
		b.log.Warn("cannot mark the VRFs' packets: each walks the policy rules of every VRF", "err", err)
	default:
		b.log.Debug("cannot mark the VRFs' packets", "err", err)
	}
}

// setLocal opens the sockets for a new local address and starts their
// readers; an invalid address closes them (no tunnel can send).
func (b *Backend) setLocal(local netip.Addr) error {
	local = local.Unmap()
	old := b.net.Load()
	if old != nil && old.Local() == local {
		return nil
	}
	var next *esptransport.Sockets
	var err error
	if local.IsValid() {
		// One ESP-in-UDP receiver per TUN queue: a peer's per-resource
		// SAs (RFC 9611) are opened on as many cores (esptransport's
		// reuseport.go). A kernel that cannot spread gets one.
		if next, err = esptransport.OpenSpread(local, b.queues, b.log); err != nil && b.queues > 1 {
			b.log.Warn("cannot spread ESP-in-UDP over several sockets; one receives", "local", local, "err", err)
			next, err = esptransport.Open(local, b.log)
		}
		if err != nil {
			b.log.Warn("cannot open ESP sockets; tunnels will drop", "local", local, "err", err)
			next = nil
		}
	}
	b.net.Store(next)
	if next != nil {
		for _, s := range append(next.Receivers(), next.ESP) {
			b.wg.Add(1)
			go b.readSocket(s)
		}
		b.log.Info("ESP sockets open", "local", local, "udp", wire.PortNATT, "udp-receivers", len(next.Receivers()))
	}
	return errors.Join(err, old.Close(), b.setLocalAH(local))
}

// Close stops the fast path, removes the TUN devices and the routes the
// backend installed, and waits for its goroutines. It leaves every CE
// interface it held or quarantined in the quarantine (package
// documentation): their packets are dropped, not routed by the main table,
// until a new Backend's Apply takes them over or releases them.
func (b *Backend) Close() error {
	b.stopResolver()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return nil
	}
	b.done = true
	b.tunMu.Lock()
	b.tunClosed = true
	b.tunMu.Unlock()
	// The quarantine first, while everything else still stands.
	host, err := b.sys.host(nil)
	if err != nil {
		// The quarantine still holds every CE interface; only the CE
		// subnets' rules, which need their addresses, are left as
		// they were (the prune below is skipped).
		b.log.Warn("closing: cannot read the host's addresses", "err", err)
	}
	quarantine := b.planRules(nil, host)
	// The prune below deletes thousands of rules, and while any goto
	// stands the kernel walks every rule once more for each delete
	// (fib_nl_delrule): half of a 2,000-VRF stop. So the host skip, the
	// quarantine's one goto, is pruned with the rest, first
	// (deleteOrder), and added back after. Meanwhile the host's packets
	// walk the VRF rules, which name other interfaces, to the same end.
	noGotos := withoutGotos(quarantine)
	var errs []error
	if b.applied {
		errs = append(errs, b.sys.syncRules(noGotos, false))
	}
	errs = append(errs, b.net.Swap(nil).Close(), b.closeCores(), b.setLocalAH(netip.Addr{}))
	// Routes and rules go before the TUNs: the kernel walks every rule
	// and every route of every table for each device it removes
	// (fib_rules_event, fib_table_flush, fib6_ifdown), and at 2,000
	// VRFs that walk took most of a 31 s stop. The quarantine stands
	// meanwhile, and nothing writes to the TUNs: the fast path is closed.
	if b.applied {
		b.sys.installed = nil // a full sync: remove whatever is there
		errs = append(errs, b.sys.syncRoutes(nil, nil, nil))
		if host != nil {
			errs = append(errs, b.sys.syncRules(noGotos, true), b.sys.syncRules(quarantine, false), b.sys.syncRules(quarantine, true))
		}
	}
	errs = append(errs, closeTUNs(slices.Collect(maps.Values(b.tuns))), b.poller.close())
	clear(b.tuns)
	if b.applied {
		if err := b.nft.remove(); err != nil && !b.nftWarned {
			b.log.Warn("closing: cannot remove the nftables table of marks", "table", "inet "+nftTableName, "err", err)
		}
	}
	b.nft.close()
	b.wg.Wait()
	b.batches.release()
	b.sys.close()
	return errors.Join(errs...)
}

// CarriesTunnels implements fib.TunnelCarrier: the userspace fast path
// seals and opens ESP itself, so it always does.
func (b *Backend) CarriesTunnels() bool { return true }

// Stats implements fib.Counterer.
func (b *Backend) Stats() fib.Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tunMu.Lock()
	defer b.tunMu.Unlock()
	return b.dp.stats()
}

// ApplyTunnels implements fib.TunnelApplier: it installs s's tunnels and
// attachments (their SAs, in the fast path only: no kernel route or rule
// depends on them) without waiting for an Apply under way, which holds
// tunMu only while it updates the fast path, never during its route
// work.
func (b *Backend) ApplyTunnels(ctx context.Context, s *fib.State) error {
	b.tunMu.Lock()
	defer b.tunMu.Unlock()
	if b.tunClosed {
		return errors.New("userspace: ApplyTunnels after Close")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := errors.Join(b.dp.installTunnels(s)...); err != nil {
		return fmt.Errorf("userspace: %w", err)
	}
	return nil
}

// SendIKE sends an IKE message to a peer from UDP port 4500, behind the
// non-ESP marker (RFC 3948 section 2.2).
func (b *Backend) SendIKE(to netip.AddrPort, msg []byte) error {
	s := b.net.Load()
	if s == nil {
		return errors.New("userspace: no local address: ESP sockets are closed")
	}
	return s.SendIKE(to, msg)
}

// devicesOf boxes the TUN of each VRF of fresh, all its queues, for
// dataplane.update.
func (b *Backend) devicesOf(fresh map[string]tun.Device) map[string]*device {
	devs := make(map[string]*device, len(fresh))
	for name := range fresh {
		devs[name] = b.tuns[name].device()
	}
	return devs
}
