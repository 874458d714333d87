package mpls

// The three label operations, done in place on caller buffers the way
// wireguard-go writes headers: a packet lives in buf[off:off+n] with free
// headroom in buf[:off], so imposing a label moves off back by four bytes
// and disposing of one moves it forward. No bytes are copied and nothing
// is allocated.
//
//	ingress PE (imposition)         P router          egress PE (disposition)
//	IngressTTL -> Push VPN label    Swap              Pop ... -> EgressTTL
//	           -> Push transport                      (until Bottom)
//
//	buf: [ headroom ...... | transport | VPN label | IP packet ...... ]
//	                       ^ off-8     ^ off-4     ^ off on arrival from the CE

// Push writes a label stack entry into buf[off-EntrySize:off], in front of
// the packet at buf[off:], and returns the packet's new offset, off-4.
// Pass bottom=true for the first label pushed onto an IP packet (the VPN
// label) and false for labels pushed onto an existing stack. ttl usually
// comes from IngressTTL.
//
// Push fails, writing nothing, with ErrBadOffset if off is outside buf,
// ErrNoHeadroom if off < EntrySize, ErrInvalidLabel if l > MaxLabel,
// ErrImplicitNull if l is ImplicitNull and ErrInvalidTC if tc > 7.
func Push(buf []byte, off int, l Label, tc, ttl uint8, bottom bool) (newOff int, err error) {
	switch {
	case off < 0 || off > len(buf):
		return off, ErrBadOffset
	case off < EntrySize:
		return off, ErrNoHeadroom
	case l > MaxLabel:
		return off, ErrInvalidLabel
	case l == ImplicitNull:
		return off, ErrImplicitNull
	case tc > maxTC:
		return off, ErrInvalidTC
	}
	EncodeEntry(buf[off-EntrySize:off], l, tc, bottom, ttl)
	return off - EntrySize, nil
}

// Pop removes the top label stack entry of the packet buf[off:off+n] and
// returns it decoded, with the remaining packet's offset and length
// (off+4, n-4). The bytes are left in place, now headroom. If e.Bottom is
// set the remaining packet is the payload (an IP packet on a PE; see
// EgressTTL), otherwise it starts with the next entry.
//
// Pop fails with ErrBadOffset if off and n do not describe a window of buf
// and ErrTruncated if n < EntrySize; it then returns off and n unchanged.
func Pop(buf []byte, off, n int) (e Entry, newOff, newN int, err error) {
	if off < 0 || n < 0 || off > len(buf) || n > len(buf)-off {
		return Entry{}, off, n, ErrBadOffset
	}
	if n < EntrySize {
		return Entry{}, off, n, ErrTruncated
	}
	return StackEntry(buf[off : off+EntrySize]).Entry(), off + EntrySize, n - EntrySize, nil
}

// Swap replaces the top label of pkt (a packet starting with its label
// stack, such as buf[off:off+n]) with l, keeps its TC and S bits, and
// decrements its TTL, as a label switching router does (RFC 3032 section
// 2.4.1; RFC 3443 decrements on swap in every TTL mode).
//
// Swap fails with ErrTruncated if len(pkt) < EntrySize, ErrInvalidLabel if
// l > MaxLabel, ErrImplicitNull if l is ImplicitNull (pop instead) and
// ErrTTLExpired if the incoming TTL is 0 or 1, so that the outgoing TTL
// would be 0. On failure pkt is unchanged, so an expired packet can still
// be quoted in an ICMP time exceeded message.
func Swap(pkt []byte, l Label) error {
	switch {
	case len(pkt) < EntrySize:
		return ErrTruncated
	case l > MaxLabel:
		return ErrInvalidLabel
	case l == ImplicitNull:
		return ErrImplicitNull
	case pkt[3] <= 1:
		return ErrTTLExpired
	}
	e := StackEntry(pkt[:EntrySize])
	e.SetLabel(l)
	e.SetTTL(e.TTL() - 1)
	return nil
}
