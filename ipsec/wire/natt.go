package wire

// Kind says what a datagram on UDP port 4500 carries (RFC 3948 section 2).
// The zero value is KindMalformed, so a Kind nobody set is never taken for
// ESP.
type Kind uint8

const (
	// KindMalformed: none of the below; drop.
	KindMalformed Kind = iota
	// KindESP: an ESP packet; its first four bytes are the non-zero SPI.
	KindESP
	// KindIKE: an IKE message behind the four-zero-byte non-ESP marker.
	KindIKE
	// KindKeepalive: a NAT-keepalive, the single byte 0xFF, sent to keep a
	// NAT mapping open (RFC 3948 section 2.3). Ignore it.
	KindKeepalive
)

func (k Kind) String() string {
	switch k {
	case KindESP:
		return "ESP"
	case KindIKE:
		return "IKE"
	case KindKeepalive:
		return "NAT-keepalive"
	}
	return "malformed"
}

const (
	// NonESPMarkerLen is the length of the non-ESP marker: four zero bytes
	// where an ESP packet has its SPI (RFC 3948 section 2.2).
	NonESPMarkerLen = 4
	// KeepaliveByte is the whole payload of a NAT-keepalive.
	KeepaliveByte = 0xff
	// ESPHeaderLen is the SPI and sequence number that begin every ESP
	// packet (RFC 4303 section 2).
	ESPHeaderLen = 8
	// IKEHeaderLen is the fixed IKEv2 header (RFC 7296 section 3.1); a
	// message after a non-ESP marker is at least this long.
	IKEHeaderLen = 28
)

// Classify demultiplexes the payload of a UDP datagram received on port
// 4500 (RFC 3948 section 2) and returns what it is with the bytes the next
// stage wants: the whole ESP packet, the IKE message after the marker, or
// the keepalive byte. Besides the RFC's rules, an ESP packet shorter than
// its 8-byte header and an IKE message shorter than its 28-byte header are
// classified malformed, so that neither the ESP nor the IKE parser ever
// sees a fragment of a header. Malformed input returns nil.
func Classify(p []byte) (Kind, []byte) {
	switch {
	case len(p) == 1 && p[0] == KeepaliveByte:
		return KindKeepalive, p
	case len(p) < NonESPMarkerLen:
		return KindMalformed, nil
	case p[0]|p[1]|p[2]|p[3] != 0:
		if len(p) < ESPHeaderLen {
			return KindMalformed, nil
		}
		return KindESP, p
	case len(p) < NonESPMarkerLen+IKEHeaderLen:
		return KindMalformed, nil
	}
	return KindIKE, p[NonESPMarkerLen:]
}

// PutNonESPMarker writes the non-ESP marker into the four bytes before
// buf[off], in front of an outgoing IKE message, and returns the new start.
// Encapsulate the result with UDP: a marker only means something on port
// 4500.
func PutNonESPMarker(buf []byte, off int) (int, error) {
	if off < 0 || off > len(buf) {
		return 0, ErrBounds
	}
	if off < NonESPMarkerLen {
		return 0, ErrHeadroom
	}
	off -= NonESPMarkerLen
	buf[off], buf[off+1], buf[off+2], buf[off+3] = 0, 0, 0, 0
	return off, nil
}
