package ipsec

import (
	"encoding/binary"
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// The inner packets the golden captures and the tshark harness carry: what
// a CE would send across the VPN. Each is valid enough for tshark to
// dissect down to ICMP and check its checksums.

var (
	innerSrc4 = netip.MustParseAddr("10.1.0.1") // CE-red-1 side
	innerDst4 = netip.MustParseAddr("10.2.0.1") // CE-red-2 side
	innerSrc6 = netip.MustParseAddr("2001:db8:1::1")
	innerDst6 = netip.MustParseAddr("2001:db8:2::1")
)

// icmpData is the echo payload, so the packets are recognisable in a hex
// dump.
var icmpData = []byte("peregrine golden")

const (
	icmpEchoRequest   = 8   // ICMP (RFC 792)
	icmpv6EchoRequest = 128 // ICMPv6 (RFC 4443)
	protoICMP         = 1
	protoICMPv6       = 58
	mplsLabel         = 100 // the VPN label every test packet carries
)

// icmpEcho returns an echo request body: type, code, checksum (left zero),
// identifier, sequence number, data.
func icmpEcho(typ uint8, seq uint16) []byte {
	m := []byte{typ, 0, 0, 0, 0x50, 0x45, 0, 0} // identifier "PE"
	binary.BigEndian.PutUint16(m[6:], seq)
	return append(m, icmpData...)
}

// innerIPv4 is an IPv4 ICMP echo request from innerSrc4 to innerDst4.
func innerIPv4(seq uint16) []byte {
	icmp := icmpEcho(icmpEchoRequest, seq)
	binary.BigEndian.PutUint16(icmp[2:], wire.Checksum(icmp))
	p := make([]byte, wire.IPv4HeaderLen, wire.IPv4HeaderLen+len(icmp))
	err := wire.PutIPv4(p, wire.IPv4Fields{
		Src: innerSrc4, Dst: innerDst4, Protocol: protoICMP,
		PayloadLen: len(icmp), TTL: 64, ID: seq,
	})
	if err != nil {
		panic(err)
	}
	return append(p, icmp...)
}

// innerIPv6 is an ICMPv6 echo request from innerSrc6 to innerDst6. The
// ICMPv6 checksum covers the RFC 8200 section 8.1 pseudo-header.
func innerIPv6(seq uint16) []byte {
	icmp := icmpEcho(icmpv6EchoRequest, seq)
	var ph []byte
	ph = append(ph, innerSrc6.AsSlice()...)
	ph = append(ph, innerDst6.AsSlice()...)
	ph = binary.BigEndian.AppendUint32(ph, uint32(len(icmp)))
	ph = append(ph, 0, 0, 0, protoICMPv6)
	binary.BigEndian.PutUint16(icmp[2:], wire.Checksum(append(ph, icmp...)))
	p := make([]byte, wire.IPv6HeaderLen, wire.IPv6HeaderLen+len(icmp))
	err := wire.PutIPv6(p, wire.IPv6Fields{
		Src: innerSrc6, Dst: innerDst6, NextHeader: protoICMPv6,
		PayloadLen: len(icmp), HopLimit: 64,
	})
	if err != nil {
		panic(err)
	}
	return append(p, icmp...)
}

// innerMPLS is a one-entry label stack (RFC 3032: label 100, TC 0,
// bottom of stack, TTL 64) over innerIPv4(seq): what a PE seals with ESP
// next header 137 (RFC 4023).
func innerMPLS(seq uint16) []byte {
	var lse [4]byte
	binary.BigEndian.PutUint32(lse[:], mplsLabel<<12|1<<8|64)
	return append(lse[:], innerIPv4(seq)...)
}
