package mpls

// Just enough of IPv4 and IPv6 to read and rewrite the TTL of the packet
// under a label stack: RFC 3443 copies TTLs between the two headers. A full
// IP header view belongs elsewhere; these helpers are unexported so this
// package does not grow into one.

const (
	ipv4MinHeaderLen = 20
	ipv4TTLOffset    = 8
	ipv4CsumOffset   = 10
	ipv6HeaderLen    = 40
	ipv6HopOffset    = 7
)

// ipTTL returns the IPv4 TTL or IPv6 hop limit of p, or ErrNotIP if p
// does not start with a well-formed IPv4 or IPv6 header: version 4 with
// IHL >= 5 and the whole header present, or version 6 with its 40 bytes.
func ipTTL(p []byte) (uint8, error) {
	if len(p) == 0 {
		return 0, ErrNotIP
	}
	switch p[0] >> 4 {
	case 4:
		ihl := int(p[0]&0x0f) * 4
		if ihl < ipv4MinHeaderLen || len(p) < ihl {
			return 0, ErrNotIP
		}
		return p[ipv4TTLOffset], nil
	case 6:
		if len(p) < ipv6HeaderLen {
			return 0, ErrNotIP
		}
		return p[ipv6HopOffset], nil
	}
	return 0, ErrNotIP
}

// setIPTTL writes ttl into p, which ipTTL has accepted, and for IPv4 fixes
// the header checksum incrementally.
func setIPTTL(p []byte, ttl uint8) {
	if p[0]>>4 == 6 {
		p[ipv6HopOffset] = ttl
		return
	}
	// The TTL shares a 16-bit checksum word with the protocol byte.
	old := uint16(p[ipv4TTLOffset])<<8 | uint16(p[ipv4TTLOffset+1])
	upd := uint16(ttl)<<8 | uint16(p[ipv4TTLOffset+1])
	hc := uint16(p[ipv4CsumOffset])<<8 | uint16(p[ipv4CsumOffset+1])
	hc = checksumUpdate(hc, old, upd)
	p[ipv4TTLOffset] = ttl
	p[ipv4CsumOffset] = byte(hc >> 8)
	p[ipv4CsumOffset+1] = byte(hc)
}

// checksumUpdate returns the Internet checksum hc adjusted for one 16-bit
// word of the summed data changing from old to upd, by RFC 1624 equation
// 3: HC' = ~(~HC + ~m + m'). Starting from a correct checksum over data
// that is not all zeros (an IPv4 header never is) it gives exactly what a
// full recomputation would, without RFC 1141's "negative zero" 0xffff; and
// like every incremental update it leaves a wrong checksum wrong, as a
// router must.
func checksumUpdate(hc, old, upd uint16) uint16 {
	sum := uint32(^hc) + uint32(^old) + uint32(upd)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	return ^uint16(sum)
}
