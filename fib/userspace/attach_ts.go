package userspace

import (
	"encoding/binary"
	"net/netip"

	"github.com/peregrine-net/peregrine/fib"
)

// Protocol and port selectors of an attachment's SA (RFC 4301 section
// 4.4.1.1, RFC 7296 section 3.13.1). While every negotiated selector is
// any protocol, any port (what strongSwan proposes by default), the check
// is the address check alone. Once one is narrower (say TCP, port 443),
// a packet must lie, on each side, in some selector of that side in
// address, protocol and port:
//
//   - site side: the inner source inbound, the destination outbound;
//     local side: the other address. The port of each side is that
//     address's port.
//   - TCP, UDP, SCTP, DCCP and UDP-Lite have ports. ICMP and ICMPv6 carry
//     type<<8 | code in the port range (RFC 4301 section 4.4.1.1); the
//     value is checked against the selectors of both sides, as a
//     selector names one value for the message, not one per side.
//   - A packet with no ports to read (a non-initial fragment, RFC 4301
//     section 7: it carries no transport header; another protocol; a
//     truncated header) matches only selectors that leave ports open:
//     under a port-narrowed selector it is dropped (ts-violation).
//     Fragments are not reassembled.
//   - IPv6 extension headers (hop-by-hop, routing, destination options,
//     fragment) are walked to the transport header, at most tsMaxExt.
//
// All of it reads the packet in place and allocates nothing.

// tsPolicy is the protocol and port part of an attachPolicy; its zero
// value (narrow false) leaves the address check alone.
type tsPolicy struct {
	narrow      bool
	site, local []fib.Selector
}

// newTSPolicy is fa's selectors, narrow if one of them names a protocol
// or a port range.
func newTSPolicy(fa *fib.Attachment) tsPolicy {
	p := tsPolicy{site: fa.SiteSelectors, local: fa.LocalSelectors}
	for _, ss := range [][]fib.Selector{p.site, p.local} {
		for _, s := range ss {
			if s.Protocol != 0 || !s.AnyPort() {
				p.narrow = true
			}
		}
	}
	return p
}

// allowsIn reports whether an opened packet pkt from src (the site) to
// dst may enter the VRF.
func (pol *attachPolicy) allowsIn(pkt []byte, src, dst netip.Addr) bool {
	if !pol.ts.narrow {
		return prefixesHold(pol.site, src) && prefixesHold(pol.local, dst)
	}
	l4 := readL4(pkt)
	return selectorsHold(pol.ts.site, src, l4, l4.srcPort) && selectorsHold(pol.ts.local, dst, l4, l4.dstPort)
}

// allowsOut reports whether the VRF's packet pkt from src may be sealed
// for the site.
func (pol *attachPolicy) allowsOut(pkt []byte, src netip.Addr) bool {
	if !pol.ts.narrow {
		return prefixesHold(pol.local, src)
	}
	dst, ok := packetDst(pkt)
	if !ok {
		return false
	}
	l4 := readL4(pkt)
	return selectorsHold(pol.ts.local, src, l4, l4.srcPort) && selectorsHold(pol.ts.site, dst, l4, l4.dstPort)
}

// l4Info is what readL4 found of a packet's transport header.
type l4Info struct {
	proto            uint8
	ok               bool // proto is known
	ports            bool // srcPort, dstPort hold ports, or ICMP's type<<8|code
	srcPort, dstPort uint16
}

// Protocols whose first four bytes are source and destination port.
var tsPortProtos = [256]bool{6: true, 17: true, 33: true, 132: true, 136: true}

// tsMaxExt bounds the IPv6 extension headers walked to the transport
// header.
const tsMaxExt = 8

// readL4 reads the transport protocol and ports of the IP packet pkt.
func readL4(pkt []byte) l4Info {
	var info l4Info
	if len(pkt) < 1 {
		return info
	}
	var at int
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < ipv4HeaderLen {
			return info
		}
		at = int(pkt[0]&0x0f) * 4
		info.proto, info.ok = pkt[9], true
		if binary.BigEndian.Uint16(pkt[6:])&0x1fff != 0 {
			return info // a non-initial fragment: no ports
		}
		if tl := int(binary.BigEndian.Uint16(pkt[2:])); tl < len(pkt) {
			pkt = pkt[:tl] // no ports from past the datagram's end
		}
	case 6:
		if len(pkt) < ipv6HeaderLen {
			return info
		}
		if pl := ipv6HeaderLen + int(binary.BigEndian.Uint16(pkt[4:])); pl < len(pkt) {
			pkt = pkt[:pl] // as for IPv4 (a jumbogram has no ports then)
		}
		nh, off := pkt[6], ipv6HeaderLen
		for i := 0; ; i++ {
			if i == tsMaxExt {
				return info
			}
			if nh == 0 || nh == 43 || nh == 60 {
				if len(pkt) < off+2 {
					return info
				}
				nh, off = pkt[off], off+(int(pkt[off+1])+1)*8
				continue
			}
			if nh == 44 { // fragment header
				if len(pkt) < off+8 {
					return info
				}
				nonInitial := binary.BigEndian.Uint16(pkt[off+2:])&0xfff8 != 0
				nh, off = pkt[off], off+8
				if nonInitial {
					info.proto, info.ok = nh, true
					return info
				}
				continue
			}
			break
		}
		info.proto, info.ok, at = nh, true, off
	default:
		return info
	}
	if at < ipv4HeaderLen || len(pkt) < at+2 {
		return info // no transport header to read
	}
	switch {
	case tsPortProtos[info.proto]:
		if len(pkt) >= at+4 {
			info.srcPort, info.dstPort, info.ports = binary.BigEndian.Uint16(pkt[at:]), binary.BigEndian.Uint16(pkt[at+2:]), true
		}
	case info.proto == protoICMP && pkt[0]>>4 == 4, info.proto == protoICMPv6 && pkt[0]>>4 == 6:
		tc := binary.BigEndian.Uint16(pkt[at:])
		info.srcPort, info.dstPort, info.ports = tc, tc, true
	}
	return info
}

// packetDst is the destination address of the IP packet pkt.
func packetDst(pkt []byte) (netip.Addr, bool) {
	switch {
	case len(pkt) >= ipv4HeaderLen && pkt[0]>>4 == 4:
		return netip.AddrFrom4([4]byte(pkt[16:20])), true
	case len(pkt) >= ipv6HeaderLen && pkt[0]>>4 == 6:
		return netip.AddrFrom16([16]byte(pkt[24:40])), true
	}
	return netip.Addr{}, false
}

// selectorsHold reports whether some selector of ss holds addr, the
// packet's protocol and port (the port of addr's side).
func selectorsHold(ss []fib.Selector, addr netip.Addr, l4 l4Info, port uint16) bool {
	for i := range ss {
		s := &ss[i]
		if !s.Prefix.Contains(addr) {
			continue
		}
		if s.Protocol != 0 && (!l4.ok || s.Protocol != l4.proto) {
			continue
		}
		if s.AnyPort() || (l4.ports && s.StartPort <= port && port <= s.EndPort) {
			return true
		}
	}
	return false
}
