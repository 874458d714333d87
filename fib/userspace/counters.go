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
// VRF's TUN reader, the inbound half by the socket readers.
type vrfCounters struct {
	outPackets, outBytes atomic.Uint64
	outDrops             [numDrops]atomic.Uint64
	tooBigSent           atomic.Uint64 // ICMP errors sent for dropTooBig
	_                    pad
	inPackets, inBytes   atomic.Uint64
	inDrops              [numDrops]atomic.Uint64
	_                    pad
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
	return fib.VRFCounters{
		OutPackets: c.outPackets.Load(), OutBytes: c.outBytes.Load(),
		InPackets: c.inPackets.Load(), InBytes: c.inBytes.Load(),
		OutDrops: dropsFrom(&c.outDrops), InDrops: dropsFrom(&c.inDrops),
		ICMPTooBig: c.tooBigSent.Load(),
	}
}
