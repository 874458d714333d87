// Package kernel is the fib backend for kernels with MPLS forwarding and
// VRF devices (mpls_router, mpls_iptunnel, vrf): the kernel forwards every
// packet, and Peregrine only programs it over netlink.
//
// For each VRF of the State:
//
//	ip link add vrf-VRF type vrf table TABLE; ip link set vrf-VRF up
//	ip link set CE-IF master vrf-VRF
//	ip route replace REMOTE-PREFIX encap mpls LABEL via GW dev CORE-IF table TABLE proto 204
//	ip route replace LOCAL-PREFIX [via CE] dev CE-IF table TABLE proto 204
//	ip route replace unreachable default table TABLE metric 4278198272 proto 204   (IPv4 and IPv6)
//
// and for each local label:
//
//	ip -f mpls route replace LABEL dev vrf-VRF proto 204      (pop, look up in the VRF)
//
// and for each of this PE's own transport labels
// (State.LocalTransportLabels), with net.mpls.conf.lo.input=1:
//
//	ip -f mpls route replace LABEL dev lo proto 204           (pop; the label beneath is looked up again)
//
// and, on each interface with MPLS input on but lo, tc filters at ingress
// that pop an IPv4 or IPv6 explicit null above another label, which
// Linux's MPLS cannot route (explicitnull.go).
//
// GW and CORE-IF come from the main table's route to the remote PE (the
// BGP next hop), so a PE reaches its peers over whatever the core runs.
// An IPv6 VPN route over an IPv4 core (6VPE, RFC 4659) cannot name an
// IPv4 next hop (Linux refuses RTA_VIA for IPv6 routes), so it takes GW
// as an IPv4-mapped address, which Linux accepts as an on-link IPv6 next
// hop, with a permanent neighbor entry carrying GW's MAC from the ARP
// table (as FRR does for 6PE):
//
//	ip -6 neigh replace ::ffff:GW lladdr MAC dev CORE-IF nud permanent
//	ip -6 route replace REMOTE-PREFIX encap mpls LABEL via ::ffff:GW dev CORE-IF onlink table TABLE proto 204
//
// With no transport label (no LDP or RSVP here) a P router between the
// PEs must switch the VPN labels itself. MPLS input is enabled on the core
// interfaces only (not on CE interfaces: a CE must not inject labels), and
// net.mpls.platform_labels sized for the label range.
//
// # ESP-protected peers
//
// The kernel's own ESP (XFRM) cannot take an MPLS packet, so where the
// configuration protects the traffic between PEs (Options.ESP, an
// ESPGateway: fib/userspace's Gateway in the daemon), every route to a remote PE goes into that PE's TUN
// of the Gateway instead of the core:
//
//	ip route replace REMOTE-PREFIX encap mpls LABEL dev pgesp-N table TABLE proto 204
//
// The Gateway seals what the kernel labelled and sends it; opened packets
// come back through the TUN pgesp-in, the only interface with MPLS input
// on (a labelled packet arriving in clear on the core must not reach a
// VRF), and the kernel pops them into their VRF as above. A remote PE
// without a tunnel or SA still gets its TUN, where the Gateway drops and
// counts: protected traffic is never sent in clear. Without Options.ESP a
// State with tunnels is refused, for the same reason.
//
// # Kernel-resident ESP
//
// With Options.KernelESP (dataplane.kernel-esp: auto, the default), a
// remote PE whose tunnel the kernel can carry never touches the Gateway
// (kxfrm*.go): its labelled packets go into an mplsip tunnel, which sends
// them as IP protocol 137 (RFC 4023), and XFRM seals that in transport
// mode, so the wire is what the Gateway sends, outer IP | ESP | labels |
// inner IP | trailer with next header 137:
//
//	ip xfrm policy update src L/32 dst R/32 proto 137 dir out tmpl src L dst R proto esp mode transport reqid 0x70670001
//	ip xfrm policy update src R/32 dst L/32 proto 137 dir in  tmpl src R dst L proto esp mode transport reqid 0x70670001
//	ip xfrm state add src L dst R proto esp spi OUT mode transport reqid 0x70670001 aead 'rfc4106(gcm(aes))' KEY 128 [replay-oseq N limit packet-hard M]
//	ip xfrm state add src R dst L proto esp spi IN mode transport reqid 0x70670001 aead ... replay-window 32
//	ip link add pgmpls-RRRRRRRR mtu 1400 type ipip mode mplsip local L remote R ttl 64
//	ip route replace REMOTE-PREFIX encap mpls LABEL dev pgmpls-RRRRRRRR table TABLE proto 204
//
// in that order, the policies first: a packet of protocol 137 between
// the PEs is never sent or taken unsealed, a state missing meaning a
// drop. Inbound, XFRM opens ESP, the mplsip tunnel takes protocol 137
// only past the inbound policy (clear MPLS in IP from the core is
// dropped), and MPLS input on pgmpls-* pops the label into its VRF.
// Removal goes the other way: routes, device, states, policies.
//
// The kernel path takes a tunnel with both SAs, ESP (not AH), a transform
// the kernel has (AES-GCM, ChaCha20-Poly1305, AES-CBC with HMAC-SHA-2),
// an IPv4 core (Linux's ip6tnl takes no MPLS), and raw ESP
// (ipsec.encapsulation: esp): ESP in UDP needs a socket on UDP 4500 with
// UDP_ENCAP set for the kernel to open it, and that port is the
// Gateway's. Every other tunnel stays on the Gateway, and the log says
// which path each remote PE takes and why. An install that fails is
// rolled back and also leaves the tunnel to the Gateway.
//
// A manually keyed outbound SA (SAParams.PersistSequence) keeps the
// sequence store's promise in the kernel: the state starts above the
// key's mark and its hard packet limit ends it at the mark on disk;
// watchSequences raises the limit as the store writes new marks
// (kxfrm_seq.go). A daemon that stops or crashes leaves the path in the
// kernel, still sealed, policies included, until the state meets its
// limit; the next run replaces the state above the mark.
//
// # IPsec attachments
//
// A site's tunnel-mode SAs into a VRF (fib.Attachment) end in the same
// Gateway: for each VRF an attachment enters it makes a TUN
// (fib.AttachmentTUN) and enslaves it to the VRF's device before it
// writes anything into it, which is why Apply makes the VRF devices
// before it calls the Gateway. The backend routes the site:
//
//	ip route replace SITE-PREFIX dev pga-VRF table TABLE proto 204
//
// The Gateway seals what the kernel routes there for the site's gateway
// and writes what it opened, within the SA's traffic selectors, into
// pga-VRF, where the kernel routes it by the VRF's table. pga-VRF has
// MPLS input off like every interface but pgesp-in, and the quarantine
// leaves it alone (it is the Gateway's, not a CE interface). Without the
// TUN (no Gateway, or it could not make one) the site prefix is a
// blackhole: never out of the core in clear.
//
// # Unprotected peers and core interfaces
//
// A remote PE inside State.UnprotectedPeers (ipsec.unprotected-peers)
// has no TUN: its routes go over the core as above, with or without the
// Gateway, and must leave by one of State.MPLSInterfaces
// (dataplane.mpls-interfaces) when the State names them; a route whose PE
// is reached another way is an error, not a route. Where the State lists
// unprotected peers or MPLS interfaces and has no Gateway, a route to any
// other PE is
//
//	ip route replace blackhole REMOTE-PREFIX table TABLE proto 204
//
// so naming the PEs that may get plain MPLS never sends the rest in clear,
// nor does a reload that takes the last unprotected peer away. With MPLSInterfaces, MPLS input is 1 on those (and pgesp-in) and
// 0 on every other interface (sysctlWrites).
//
// Apply's route step is two halves: translate (desired.go) turns the
// State into the routes and neighbor entries it wants, reading the kernel
// only through a small interface (links, the main table's route to a PE,
// the ARP table) that host tests drive with a fake; applyRoutes
// (routes.go) writes them. The VM proves the writes.
//
// Writing is sized for VRFs of 100,000 routes and more: the routes of
// protocol 204 are read with one dump per family that the kernel filters
// (listroutes.go), and the differences go out many requests to a write
// with one acknowledgement per write, every refused route still named
// (batch.go, package fib/internal/nlbatch). make bench-vm times
// programming and withdrawing 100,000 routes against `ip -batch`.
//
// Everything carries protocol 204, like the userspace backend's routes:
// Apply replaces what differs and removes what the State no longer asks
// for, its own leftovers from an earlier run included. Close leaves the
// kernel as it is, so a restarted daemon adopts the forwarding state it
// finds and forwarding never stops.
//
// A VRF the State no longer has loses its device, but not before its CE
// interfaces are moved into the quarantine VRF device (quarantine.go),
// whose table only drops: deleting a VRF device would hand them to the
// main table, and their packets would leave in clear. So does an
// interface a VRF no longer lists. A new Backend's first Apply releases
// instead the interfaces its State does not name.
package kernel

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
	"github.com/peregrine-net/peregrine/mpls"
)

// RTProto marks every route this backend installs (as the userspace one).
const RTProto = 204

// Options configure a Backend.
type Options struct {
	// NetNS is the network namespace to program; the zero value means
	// the caller's. Tests run several PEs in one process this way.
	NetNS netns.NsHandle
	// ESP, if set, carries the traffic to remote PEs (see the package
	// documentation); it works in the caller's namespace, so NetNS must
	// be zero. Close closes it.
	ESP ESPGateway
	// KernelESP asks for the kernel-resident protected path where the
	// kernel has it (see "Kernel-resident ESP" in the package
	// documentation): the remote PEs whose tunnels can take it are
	// sealed by XFRM, the others go through ESP (or nowhere without it).
	KernelESP bool
	// Sequences persists the sequence numbers of manually keyed
	// outbound SAs on the kernel path; without it such tunnels stay on
	// the ESP gateway (which has its own).
	Sequences *seqstore.Store
}

// Backend is the kernel fib.Backend.
type Backend struct {
	log *slog.Logger
	h   *netlink.Handle
	ns  netns.NsHandle
	esp ESPGateway
	// kesp is the kernel-resident protected path, nil where it was not
	// asked for or the kernel lacks it.
	kesp *kernelESP
	// applied: Apply ran; the first one releases the quarantine's
	// interfaces its State does not name (quarantine.go).
	applied bool
	// routeCount is how many routes of ours the kernel held after the
	// last route sync, as far as it knows: the room listRoutes starts
	// with (a hint for the allocation, never taken for the kernel's
	// state).
	routeCount int
	// nullWarned: interfaces Apply warned cannot pop an explicit null
	// (explicitnull.go), not to warn again.
	nullWarned map[string]bool
}

var (
	_ fib.Backend       = (*Backend)(nil)
	_ fib.Counterer     = (*Backend)(nil)
	_ fib.TunnelCarrier = (*Backend)(nil)
)

// Supported reports whether this kernel can run the backend: MPLS
// forwarding and VRF devices. The reason says what is missing.
func Supported() (bool, string) {
	if _, err := os.Stat("/proc/sys/net/mpls/platform_labels"); err != nil {
		return false, "no MPLS forwarding (/proc/sys/net/mpls missing: modprobe mpls_router)"
	}
	name := "pgvrfprobe"
	if err := netlink.LinkAdd(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: name}, Table: 4294967}); err != nil {
		return false, fmt.Sprintf("cannot make a VRF device: %v", err)
	}
	if l, err := netlink.LinkByName(name); err == nil {
		_ = netlink.LinkDel(l)
	}
	return true, "the kernel has MPLS forwarding and VRF devices"
}

// New returns a Backend for the namespace in opts.
func New(log *slog.Logger, opts Options) (*Backend, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.ESP != nil && opts.NetNS > 0 {
		return nil, errors.New("kernel: Options.ESP works in the caller's namespace: leave NetNS zero")
	}
	var h *netlink.Handle
	var err error
	// Only rtnetlink: a handle for every family would need nfnetlink,
	// which a kernel without netfilter lacks.
	ns := netns.None() // the zero NsHandle is file descriptor 0, not "none"
	if opts.NetNS > 0 {
		ns = opts.NetNS
	}
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("kernel: netlink: %w", err)
	}
	b := &Backend{log: log, h: h, ns: ns, esp: opts.ESP}
	if opts.KernelESP {
		b.kesp = newKernelPath(log, ns, opts.Sequences)
	}
	return b, nil
}

// newKernelPath is the kernel-resident protected path in ns, or nil (and
// the log says why) where the kernel lacks it.
func newKernelPath(log *slog.Logger, ns netns.NsHandle, seqs *seqstore.Store) *kernelESP {
	var h *netlink.Handle
	var err error
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE, unix.NETLINK_XFRM)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE, unix.NETLINK_XFRM)
	}
	if err == nil {
		err = probeKernelESP(h)
		if err != nil {
			h.Close()
		}
	}
	if err != nil {
		log.Info("kernel-resident ESP: not available, protected traffic goes through the ESP gateway", "reason", err)
		return nil
	}
	log.Info("kernel-resident ESP: available (mplsip tunnels sealed by XFRM); the ESP gateway carries the tunnels it cannot")
	return newKernelESP(log, h, seqs)
}

// Stats implements fib.Counterer with the ESP gateway's counters (none
// without one) and the kernel-resident path's SAs. VRFs is nil: the
// kernel forwards VRFs through VRF devices and counts them itself
// (`ip -s link`).
func (b *Backend) Stats() fib.Stats {
	var s fib.Stats
	if b.esp != nil {
		s = b.esp.Stats()
		s.VRFs = nil
	}
	if b.kesp != nil {
		s.SAs = append(s.SAs, b.kesp.stats()...)
	}
	return s
}

// Close releases the netlink handle and leaves the forwarding state, but
// for the routes into the ESP Gateway's TUNs, which go with it: protected
// traffic stops (dropped, never sent in clear) until a new daemon is up.
// The kernel-resident path stays, sealed (see "Kernel-resident ESP").
func (b *Backend) Close() error {
	b.h.Close()
	if b.kesp != nil {
		b.kesp.close()
	}
	if b.esp != nil {
		return b.esp.Close()
	}
	return nil
}

// CarriesTunnels implements fib.TunnelCarrier: only with an ESP gateway
// (Options.ESP) or the kernel-resident path; without either Apply
// refuses a State with tunnels.
func (b *Backend) CarriesTunnels() bool { return b.esp != nil || b.kesp != nil }

// Apply converges the kernel to s.
func (b *Backend) Apply(ctx context.Context, s *fib.State) error {
	// Two VRFs whose VRF device names meet would share one device (the
	// second replacing the first's table and enslaving its interfaces
	// to it): refuse the State, keep the applied one.
	if err := fib.CheckDeviceNames(s.VRFNames(), fib.VRFDevice); err != nil {
		return fmt.Errorf("kernel: %w", err)
	}
	if !b.CarriesTunnels() && len(s.Tunnels) > 0 {
		return errors.New("kernel: the configuration protects traffic to remote PEs and this backend has no ESP gateway")
	}
	var errs []error
	devs, enslaved, devErrs := b.vrfDevices(b.h, s)
	errs = append(errs, devErrs...)
	// The kernel path first, then the gateway with the rest: a tunnel is
	// on one or the other, never both (they would share a manual key's
	// sequence numbers). The gateway after the VRF devices: it enslaves
	// each VRF's attachment TUN to its device. Those TUNs are the
	// gateway's, not CE interfaces to quarantine.
	espDevs, kernelDevs := map[netip.Addr]string{}, map[netip.Addr]string{}
	gwState, gwRemotes := s, remotePEs(s)
	if b.kesp != nil {
		var gwTunnels map[netip.Addr]*fib.Tunnel
		kernelDevs, gwTunnels = b.kesp.apply(s.LocalAddress, s.Tunnels)
		gwRemotes = slices.DeleteFunc(gwRemotes, func(a netip.Addr) bool { _, k := kernelDevs[a]; return k })
		maps.Copy(espDevs, kernelDevs)
		rest := *s
		rest.Tunnels = gwTunnels
		gwState = &rest
	}
	var attDevs map[string]string
	if b.esp != nil {
		tuns, atts, err := b.esp.Apply(ctx, gwState, gwRemotes)
		errs = append(errs, err)
		maps.Copy(espDevs, tuns)
		attDevs = atts
		for _, dev := range attDevs {
			enslaved[dev] = true
		}
	}
	first := !b.applied
	b.applied = true
	if first {
		errs = append(errs, b.releaseQuarantine(enslaved))
	}
	errs = append(errs, b.retireUnnamed(enslaved, first), b.removeVRFDevices(s))
	if err := ctx.Err(); err != nil {
		return err
	}
	mplsIn := "" // every core interface
	if b.CarriesTunnels() {
		// Protected: MPLS input on the gateway's inbound TUN and the
		// kernel path's tunnels only (sysctlWrites), whether or not
		// the gateway is there.
		mplsIn = fib.ESPGatewayInbound
	}
	errs = append(errs, b.sysctls(s, enslaved, mplsIn))
	want := translate(s, routeDevices{VRFs: devs, ESP: b.CarriesTunnels(), ESPTUNs: espDevs, AttachmentTUNs: attDevs}, b.h)
	errs = append(errs, want.errs...)
	errs = append(errs, b.applyRoutes(want))
	if b.kesp != nil {
		// After the routes: none leads into what goes.
		errs = append(errs, b.kesp.removeStale(kernelDevs))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kernel: %w", err)
	}
	return nil
}

// removeVRFDevices deletes VRF devices named like ours that s does not
// have. retireUnnamed has moved their interfaces out (quarantine.go); a
// device that still has one (moving it failed) stays, rather than hand
// it to the main table.
func (b *Backend) removeVRFDevices(s *fib.State) error {
	keep := map[string]bool{}
	for name := range s.VRFs {
		keep[fib.VRFDevice(name)] = true
	}
	links, err := b.h.LinkList()
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range links {
		if _, ok := l.(*netlink.Vrf); ok && strings.HasPrefix(l.Attrs().Name, "vrf-") && !keep[l.Attrs().Name] {
			if slices.ContainsFunc(links, func(s netlink.Link) bool { return s.Attrs().MasterIndex == l.Attrs().Index }) {
				errs = append(errs, fmt.Errorf("vrf device %s kept: it still has an interface", l.Attrs().Name))
				continue
			}
			errs = append(errs, b.h.LinkDel(l))
		}
	}
	return errors.Join(errs...)
}

// sysctls writes sysctlWrites' settings into the namespace's /proc/sys.
func (b *Backend) sysctls(s *fib.State, ce map[string]bool, espIn string) error {
	links, err := b.h.LinkList()
	if err != nil {
		return err
	}
	writes := sysctlWrites(s, links, ce, espIn)
	b.explicitNulls(links, writes)
	return b.inNS(func() error {
		var errs []error
		for k, v := range writes {
			// A setting already so is not written again: writing
			// net.mpls.platform_labels, even unchanged, swaps the label
			// table and waits for an RCU grace period.
			if cur, err := os.ReadFile("/proc/sys/" + k); err == nil && strings.TrimSpace(string(cur)) == v {
				continue
			}
			err := os.WriteFile("/proc/sys/"+k, []byte(v+"\n"), 0o644)
			if v == "0" && errors.Is(err, fs.ErrNotExist) {
				continue // a device MPLS does not know has no input to turn off
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(k, "/", "."), v, err))
			}
		}
		return errors.Join(errs...)
	})
}

// sysctlWrites is what Apply writes under /proc/sys, by path: forwarding
// on, the label space sized, and MPLS input (net.mpls.conf.IF.input) per
// interface of links:
//
//   - with State.MPLSInterfaces: 1 on those and on espIn (the ESP
//     gateway's inbound TUN, if any), 0 on every other interface;
//   - else with espIn: 1 on espIn alone, 0 elsewhere;
//   - else (no IPsec, no core named): 1 on every interface that is not a
//     CE interface (ce), a VRF device, a quarantined CE interface or lo;
//   - and 1 on lo whenever the State has LocalTransportLabels: translate
//     pops them to lo, and the kernel takes the VPN label beneath from
//     there. Only this host sends on lo.
//
// A CE interface never gets input 1: a labelled packet from a CE must not
// reach a VRF (config validation keeps CE interfaces out of
// mpls-interfaces).
func sysctlWrites(s *fib.State, links []netlink.Link, ce map[string]bool, espIn string) map[string]string {
	writes := map[string]string{
		"net/ipv4/ip_forward":             "1",
		"net/ipv6/conf/all/forwarding":    "1",
		"net/mpls/platform_labels":        fmt.Sprint(int(maxLabel(s)) + 1),
		"net/ipv4/conf/all/rp_filter":     "0",
		"net/ipv4/conf/default/rp_filter": "0",
	}
	vrfDevs := map[int]bool{} // a quarantined CE interface is no core interface either
	for _, l := range links {
		if _, isVRF := l.(*netlink.Vrf); isVRF {
			vrfDevs[l.Attrs().Index] = true
		}
	}
	onOff := map[bool]string{true: "1", false: "0"}
	for _, l := range links {
		name := l.Attrs().Name
		key := "net/mpls/conf/" + name + "/input"
		switch {
		case name == "lo" && len(s.LocalTransportLabels) > 0:
			writes[key] = "1" // where our own transport labels are popped to (translate)
		case strings.HasPrefix(name, kernelDevPrefix):
			writes[key] = "1" // the kernel path's tunnels: XFRM opened what they take
		case len(s.MPLSInterfaces) > 0:
			on := (name == espIn || slices.Contains(s.MPLSInterfaces, name)) && !ce[name]
			writes[key] = onOff[on]
		case espIn != "":
			writes[key] = onOff[name == espIn]
		default:
			if _, isVRF := l.(*netlink.Vrf); isVRF || ce[name] || vrfDevs[l.Attrs().MasterIndex] || name == "lo" {
				continue
			}
			writes[key] = "1"
		}
	}
	return writes
}

// remotePEs lists the remote PEs the VRF routes of s lead to, but for
// unprotected ones (their traffic goes over the core, not the Gateway).
func remotePEs(s *fib.State) []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, v := range s.VRFs {
		for _, r := range v.Routes {
			if r.IsRemote() && !seen[r.Remote.Unmap()] && !s.IsUnprotected(r.Remote) {
				seen[r.Remote.Unmap()] = true
				out = append(out, r.Remote.Unmap())
			}
		}
	}
	return out
}

// maxLabel is the largest local label of s (VPN or own transport), at
// least the first unreserved one.
func maxLabel(s *fib.State) mpls.Label {
	m := mpls.Label(16)
	for l := range s.Labels {
		m = max(m, l)
	}
	for _, l := range s.LocalTransportLabels {
		m = max(m, l)
	}
	return m
}

// inNS runs f with the calling thread in the backend's namespace, for the
// /proc/sys files, which belong to the namespace of whoever opens them.
func (b *Backend) inNS(f func() error) error {
	if !b.ns.IsOpen() {
		return f()
	}
	return onThreadIn(b.ns, f)
}
