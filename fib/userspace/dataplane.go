package userspace

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/gaissmai/bart"
	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
	"github.com/peregrine-net/peregrine/mpls"
	"golang.zx2c4.com/wireguard/tun"
)

// dataplane is the fast path's state. The packet path reads it through
// atomic pointers to immutable values and takes no lock; update, called by
// Apply's goroutine only, builds new values and publishes them (copy on
// write). Objects that carry state a packet changes (SAs: sequence numbers,
// replay windows; VRFs and peers: counters) live as long as the State keeps
// them, across updates.
type dataplane struct {
	mode mpls.TTLMode
	// mtu is the largest inner packet sent whole (toobig.go); 0: no limit.
	mtu int
	// ike receives IKE messages from UDP port 4500; nil drops them.
	ike func(from netip.AddrPort, msg []byte)
	// labeled, set for a Gateway only, receives every opened MPLS
	// packet whole (the kernel pops its labels); nil: inbound pops the
	// label and finds the VRF in lfib.
	labeled *vrf
	// seqs persists manually keyed outbound SAs' sequence numbers; nil:
	// such SAs cannot be made (their tunnels stay closed).
	seqs *seqstore.Store

	// Read by the packet path.
	lfib atomic.Pointer[map[mpls.Label]*vrf]
	spis esptransport.InboundTable // inbound SAs by SPI
	// inLanes are the lanes of the inbound SAs of per-resource tunnels
	// (RFC 9611) but lane 0, by SPI: the lane of the outbound SA of the
	// same resource, whose TUN queue (device.queue) the packets they
	// open are written on. An SPI not in it is lane 0.
	inLanes atomic.Pointer[map[uint32]int]
	// attIn are the attachments' inbound SAs by SPI (attach.go), kept
	// apart from spis.
	attIn atomic.Pointer[map[uint32]*attachIn]
	// ahSPIs are the inbound AH SAs by SPI (ah.go).
	ahSPIs atomic.Pointer[map[uint32]*ah.SA]
	cnt    globalCounters

	// Owned by update's and installTunnels' caller (Backend.tunMu).
	vrfs   map[string]*vrf
	peers  map[netip.Addr]*peer
	inSAs  map[uint32]*heldSA  // SPI -> SA in the inbound table
	outSAs map[outKey]*heldSA  // tunnel -> SA (tunnels.go)
	hops   map[hopKey]*nextHop // interned next hops
	// pinned are remote PEs a Gateway keeps a peer for (its TUN per
	// PE) whether or not routes or tunnels name them.
	pinned map[netip.Addr]bool
	// plains are the unprotected peers' ways out (plain.go), kept across
	// updates so the resolver's work survives them.
	plains map[netip.Addr]*plainOut
	// atts and attInSAs are the IPsec attachments and their inbound
	// SAs (attach.go); their outbound SAs are in outSAs.
	atts     map[string]*attachment
	attInSAs map[uint32]*heldSA
	// ahOut and ahInSAs are the AH tunnels' SAs (ah.go).
	ahOut   map[outKey]*heldAH
	ahInSAs map[uint32]*heldAH
	// tunnelsVersion is the fib.State.TunnelsVersion of the tunnels and
	// attachments installed, and tunnelRemotes their remote PEs.
	tunnelsVersion uint64
	tunnelRemotes  map[netip.Addr]bool
}

// vrf is one VRF in the fast path.
type vrf struct {
	name   string
	routes atomic.Pointer[routeTable]
	// dev is the VRF's TUN; nil in unit tests, or while it cannot be
	// made (inbound packets for the VRF are then dropped).
	dev     atomic.Pointer[device]
	applied *fib.VRF // the State's VRF that routes was built from
	// addrs are the source addresses of the VRF's ICMP errors; nil
	// until Apply finds an address on a CE interface.
	addrs      atomic.Pointer[localAddrs]
	lastTooBig atomic.Int64 // unix nanoseconds of the last ICMP error
	cnt        vrfCounters
}

// device is a TUN, boxed for atomic.Pointer: Device, and, for a
// multi-queue TUN, each of its queues, queues[0] being Device.
//
// Inbound packets are written on the queue of the lane of the SA that
// opened them (queue): the kernel's multi-queue TUN learns each flow's
// queue from the packets written to it (tun_flow_update) and sends the
// flow's packets back out to that queue, whose reader seals them with the
// same lane's SA (tunnelOut.forSeal). So a flow's two directions take one
// SA pair, the one its first packet chose, and the pairs of a per-resource
// tunnel (RFC 9611) each carry their flows, where writing every packet on
// one queue pinned every flow with replies to lane 0.
type device struct {
	tun.Device
	queues []tun.Device
}

// queue returns the queue to write lane's packets on.
func (d *device) queue(lane int) tun.Device {
	if len(d.queues) < 2 || lane <= 0 {
		return d.Device
	}
	return d.queues[lane%len(d.queues)]
}

// routeTable is a VRF's longest-prefix-match table.
type routeTable = bart.Table[*nextHop]

// maxLabels is the deepest label stack a route may push.
const maxLabels = 4

// nextHop is what a route resolves to. Routes with the same remote PE and
// labels share one (they are interned), which keeps a million-route table
// small. A local route has a nil peer: its packets are the kernel's to
// deliver, and one that reaches the TUN is dropped rather than looped.
type nextHop struct {
	peer   *peer
	labels []mpls.Label // outermost first, as in fib.Route
	// refs counts the routes that hold the hop (hops.go); only update's
	// goroutine touches it.
	refs int
}

type hopKey struct {
	remote netip.Addr
	labels [maxLabels]mpls.Label
	n      int
}

var localHop = &nextHop{}

// peer is a remote PE. Routes point at it; its tunnel changes without
// touching them.
type peer struct {
	remote netip.Addr
	out    atomic.Pointer[tunnelOut] // nil: no tunnel
	// hops counts the next hops that lead to the peer (hops.go); only
	// update's goroutine touches it.
	hops int
}

// tunnelOut is how packets leave toward a peer. Immutable once published.
type tunnelOut struct {
	remote netip.Addr
	sa     *esp.SA // nil: the tunnel has no outbound ESP SA yet
	// more are the tunnel's other per-resource outbound SAs (RFC 9611,
	// fib.Tunnel.Resources), beside sa: a packet read from TUN queue q
	// is sealed by lane q of [sa, more...] (forSeal), so each flow, which
	// the kernel keeps on one queue, stays on one SA and in order.
	more []*esp.SA
	// ah, set instead of sa for an AH tunnel (ah.go), seals toward
	// remote from src.
	ah  *ah.SA
	src netip.Addr
	udp bool // ESP-in-UDP to port 4500, else raw ESP
	dst esptransport.Dest
	// extra is how many bytes more than an AEAD's overhead sa's suite
	// may add (extraOverhead): the tunnel's inner MTU is that much
	// below Options.MTU (pathMTU).
	extra int
	// plain is set for an unprotected peer (plain.go): packets leave as
	// plain MPLS over a core interface, never through sa.
	plain *plainOut
	// att is set for an IPsec attachment's way out (attach.go): sa
	// seals the inner packet in tunnel mode, without labels.
	att *attachment
	// transport, if hasTransport, is pushed above the route's labels on
	// plain MPLS (fib.State.TransportLabels): the label P routers switch
	// toward the peer.
	transport    mpls.Label
	hasTransport bool
}

// heldSA is an SA with what it was made from, so that an update with the
// same key keeps it (and its sequence number or replay window) instead of
// making a new one (tunnels.go).
type heldSA struct {
	sa     *esp.SA
	remote netip.Addr
	cipher esp.Cipher
	esn    bool
	keySum [sha256.Size]byte // of the key: no copy of the key is held
	// res is a manually keyed outbound SA's sequence reservation.
	res *seqstore.Reservation
}

func newDataplane(mode mpls.TTLMode, ike func(netip.AddrPort, []byte), mtu int) *dataplane {
	d := &dataplane{
		mode: mode, ike: ike, mtu: mtu,
		vrfs: map[string]*vrf{}, peers: map[netip.Addr]*peer{},
		inSAs: map[uint32]*heldSA{}, outSAs: map[outKey]*heldSA{},
		hops: map[hopKey]*nextHop{}, plains: map[netip.Addr]*plainOut{},
		atts: map[string]*attachment{}, attInSAs: map[uint32]*heldSA{},
		ahOut: map[outKey]*heldAH{}, ahInSAs: map[uint32]*heldAH{},
	}
	noAH := map[uint32]*ah.SA{}
	d.ahSPIs.Store(&noAH)
	empty := map[mpls.Label]*vrf{}
	d.lfib.Store(&empty)
	noAtts := map[uint32]*attachIn{}
	d.attIn.Store(&noAtts)
	noLanes := map[uint32]int{}
	d.inLanes.Store(&noLanes)
	return d
}

// update makes the fast path forward by s. VRFs that s adds come back in
// added (without a device: the caller attaches one and starts its reader)
// and those it drops in removed (the caller closes their devices). It
// returns every problem it met, having done all it could: an SA that cannot
// be made leaves its tunnel without it, so its traffic is dropped.
func (d *dataplane) update(s *fib.State, devs map[string]*device) (added, removed []*vrf, err error) {
	var errs []error
	for name, fv := range s.VRFs {
		v := d.vrfs[name]
		if v == nil {
			v = &vrf{name: name}
			v.routes.Store(new(routeTable))
			d.vrfs[name] = v
			added = append(added, v)
		}
		if dev := devs[name]; dev != nil && v.dev.Load() == nil {
			v.dev.Store(dev)
		}
		if v.applied != fv {
			t, e := d.buildTable(v.routes.Load(), v.applied, fv)
			errs = append(errs, e...)
			v.routes.Store(t)
			v.applied = fv
		}
	}
	for name, v := range d.vrfs {
		if _, ok := s.VRFs[name]; !ok {
			if v.applied != nil {
				for _, r := range v.applied.Routes {
					d.unref(r)
				}
			}
			removed = append(removed, v)
			delete(d.vrfs, name)
		}
	}
	errs = append(errs, d.installTunnels(s)...)
	d.forgetPeers()
	d.forgetPlains()

	lf := make(map[mpls.Label]*vrf, len(s.Labels))
	for l, a := range s.Labels {
		v := d.vrfs[a.VRF]
		if v == nil {
			errs = append(errs, fmt.Errorf("label %d: VRF %q is not in the state", l, a.VRF))
			continue
		}
		// PopForward needs no lookup of its own here: the kernel routes
		// what the TUN delivers by the VRF's table either way.
		lf[l] = v
	}
	for _, l := range s.LocalTransportLabels {
		if _, isVPN := lf[l]; !isVPN { // config keeps them apart; the VPN label wins
			lf[l] = ownTransport
		}
	}
	d.lfib.Store(&lf)
	return added, removed, errors.Join(errs...)
}
