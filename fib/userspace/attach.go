package userspace

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/esp"
	"github.com/peregrine-net/peregrine/ipsec/esptransport"
)

// IPsec attachments (fib.Attachment): a customer site's tunnel-mode SAs
// into one VRF.
//
//	site gateway --> UDP 4500 socket --> inbound: SPI in attIn?
//	   yes: attachment SA Open; next header 4 or 41 (an IP packet, never
//	        a label stack); inner source within the SA's site prefixes
//	        and destination within its local prefixes, else drop
//	        (ts-violation, RFC 4301 section 5.2); TTL > 1; into the
//	        attachment's VRF's TUN, where the kernel routes it by the
//	        VRF's table (to a CE, or back into the TUN toward a PE)
//	   no:  the PE path (receive.go)
//
//	VRF TUN --> outbound: route "site prefix -> attachment" --> the
//	   attachment's peer: Seal the IP packet as it is, next header 4 or
//	   41, and send it to the gateway (ESP-in-UDP to its port)
//
// The attachments' inbound SAs are in their own SPI map, never in the PE
// table (d.spis): a PE's SA cannot deliver into a VRF by address, and a
// gateway's cannot deliver a label stack into any VRF.

// The inner packet's protocol in tunnel mode (ESP's next header, RFC
// 4303 section 2.6).
const (
	protoIPv4 = esp.NextHeaderIPv4
	protoIPv6 = esp.NextHeaderIPv6
)

// attachment is one fib.Attachment in the fast path. It lives as long as
// the State names it; its SAs and policy change under it.
type attachment struct {
	name string
	// hop is what the VRF's routes to the site resolve to: its peer's
	// tunnelOut seals in tunnel mode (tunnelOut.att is set).
	hop    *nextHop
	policy atomic.Pointer[attachPolicy] // nil: nothing enters
	cnt    attachCounters
}

// attachPolicy is what an opened packet must meet: immutable once
// published.
type attachPolicy struct {
	v           *vrf
	site, local []netip.Prefix
	ts          tsPolicy // protocols and ports (attach_ts.go)
}

// attachIn is an inbound SA of an attachment.
type attachIn struct {
	sa  *esp.SA
	att *attachment
}

type attachCounters struct {
	inPackets, inBytes   atomic.Uint64
	tsViolation          atomic.Uint64
	openFailed, notIP    atomic.Uint64
	ttlExpired           atomic.Uint64
	_                    pad
	outPackets, outBytes atomic.Uint64
	outTSViolation       atomic.Uint64
	noSA                 atomic.Uint64
	_                    pad
}

func (a *attachment) stats() fib.AttachmentCounters {
	c := &a.cnt
	return fib.AttachmentCounters{
		InPackets: c.inPackets.Load(), InBytes: c.inBytes.Load(),
		OutPackets: c.outPackets.Load(), OutBytes: c.outBytes.Load(),
		TSViolation: c.tsViolation.Load() + c.outTSViolation.Load(),
		OpenFailed:  c.openFailed.Load(), NotIP: c.notIP.Load(), TTLExpired: c.ttlExpired.Load(), NoSA: c.noSA.Load(),
	}
}

// attachmentHop returns the next hop of the named attachment, making the
// attachment (sealing nothing yet) if it is new.
func (d *dataplane) attachmentHop(name string) *nextHop {
	a := d.atts[name]
	if a == nil {
		a = &attachment{name: name, hop: &nextHop{peer: &peer{}}}
		d.atts[name] = a
	}
	return a.hop
}

// attachmentSPI returns the attachment SA a packet's SPI names, or nil.
func (d *dataplane) attachmentSPI(buf []byte, off, n int) *attachIn {
	m := *d.attIn.Load()
	if len(m) == 0 || off < 0 || n < 4 || off > len(buf)-4 {
		return nil
	}
	return m[binary.BigEndian.Uint32(buf[off:])]
}

// fromAttachment opens an ESP packet of an attachment's SA and checks it
// against the SA's policy. It returns the VRF and the inner packet as
// inbound does, or why it dropped it (counted on the attachment and, as
// before a VRF is known, globally). It allocates nothing.
func (d *dataplane) fromAttachment(ai *attachIn, buf []byte, off, n int) (v *vrf, innerOff, innerLen int, why drop) {
	a := ai.att
	payload, nh, err := ai.sa.Open(buf, off, n)
	if err != nil {
		a.cnt.openFailed.Add(1)
		return nil, 0, 0, d.dropIn(dropOpen)
	}
	pol := a.policy.Load()
	if pol == nil {
		a.cnt.notIP.Add(1) // cannot happen: the SPI is published with a policy
		return nil, 0, 0, d.dropIn(dropNoRoute)
	}
	src, dst, ttlAt, ok := innerAddrs(payload, nh)
	if !ok {
		a.cnt.notIP.Add(1)
		return nil, 0, 0, d.dropIn(dropNotIP)
	}
	if !pol.allowsIn(payload, src, dst) {
		a.cnt.tsViolation.Add(1)
		return nil, 0, 0, d.dropIn(dropTSViolation)
	}
	// As for the PE path: the kernel would answer a packet that cannot
	// leave the TUN for want of TTL by the main table.
	if payload[ttlAt] <= 1 {
		a.cnt.ttlExpired.Add(1)
		return nil, 0, 0, d.dropIn(dropTTLExpired)
	}
	a.cnt.inPackets.Add(1)
	a.cnt.inBytes.Add(uint64(len(payload)))
	// And on the VRF, as toAttachment counts its way out: its TUN's
	// counters hold what was written into it.
	pol.v.cnt.inPackets.Add(1)
	pol.v.cnt.inBytes.Add(uint64(len(payload)))
	po := off + esp.HeaderLen + ai.sa.Cipher().IVLen()
	return pol.v, po, len(payload), dropNone
}

// innerAddrs reads the addresses of the IP packet p that ESP's next
// header nh says it is, and where its TTL (or hop limit) is.
func innerAddrs(p []byte, nh uint8) (src, dst netip.Addr, ttlAt int, ok bool) {
	switch {
	case nh == protoIPv4 && len(p) >= ipv4HeaderLen && p[0]>>4 == 4 && int(p[0]&0x0f)*4 >= ipv4HeaderLen &&
		int(binary.BigEndian.Uint16(p[2:])) <= len(p):
		return netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20])), 8, true
	case nh == protoIPv6 && len(p) >= ipv6HeaderLen && p[0]>>4 == 6:
		return netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40])), 7, true
	}
	return netip.Addr{}, netip.Addr{}, 0, false
}

func prefixesHold(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// toAttachment seals the inner packet buf[off:off+n] read from v's TUN
// for the attachment t leads to, in tunnel mode: the packet as it is,
// next header 4 or 41. src is its source, which must lie in the SA's
// local prefixes. It allocates nothing.
func (d *dataplane) toAttachment(v *vrf, t *tunnelOut, buf []byte, off, n int, src netip.Addr, ttl uint8) ([]byte, drop) {
	a := t.att
	if pol := a.policy.Load(); pol == nil || !pol.allowsOut(buf[off:off+n], src) {
		a.cnt.outTSViolation.Add(1)
		return nil, v.dropOut(dropTSViolation)
	}
	if ttl == 0 {
		return nil, v.dropOut(dropTTLExpired)
	}
	nh := uint8(protoIPv4)
	if buf[off]>>4 == 6 {
		nh = protoIPv6
	}
	pkt, err := t.sa.Seal(buf, off, n, nh)
	if err != nil {
		return nil, v.dropOut(dropSealError)
	}
	a.cnt.outPackets.Add(1)
	a.cnt.outBytes.Add(uint64(n))
	v.cnt.outPackets.Add(1)
	v.cnt.outBytes.Add(uint64(n))
	return pkt, dropNone
}

// updateAttachments brings the attachments in line with s.Attachments:
// each one's outbound SA, its inbound SAs in the attachment SPI map and
// its policy. VRF routes may already name them (attachmentHop); those s
// drops stop sealing (fail closed) and are forgotten.
func (d *dataplane) updateAttachments(s *fib.State) []error {
	var errs []error
	for k, h := range d.outSAs {
		if k.att == "" {
			continue
		}
		if a := s.Attachments[k.att]; a == nil || a.Out == nil || a.Out.SPI != k.spi || a.Remote.Addr().Unmap() != k.remote {
			h.release()
			delete(d.outSAs, k)
		}
	}
	in := map[uint32]*attachIn{}
	for name, fa := range s.Attachments {
		d.attachmentHop(name)
		a := d.atts[name]
		gw := fa.Remote.Addr().Unmap()
		v := d.vrfs[fa.VRF]
		if v == nil {
			errs = append(errs, fmt.Errorf("attachment %s: VRF %q is not in the state", name, fa.VRF))
			a.policy.Store(nil)
			a.hop.peer.out.Store(nil)
			continue
		}
		a.policy.Store(&attachPolicy{v: v, site: fa.SitePrefixes, local: fa.LocalPrefixes, ts: newTSPolicy(fa)})
		port := fa.Remote.Port()
		if port == 0 {
			port = 4500
		}
		out := &tunnelOut{remote: gw, udp: fa.UDP, att: a}
		if fa.UDP {
			out.dst = esptransport.DestUDP(netip.AddrPortFrom(gw, port))
		} else {
			out.dst = esptransport.DestOf(gw, false)
		}
		if fa.Out != nil {
			h, err := d.keepOutbound(outKey{remote: gw, spi: fa.Out.SPI, att: name}, fa.Out)
			if err != nil {
				errs = append(errs, fmt.Errorf("attachment %s: outbound SA: %w", name, err))
			} else {
				out.sa = h.sa
				out.extra = extraOverhead(h.sa.Cipher())
			}
		}
		a.hop.peer.out.Store(out)
		for _, p := range append([]*fib.SAParams{fa.In}, fa.RetiringIn...) {
			if p == nil {
				continue
			}
			h, err := d.keepAttachInbound(p, gw)
			if err != nil {
				errs = append(errs, fmt.Errorf("attachment %s: inbound SA: %w", name, err))
				continue
			}
			in[p.SPI] = &attachIn{sa: h.sa, att: a}
		}
	}
	for spi := range d.attInSAs {
		if in[spi] == nil {
			delete(d.attInSAs, spi)
		}
	}
	d.attIn.Store(&in)
	for name, a := range d.atts {
		if s.Attachments[name] == nil {
			a.hop.peer.out.Store(nil) // whoever still holds it drops: fail closed
			a.policy.Store(nil)
			delete(d.atts, name)
		}
	}
	return errs
}

// keepAttachInbound holds an attachment's inbound SA p, made again only
// for a new key (as keepInbound does for the PE table).
func (d *dataplane) keepAttachInbound(p *fib.SAParams, remote netip.Addr) (*heldSA, error) {
	sum := keySum(p.Key)
	if old := d.attInSAs[p.SPI]; old != nil && old.sameSealing(p, &sum) {
		old.remote = remote
		return old, nil
	}
	sa, err := esp.NewSA(esp.Config{SPI: p.SPI, Cipher: p.Cipher, Key: p.Key, ESN: p.ESN, ReplayWindow: p.ReplayWindow})
	if err != nil {
		delete(d.attInSAs, p.SPI)
		return nil, err
	}
	h := &heldSA{sa: sa, remote: remote, cipher: p.Cipher, esn: p.ESN, keySum: sum}
	d.attInSAs[p.SPI] = h
	return h, nil
}

// attachStats returns every attachment's counters and the SA counters of
// their inbound SAs (outbound ones are in d.outSAs).
func (d *dataplane) attachStats() (map[string]fib.AttachmentCounters, []fib.SACounters) {
	m := make(map[string]fib.AttachmentCounters, len(d.atts))
	for name, a := range d.atts {
		m[name] = a.stats()
	}
	var sas []fib.SACounters
	for spi, h := range d.attInSAs {
		sas = append(sas, fib.SACounters{Remote: h.remote, SPI: spi, Counters: h.sa.Counters()})
	}
	return m, sas
}
