package userspace

import (
	"net/netip"
	"sync/atomic"

	"github.com/peregrine-net/peregrine/ipsec/esp"
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
	numDrops
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
}

// Drops counts dropped packets by reason.
type Drops struct {
	NoRoute      uint64 // no route in the VRF (or a local one: a routing loop)
	NoTunnel     uint64 // the remote PE has no tunnel
	NoSA         uint64 // the tunnel has no outbound SA: never sent in clear
	SealError    uint64 // ESP seal failed (sequence numbers exhausted: rekey)
	UnknownLabel uint64 // label not in the LFIB, or more than one label
	TTLExpired   uint64 // label TTL 0
	Malformed    uint64 // not IP, truncated, bad label stack
	OpenFailed   uint64 // ESP open failed: unknown SPI, bad ICV, replay (see SA counters)
	NotMPLS      uint64 // ESP next header other than 137
	TxError      uint64 // writing to the socket or the TUN failed
	TooBig       uint64 // larger than the MTU, DF or IPv6: answered with ICMP
}

func dropsFrom(c *[numDrops]atomic.Uint64) Drops {
	return Drops{
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
	}
}

// VRFCounters are one VRF's packet counters. Out is CE to core (sealed
// and sent), In is core to CE (opened and written to the TUN); bytes are
// inner IP bytes.
type VRFCounters struct {
	OutPackets, OutBytes uint64
	InPackets, InBytes   uint64
	OutDrops, InDrops    Drops
	// ICMPTooBig counts the ICMP errors sent for TooBig drops (at most
	// one per millisecond per VRF).
	ICMPTooBig uint64
}

// SACounters are one SA's counters, with the tunnel it belongs to. An
// outbound SA is named by Remote and SPI together: two tunnels may send
// under one SPI, since each remote PE picks the SPI it receives on.
type SACounters struct {
	Remote   netip.Addr
	Outbound bool
	SPI      uint32
	esp.Counters
	// Outbound SAs only: LastSeq is the last sequence number sealed, and
	// NeedsRekey is esp.SA.NeedsRekey (the soft limit is passed: an IKE
	// SA should be rekeyed before sealing stops at the hard one).
	LastSeq    uint64
	NeedsRekey bool
}

// Stats is a snapshot of the backend's counters. Each number is read
// atomically; the snapshot as a whole is not one instant.
type Stats struct {
	VRFs map[string]VRFCounters
	// Devices are a Gateway's TUN devices (gateway.go), counted as VRFs
	// are: one per remote PE (out: MPLS packets sealed toward it) and the
	// inbound one (in: MPLS packets opened and handed to the kernel).
	Devices map[string]VRFCounters
	SAs     []SACounters
	// Inbound drops before the label named a VRF.
	Inbound Drops
	// UnknownSPI and Truncated are the esp.InboundTable's own drops.
	UnknownSPI, Truncated uint64
	// IKE messages handed to Options.IKE (or dropped without one), and
	// NAT-keepalives ignored, on UDP port 4500.
	IKE, Keepalives uint64
}

func (v *vrf) stats() VRFCounters {
	c := &v.cnt
	return VRFCounters{
		OutPackets: c.outPackets.Load(), OutBytes: c.outBytes.Load(),
		InPackets: c.inPackets.Load(), InBytes: c.inBytes.Load(),
		OutDrops: dropsFrom(&c.outDrops), InDrops: dropsFrom(&c.inDrops),
		ICMPTooBig: c.tooBigSent.Load(),
	}
}

// flatten names every counter for fib.Counterer, as "vrf red out packets",
// "vrf red in drop no-sa", "sa 0x00001001 out sealed packets".
func (s Stats) flatten() map[string]uint64 {
	m := map[string]uint64{}
	addDrops := func(prefix string, d Drops) {
		for name, v := range map[string]uint64{
			"no-route": d.NoRoute, "no-tunnel": d.NoTunnel, "no-sa": d.NoSA,
			"seal-error": d.SealError, "unknown-label": d.UnknownLabel,
			"ttl-expired": d.TTLExpired, "malformed": d.Malformed,
			"open-failed": d.OpenFailed, "not-mpls": d.NotMPLS, "tx-error": d.TxError, "too-big": d.TooBig,
		} {
			m[prefix+" drop "+name] = v
		}
	}
	addVRF := func(p string, c VRFCounters) {
		m[p+" out packets"], m[p+" out bytes"] = c.OutPackets, c.OutBytes
		m[p+" in packets"], m[p+" in bytes"] = c.InPackets, c.InBytes
		m[p+" out icmp too-big"] = c.ICMPTooBig
		addDrops(p+" out", c.OutDrops)
		addDrops(p+" in", c.InDrops)
	}
	for name, c := range s.VRFs {
		addVRF("vrf "+name, c)
	}
	for name, c := range s.Devices {
		addVRF("dev "+name, c)
	}
	addDrops("inbound", s.Inbound)
	m["inbound drop unknown-spi"] = s.UnknownSPI
	m["inbound drop truncated"] = s.Truncated
	m["inbound ike"], m["inbound keepalives"] = s.IKE, s.Keepalives
	for _, sa := range s.SAs {
		p := "sa 0x" + hex32(sa.SPI) + " in"
		if sa.Outbound {
			p = "sa 0x" + hex32(sa.SPI) + " out"
			m[p+" sealed packets"], m[p+" sealed bytes"] = sa.SealedPackets, sa.SealedBytes
			m[p+" seq exhausted"], m[p+" seal errors"] = sa.SeqExhausted, sa.SealErrors
			continue
		}
		m[p+" opened packets"], m[p+" opened bytes"] = sa.OpenedPackets, sa.OpenedBytes
		m[p+" auth failed"], m[p+" replayed"], m[p+" too old"] = sa.AuthFailed, sa.Replayed, sa.TooOld
		m[p+" bad padding"], m[p+" malformed"] = sa.BadPadding, sa.Malformed
	}
	return m
}

func hex32(v uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}
