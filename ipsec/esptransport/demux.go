package esptransport

import (
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// Datagram is what one received datagram carries, as Demux found it.
type Datagram struct {
	// Kind is ESP, IKE, a NAT-keepalive or malformed.
	Kind wire.Kind
	// ESPOff and ESPLen place the ESP packet in the receive buffer
	// (Kind ESP): it is opened there, in place.
	ESPOff, ESPLen int
	// From is the sender; Body the IKE message after the non-ESP
	// marker (Kind IKE), valid until the buffer is reused.
	From netip.AddrPort
	Body []byte
}

// DemuxUDP demultiplexes a datagram received on UDP port 4500,
// buf[off:off+n] from from (RFC 3948 section 2). It allocates nothing.
func DemuxUDP(buf []byte, off, n int, from netip.AddrPort) Datagram {
	kind, body := wire.Classify(buf[off : off+n])
	if kind == wire.KindESP {
		return Datagram{Kind: kind, ESPOff: off, ESPLen: n, From: from}
	}
	return Datagram{Kind: kind, From: from, Body: body}
}

// DemuxIP demultiplexes a whole IP packet carrying ESP, raw or in UDP,
// buf[off:off+n], as a raw IPv4 socket receives it. It allocates nothing.
func DemuxIP(buf []byte, off, n int) Datagram {
	o, body, kind, err := wire.Decapsulate(buf[off : off+n])
	if err != nil {
		return Datagram{Kind: wire.KindMalformed}
	}
	from := netip.AddrPortFrom(o.Src, o.SrcPort)
	if kind == wire.KindESP {
		return Datagram{Kind: kind, ESPOff: off + o.HeaderLen, ESPLen: len(body), From: from}
	}
	return Datagram{Kind: kind, From: from, Body: body}
}

// Demux demultiplexes received message i of m, which sits at
// buf[off:off+n], as s delivers it: UDP payload, whole IPv4 packet or
// (raw IPv6) the ESP packet itself.
func (s *Socket) Demux(m *Batch, i int, buf []byte, off, n int) Datagram {
	switch {
	case s.udp:
		return DemuxUDP(buf, off, n, m.From(i))
	case s.hdrIncluded:
		return DemuxIP(buf, off, n)
	}
	return Datagram{Kind: wire.KindESP, ESPOff: off, ESPLen: n, From: m.From(i)}
}
