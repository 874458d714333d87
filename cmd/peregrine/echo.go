package main

import (
	"encoding/binary"
	"net/netip"

	"github.com/peregrine-net/peregrine/ipsec/wire"
)

// putEcho writes an IPv4 ICMP echo request from src to dst into b and
// returns its length.
func putEcho(b []byte, src, dst netip.Addr, ttl uint8, data []byte) int {
	icmp := b[wire.IPv4HeaderLen:]
	icmp[0], icmp[1] = 8, 0 // echo request, code 0
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[4:], 0x5047) // identifier "PG"
	binary.BigEndian.PutUint16(icmp[6:], 1)      // sequence
	n := 8 + copy(icmp[8:], data)
	binary.BigEndian.PutUint16(icmp[2:], wire.Checksum(icmp[:n]))
	total := wire.IPv4HeaderLen + n
	_ = wire.PutIPv4(b, wire.IPv4Fields{Src: src, Dst: dst, Protocol: 1, TTL: ttl, PayloadLen: n})
	return total
}
