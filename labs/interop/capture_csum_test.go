package interop_test

import (
	"encoding/binary"
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// completeOffloadedUDPChecksum handles a capture artefact: tcpdump on a
// veth sees UDP packets whose sender left the checksum to the "hardware"
// (CHECKSUM_PARTIAL), so the field holds only the folded pseudo-header
// sum. For an IPv4 UDP packet carrying exactly that value it returns a copy
// with the checksum completed, so wire.Decapsulate can judge the rest;
// any other packet is returned unchanged (and a genuinely bad checksum
// still fails).
func completeOffloadedUDPChecksum(pkt []byte) []byte {
	if len(pkt) < 28 || pkt[0]>>4 != 4 || pkt[9] != wire.ProtoUDP {
		return pkt
	}
	ihl := int(pkt[0]&0xf) * 4
	if len(pkt) < ihl+8 {
		return pkt
	}
	udpLen := int(binary.BigEndian.Uint16(pkt[ihl+4:]))
	var s uint32
	for i := 12; i < 20; i += 2 {
		s += uint32(binary.BigEndian.Uint16(pkt[i:]))
	}
	s += wire.ProtoUDP + uint32(udpLen)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	if binary.BigEndian.Uint16(pkt[ihl+6:]) != uint16(s) || ihl+udpLen > len(pkt) {
		return pkt
	}
	c := append([]byte(nil), pkt...)
	src, _ := netip.AddrFromSlice(c[12:16])
	dst, _ := netip.AddrFromSlice(c[16:20])
	if wire.UDP(c[ihl:ihl+udpLen]).SetChecksum(src, dst) != nil {
		return pkt
	}
	return c
}
