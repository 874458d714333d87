package userspace

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ah"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/seqstore"
	"github.com/peregrine-net/peregrine/mpls"
)

// AH tunnels between PEs (RFC 4302): the tunnel's explicit choice of
// integrity without confidentiality (config ipsec.tunnels[].protocol ah).
// The label stack and the customer's packet cross the core readable,
// protected against change and replay.
//
//	outbound, per packet, in place:
//	   LPM, peer -> tunnel (as ESP)    tunnelOut.ah set: this path
//	   mpls.Push labels, TTL per mode
//	   ah.SA.SealTunnel: outer IPv4 or IPv6 local -> remote (written here,
//	        the ICV covers it), AH with next header 137, label stack, inner
//	   --> raw socket, protocol 51, IP_HDRINCL or IPV6_HDRINCL (ahsock.go)
//
//	inbound, per packet, in place:
//	   raw IPv4 socket, protocol 51: the kernel hands over the IP header,
//	        which the ICV covers; a raw IPv6 socket does not, so
//	        inboundAH6 rebuilds it from the addresses (its mutable
//	        fields are zero in the ICV anyway)
//	   SPI -> SA (ahSPIs snapshot)     unknown: drop (UnknownSPI)
//	   ah.SA.Open: lengths, replay window, ICV (constant time), window
//	        update; the outer addresses are under the ICV, so a packet
//	        from another source fails it
//	   next header 137, popToVRF (as ESP)
//
// AH cannot cross NAT: it covers the outer addresses, and RFC 3948 has no
// AH-in-UDP; AH packets always travel as IP protocol 51, whatever the
// tunnel's UDP setting. The kernel backend's gateway (gateway.go) seals
// and opens AH the same way, handing the MPLS packet to the kernel whole.

// heldAH is an AH SA with what it was made from (tunnels.go's lifetimes
// apply: made again only when its key changes).
type heldAH struct {
	sa     *ah.SA
	remote netip.Addr
	integ  ah.Integ
	esn    bool
	keySum [sha256.Size]byte
	res    *seqstore.Reservation // a manually keyed outbound SA's
}

func (h *heldAH) same(p *fib.SAParams, sum *[sha256.Size]byte) bool {
	return h.sa.SPI() == p.SPI && h.integ == p.AH && h.esn == p.ESN &&
		subtle.ConstantTimeCompare(h.keySum[:], sum[:]) == 1
}

// keepOutboundAH is keepOutbound for an AH SA: a manually keyed one
// continues above its persisted sequence, which for AES-GMAC is its IV.
func (d *dataplane) keepOutboundAH(k outKey, p *fib.SAParams) (*heldAH, error) {
	old := d.ahOut[k]
	sum := keySum(p.Key)
	if old != nil && old.same(p, &sum) && (old.res != nil) == p.PersistSequence {
		return old, nil
	}
	delete(d.ahOut, k)
	var last uint64
	if old != nil {
		old.res.Release()
		if subtle.ConstantTimeCompare(old.keySum[:], sum[:]) == 1 {
			last = old.sa.LastSeq()
		}
	}
	sa, err := ah.NewSA(ah.Config{SPI: p.SPI, Integ: p.AH, Key: p.Key, ESN: p.ESN,
		ManualKey: p.PersistSequence, InitialSeq: last})
	if err != nil {
		return nil, err
	}
	h := &heldAH{sa: sa, remote: k.remote, integ: p.AH, esn: p.ESN, keySum: sum}
	if h.res, err = d.persistSequence(sa, k.remote, p); err != nil {
		return nil, err
	}
	d.ahOut[k] = h
	return h, nil
}

// keepInboundAH holds the inbound AH SA p; publishAHIn then publishes the
// table.
func (d *dataplane) keepInboundAH(p *fib.SAParams, remote netip.Addr) error {
	old := d.ahInSAs[p.SPI]
	sum := keySum(p.Key)
	if old != nil && old.same(p, &sum) {
		old.remote = remote
		return nil
	}
	delete(d.ahInSAs, p.SPI)
	window := p.ReplayWindow
	sa, err := ah.NewSA(ah.Config{SPI: p.SPI, Integ: p.AH, Key: p.Key, ESN: p.ESN, ReplayWindow: window})
	if err != nil {
		return err
	}
	d.ahInSAs[p.SPI] = &heldAH{sa: sa, remote: remote, integ: p.AH, esn: p.ESN, keySum: sum}
	return nil
}

// publishAHIn drops the inbound AH SAs not in want and publishes the
// table the packet path reads (copy on write).
func (d *dataplane) publishAHIn(want map[uint32]bool) {
	m := make(map[uint32]*ah.SA, len(d.ahInSAs))
	for spi, h := range d.ahInSAs {
		if !want[spi] {
			delete(d.ahInSAs, spi)
			continue
		}
		m[spi] = h.sa
	}
	d.ahSPIs.Store(&m)
}

// releaseAHOut lets go of outbound AH SAs whose tunnel is gone, changed
// SPI or is no longer AH.
func (d *dataplane) releaseAHOut(tunnels map[netip.Addr]*fib.Tunnel) {
	for k, h := range d.ahOut {
		if t := tunnels[k.remote]; t == nil || !t.Out.IsAH() || t.Out.SPI != k.spi {
			h.res.Release()
			delete(d.ahOut, k)
		}
	}
}

// sealAH pushes hop's labels on the inner packet buf[off:off+n] and seals
// the stack in AH toward t's remote PE. It allocates nothing.
func (d *dataplane) sealAH(v *vrf, t *tunnelOut, hop *nextHop, buf []byte, off, n int, ttl uint8) ([]byte, *tunnelOut, drop) {
	if d.mode == mpls.Pipe {
		ttl = mpls.PipeTTL
	} else if ttl == 0 {
		return nil, nil, v.dropOut(dropTTLExpired)
	}
	start := off
	for i := len(hop.labels) - 1; i >= 0; i-- {
		var err error
		if start, err = mpls.Push(buf, start, hop.labels[i], 0, ttl, i == len(hop.labels)-1); err != nil {
			return nil, nil, v.dropOut(dropMalformed)
		}
	}
	pkt, err := t.ah.SealTunnel(buf, start, off+n-start, ah.NextHeaderMPLS, t.src, t.remote)
	if err != nil {
		return nil, nil, v.dropOut(dropSealError)
	}
	v.cnt.outPackets.Add(1)
	v.cnt.outBytes.Add(uint64(n))
	return pkt, t, dropNone
}

// inboundAH forwards one AH packet as a raw IPv4 socket receives it, IP
// header first, buf[off:off+n]. It allocates nothing.
func (d *dataplane) inboundAH(buf []byte, off, n int) (v *vrf, innerOff, innerLen int, why drop) {
	if n < ipv4HeaderLen+ah.FixedLen || buf[off] != 0x45 {
		return nil, 0, 0, d.dropIn(dropMalformed)
	}
	return d.openAH(buf, off, n, ipv4HeaderLen)
}

// inboundAH6 forwards one AH packet as a raw IPv6 socket receives it:
// buf[off:off+n] starts at the AH header, since the kernel keeps the IPv6
// header, and src is the sender the socket reported. It rebuilds that
// header in the ipv6HeaderLen bytes before off: version 6, payload
// length n, next header AH, src, dst (the address the socket is bound
// to), and zero traffic class, flow label and hop limit, the fields RFC
// 4302 section 3.3.3.1.2 zeroes for the ICV; so the rebuilt header
// authenticates exactly as the one on the wire did, and a packet whose
// addresses are not what the sender sealed fails the ICV. Extension
// headers the kernel took off before AH are not rebuilt: a packet that
// had any fails the ICV too (fail closed; ipsec/ah accepts none). It
// allocates nothing.
func (d *dataplane) inboundAH6(buf []byte, off, n int, src, dst netip.Addr) (v *vrf, innerOff, innerLen int, why drop) {
	if off < ipv6HeaderLen || n < ah.FixedLen || n > 0xffff || !src.Is6() || !dst.Is6() {
		return nil, 0, 0, d.dropIn(dropMalformed)
	}
	h := buf[off-ipv6HeaderLen : off]
	h[0], h[1], h[2], h[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(h[4:6], uint16(n))
	h[6], h[7] = ah.ProtoAH, 0
	s, d16 := src.As16(), dst.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d16[:])
	return d.openAH(buf, off-ipv6HeaderLen, n+ipv6HeaderLen, ipv6HeaderLen)
}

// openAH opens the AH packet buf[off:off+n], whose IP header is hl bytes,
// and forwards what it carries.
func (d *dataplane) openAH(buf []byte, off, n, hl int) (v *vrf, innerOff, innerLen int, why drop) {
	spi := binary.BigEndian.Uint32(buf[off+hl+4:])
	sa := (*d.ahSPIs.Load())[spi]
	if sa == nil {
		d.cnt.ahUnknownSPI.Add(1)
		return nil, 0, 0, d.dropIn(dropOpen)
	}
	payload, nh, err := sa.Open(buf, off, n)
	if err != nil {
		return nil, 0, 0, d.dropIn(dropOpen) // and counted in the SA's counters
	}
	if nh != ah.NextHeaderMPLS {
		return nil, 0, 0, d.dropIn(dropNotMPLS)
	}
	po := off + hl + (int(buf[off+hl+1])+2)*4
	if lv := d.labeled; lv != nil {
		lv.cnt.inPackets.Add(1)
		lv.cnt.inBytes.Add(uint64(len(payload)))
		return lv, po, len(payload), dropNone
	}
	return d.popToVRF(buf, po, len(payload), false)
}

// ahStats returns the AH SAs' counters, in esp.Counters' fields of the
// same names, marked with their transform.
func (d *dataplane) ahStats() []fib.SACounters {
	var out []fib.SACounters
	for k, h := range d.ahOut {
		out = append(out, fib.SACounters{Remote: h.remote, Outbound: true, SPI: k.spi, AH: h.integ,
			Counters: espCounters(h.sa.Counters()), LastSeq: h.sa.LastSeq(), NeedsRekey: h.sa.NeedsRekey()})
	}
	for spi, h := range d.ahInSAs {
		out = append(out, fib.SACounters{Remote: h.remote, SPI: spi, AH: h.integ, Counters: espCounters(h.sa.Counters())})
	}
	return out
}

func espCounters(c ah.Counters) esp.Counters {
	return esp.Counters{
		SealedPackets: c.SealedPackets, SealedBytes: c.SealedBytes, SeqExhausted: c.SeqExhausted, SealErrors: c.SealErrors,
		OpenedPackets: c.OpenedPackets, OpenedBytes: c.OpenedBytes, AuthFailed: c.AuthFailed, Replayed: c.Replayed,
		TooOld: c.TooOld, Malformed: c.Malformed,
	}
}

// The outbound buffers' headroom must hold an outer IPv6 header, the
// longest AH header and the labels; the AH reader's receive offset an
// IPv6 header before the TUN writer's headroom.
const (
	_ = uint(outHeadroom - (ipv6HeaderLen + ah.MaxHeaderLen + labelRoom))
	_ = uint(ahInHeadroom - (ipv6HeaderLen + inHeadroom))
)
