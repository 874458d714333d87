package userspace

import (
	"sync/atomic"

	"github.com/peregrine-net/peregrine/fib"
)

// drop is why the fast path dropped a packet; 0 means it did not.
type drop uint8

const (
	dropNone         drop = iota
	dropNoRoute           // no route in the VRF, or a local route (the kernel should have delivered it)
	dropNoTunnel          // the remote PE has no tunnel in the State
	dropNoSA              // the tunnel has no outbound SA: fail closed
	dropSealError         // esp Seal failed (sequence space exhausted, or a bug)
	dropUnknownLabel      // no LFIB entry, or a label stack deeper than one
	dropTTLExpired        // label TTL 0
	dropMalformed         // not an IP packet, truncated datagram, bad MPLS
	dropOpen              // ESP Open failed: unknown SPI, authentication, replay (details per SA)
	dropNotMPLS           // ESP next header is not 137
	dropTx                // the socket or TUN write failed
	dropTooBig            // larger than Options.MTU and not to be fragmented (ICMP sent, toobig.go)
	dropNoNeighbor        // plain MPLS: the next hop's MAC address is not known yet (plain.go)
	dropTSViolation       // an attachment's packet outside its SA's traffic selectors (attach.go)
	dropNotIP             // an attachment's ESP next header is not 4 or 41, or the inner packet is malformed
	dropBadSource         // plain MPLS: a frame from a MAC that is no unprotected peer's next hop (plain.go)
	numDrops
	// dropOtherHost is a frame a core's packet socket saw that is not
	// addressed to this host: not forwarded, and not counted.
	dropOtherHost = numDrops
)

// pad keeps counters written by different goroutines on different cache
// lines.
type pad [64]byte

// vrfCounters are one VRF's counters: the outbound half is written by the
// VRF's TUN readers (one per queue), the inbound half by the socket
// readers. The ESP paths, which several goroutines run at once for one
// VRF, count packets in shards (outLanes by TUN queue, inSAs by SPI);
// the other paths in outPackets and inPackets. Stats adds them up.
type vrfCounters struct {
	outPackets, outBytes atomic.Uint64
	outDrops             [numDrops]atomic.Uint64
	tooBigSent           atomic.Uint64 // ICMP errors sent for dropTooBig
	_                    pad
	inPackets, inBytes   atomic.Uint64
	inDrops              [numDrops]atomic.Uint64
	_                    pad
	outLanes, inSAs      shardedCount
}

// countShards is how many cache lines a shardedCount spreads over.
const countShards = 8

// shardedCount is a packet and a byte count that several goroutines add
// to at once, each in its own shard (cache line), so that counting does
// not bounce one line between cores on every packet: with per-resource
// SAs (RFC 9611) one VRF's ESP is opened on several cores, each SA's by
// the receive socket its SPI picks, and sealed by each TUN queue's
// reader. A shard by SPI (inbound) or by TUN queue (outbound) keeps
// those goroutines on different lines.
type shardedCount [countShards]struct {
	packets, bytes atomic.Uint64
	_              [48]byte
}

// add counts one packet of n bytes in shard k (mod countShards).
func (c *shardedCount) add(k uint32, n int) {
	s := &c[k%countShards]
	s.packets.Add(1)
	s.bytes.Add(uint64(n))
}

// sum returns the counts of every shard added up.
func (c *shardedCount) sum() (packets, bytes uint64) {
	for i := range c {
		packets += c[i].packets.Load()
		bytes += c[i].bytes.Load()
	}
	return packets, bytes
}

// globalCounters count what happens before a packet has a VRF.
type globalCounters struct {
	drops      [numDrops]atomic.Uint64
	ike        atomic.Uint64
	keepalives atomic.Uint64
	plainIn    atomic.Uint64 // MPLS frames received on core interfaces
	// ahUnknownSPI counts AH packets for no inbound AH SA (ah.go).
	ahUnknownSPI atomic.Uint64
}

func dropsFrom(c *[numDrops]atomic.Uint64) fib.Drops {
	return fib.Drops{
		NoRoute:      c[dropNoRoute].Load(),
		NoTunnel:     c[dropNoTunnel].Load(),
		NoSA:         c[dropNoSA].Load(),
		SealError:    c[dropSealError].Load(),
		UnknownLabel: c[dropUnknownLabel].Load(),
		TTLExpired:   c[dropTTLExpired].Load(),
		Malformed:    c[dropMalformed].Load(),
		OpenFailed:   c[dropOpen].Load(),
		NotMPLS:      c[dropNotMPLS].Load(),
		TxError:      c[dropTx].Load(),
		TooBig:       c[dropTooBig].Load(),
		NoNeighbor:   c[dropNoNeighbor].Load(),
		BadSource:    c[dropBadSource].Load(),
	}
}

func (v *vrf) stats() fib.VRFCounters {
	c := &v.cnt
	outP, outB := c.outLanes.sum()
	inP, inB := c.inSAs.sum()
	return fib.VRFCounters{
		OutPackets: c.outPackets.Load() + outP, OutBytes: c.outBytes.Load() + outB,
		InPackets: c.inPackets.Load() + inP, InBytes: c.inBytes.Load() + inB,
		OutDrops: dropsFrom(&c.outDrops), InDrops: dropsFrom(&c.inDrops),
		ICMPTooBig: c.tooBigSent.Load(),
	}
}
